# FFLD ablation, paper Table 5 (multi-loss, 300W full NME, ResNet-18): 3 stages, L2 / L2 / L2 (paper: 3.81)
# Everything else is td-ffld_res18-25_1xb64-400e_300w-224x224.py (train it from the same baseline checkpoint).
_base_ = ['../td-ffld_res18-25_1xb64-400e_300w-224x224.py']

model = dict(head=dict(
    stage_losses=[dict(type='MSELoss'), dict(type='MSELoss'), dict(type='MSELoss')]))
