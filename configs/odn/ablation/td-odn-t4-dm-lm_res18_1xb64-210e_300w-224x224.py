# ODN ablation, paper Table 4 (NRMSE on 300W challenging, ResNet-18): BRNet + DM + LM, no geometry-aware module (paper 6.88)
# Everything else is td-odn_res18_1xb64-210e_300w-224x224.py (the full model, paper 6.67).
_base_ = ['../td-odn_res18_1xb64-210e_300w-224x224.py']

model = dict(neck=dict(use_gm=False))
