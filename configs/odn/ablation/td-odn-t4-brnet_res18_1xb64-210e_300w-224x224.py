# ODN ablation, paper Table 4 (NRMSE on 300W challenging, ResNet-18): the baseline ResNet-18 (BRNet) with the same down-sampling and FC, no GM, DM or LM (paper 7.21)
# Everything else is td-odn_res18_1xb64-210e_300w-224x224.py (the full model, paper 6.67).
_base_ = ['../td-odn_res18_1xb64-210e_300w-224x224.py']

model = dict(neck=dict(use_gm=False, use_dm=False), head=dict(low_rank=None))
