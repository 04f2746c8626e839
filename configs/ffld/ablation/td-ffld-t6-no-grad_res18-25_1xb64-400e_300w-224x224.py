# FFLD ablation, paper Table 6 (gradient back-propagation, 300W full NME, ResNet-18): neither the gradient to the low-
# level maps nor to the crop locations (paper: 3.78)
# detach_centres=True: a stage's losses reach no earlier stage through the location it refines (neither the crop
# grid nor the skip S_t = S_{t-1} + dS_t); detach_centres='grid' would cut the crop grid only.
# The full model (both gradients, paper 3.66) is td-ffld_res18-25_1xb64-400e_300w-224x224.py.
_base_ = ['../td-ffld_res18-25_1xb64-400e_300w-224x224.py']

model = dict(head=dict(cropnet=dict(detach_feature=True, detach_centres=True)))
