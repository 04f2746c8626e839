# FFLD step 1 on aflw: the baseline without refinement stages (see td-ffld-base_res18-25_1xb64-400e_300w-224x224.py);
# its checkpoint loads into td-ffld_res18-25_1xb64-400e_aflw-224x224.py with --cfg-options load_from=...
_base_ = ['./td-ffld_res18-25_1xb64-400e_aflw-224x224.py']

model = dict(head=dict(stages=[], stage_losses=[]))
custom_hooks = []
