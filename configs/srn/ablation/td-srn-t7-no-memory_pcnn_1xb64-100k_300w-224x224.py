# SRN ablation (paper Table 7, tested on Masked 300W): the HSRM without one of its parts, here use_memory=False
# (configs/srn/README.md says what removing each part feeds the next level). Train as the 300W config, then test
# with the masked-300W test set: python tools/test.py configs/srn/td-srn_pcnn_1xb64-100k_300w-224x224_masked.py
# <checkpoint> --cfg-options model.head.hsrm.use_memory=False
_base_ = ['../td-srn_pcnn_1xb64-100k_300w-224x224.py']

model = dict(head=dict(hsrm=dict(use_memory=False)))
