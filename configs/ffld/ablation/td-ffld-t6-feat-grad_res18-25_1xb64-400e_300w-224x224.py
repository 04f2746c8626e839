# FFLD ablation, paper Table 6 (gradient back-propagation, 300W full NME, ResNet-18): gradient to the low-level maps
# only (paper: 3.69)
# The full model (both gradients, paper 3.66) is td-ffld_res18-25_1xb64-400e_300w-224x224.py.
_base_ = ['../td-ffld_res18-25_1xb64-400e_300w-224x224.py']

model = dict(head=dict(cropnet=dict(detach_feature=False, detach_centres=True)))
