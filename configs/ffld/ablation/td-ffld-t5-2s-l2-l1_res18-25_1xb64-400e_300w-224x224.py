# FFLD ablation, paper Table 5 (multi-loss, 300W full NME, ResNet-18): 2 refinement stages (3rd, 2nd level), L2 / L1
# (paper: 3.77)
# Everything else is td-ffld_res18-25_1xb64-400e_300w-224x224.py (train it from the same baseline checkpoint).
_base_ = ['../td-ffld_res18-25_1xb64-400e_300w-224x224.py']

model = dict(
    head=dict(
        stages=[dict(in_index=2, in_channels=32), dict(in_index=1, in_channels=16)],
        stage_losses=[dict(type='MSELoss'), dict(type='L1Loss')]))
custom_hooks = []   # no stage 3, no Align Loss to watch
