# ODN ablation, paper Table 4 (NRMSE on 300W challenging, ResNet-18): BRNet + GM + LM, no distillation module (paper 6.90)
# The baseline's last residual unit (DM's Pathway-C without its gate) stays beside GM (neck.residual_without_dm,
# default True); residual_without_dm=False puts GM alone in that unit's place, as earlier versions did.
# Everything else is td-odn_res18_1xb64-210e_300w-224x224.py (the full model, paper 6.67).
_base_ = ['../td-odn_res18_1xb64-210e_300w-224x224.py']

model = dict(neck=dict(use_dm=False))
