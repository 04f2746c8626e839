# SRN ablation (paper Table 8, tested on Masked 300W): without the non-local block. Train as the 300W config, then
# test on masked 300W: python tools/test.py configs/srn/td-srn_pcnn_1xb64-100k_300w-224x224_masked.py <checkpoint>
# --cfg-options model.head.non_local=None
_base_ = ['../td-srn_pcnn_1xb64-100k_300w-224x224.py']

model = dict(head=dict(non_local=None))
