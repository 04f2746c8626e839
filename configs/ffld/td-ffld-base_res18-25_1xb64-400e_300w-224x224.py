# FFLD step 1 on 300W: the baseline coordinate-regression model (ResNet18-25% + global pooling + FC, trained with
# the inter-ocular-normalised L2 of Eq. 1) that the 3-stage model is trained from (paper Sec. 3.1, 6.6; see
# td-ffld_res18-25_1xb64-400e_300w-224x224.py for step 2). It is CropNetHead without refinement stages, so its
# checkpoint loads into the 3-stage model as it is (`--cfg-options load_from=...`). Also the reference "same
# network without refinement" of the speed targets (configs/ffld/README.md).
# Deviation: the paper pre-trains on 300W-LP for 80 epochs then on 300W for 350 with lr 1e-4 (x0.3 every 50);
# here the baseline uses the FFLD step's schedule on 300W only (300W-LP is not set up in this project).
_base_ = ['./td-ffld_res18-25_1xb64-400e_300w-224x224.py']

model = dict(head=dict(stages=[], stage_losses=[]))
custom_hooks = []
