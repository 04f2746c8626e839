# FFLD ablation, paper Table 5 (multi-loss, 300W full NME, ResNet-18): 3 stages, L1 / L1 / L1 (paper: 3.76)
# Everything else is td-ffld_res18-25_1xb64-400e_300w-224x224.py (train it from the same baseline checkpoint).
_base_ = ['../td-ffld_res18-25_1xb64-400e_300w-224x224.py']

model = dict(head=dict(
    stage_losses=[dict(type='L1Loss'), dict(type='L1Loss'), dict(type='L1Loss')]))
