# SRN (Zhu et al., Pattern Recognition 2022) on SynthFace at 128x128, CPU-sized, under the SynthFace baseline's
# data, input, flip test and schedule (configs/baselines/td-reg_res18-w32_1xb64-15e_synthface-128x128.py).
# SRN has no backbone: the ImagePassThrough backbone hands the normalised image to the SRNHead, whose 3 cascade
# iterations (weights shared) crop a patch around every landmark, encode it with the patch CNN, relate all patch
# positions with the non-local block and update the shape with the HSRM (3 levels + RNN memory); the loss sums the
# inter-ocular-normalised point-to-point error of every iteration (Eq. 8). The cascade starts from the training
# mean shape, which MeanShapeHook computes before training (and the checkpoint keeps).
#
# Deviations from the official recipe (td-srn_pcnn_1xb64-100k_300w-224x224.py holds the official sizes), all for
# a CPU budget: the official patch CNN on 68 x 3 patches of 36 x 36 costs about 1.6 GMAC per face, ten times the
# baseline's ResNet-18-w32; here 24 x 24 patches (at 128 input: 19% of the crop width, official 36 / 224 = 16%),
# 5x5/16, 3x3/32, 3x3/32 convolutions (32 values per patch), HSRM widths 256 / 256 / 128 (official 512 / 512 /
# 256): 0.16 GMAC per face, about the baseline's. Adam at the official 5e-4 (the baseline uses 2e-3) under the
# baseline's warm-up and steps; 15 epochs; no colour distortion, EMA or PCA-perturbed boxes (MMPose's box jitter
# instead, as in the baseline). Noise-patch occlusion on every training face, as the official code.
_base_ = ['../baselines/td-reg_res18-w32_1xb64-15e_synthface-128x128.py']

optim_wrapper = dict(optimizer=dict(type='Adam', lr=5e-4))
custom_hooks = [dict(type='MeanShapeHook')]

model = dict(
    backbone=dict(_delete_=True, type='ImagePassThrough'),
    neck=None,
    head=dict(
        _delete_=True,
        type='SRNHead',
        num_joints=68,
        num_iterations=3,
        patch_size=24,
        patch_cnn=dict(type='PatchCNN', channels=(16, 32, 32), kernel_sizes=(5, 3, 3)),
        # mode: 'embedded_gaussian' (official: softmax(theta^T phi), no scale) | 'dot_product' (paper's text)
        non_local=dict(type='NonLocal2d', reduction=1, use_scale=False, mode='embedded_gaussian'),
        # CPU budget (15 epochs): the earlier reading of this package (PyTorch FC init, normalised updates), under
        # which the README's SynthFace row was trained; the 300W config has the official init and pixel updates
        delta_unit='normalised',
        hsrm=dict(type='HierarchicalStructuralRelation', fc_init='pytorch', region_channels=256, hidden_channels=256,
                  component_channels=128),
        loss=dict(type='CascadeNMELoss'),
        decoder={{_base_.codec}}))

train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='RandomFlip', direction='horizontal'),
    dict(type='RandomBBoxTransform', shift_prob=0.3, shift_factor=0.05, rotate_factor=20,
         scale_factor=(0.85, 1.15)),
    dict(type='TopdownAffine', input_size={{_base_.input_size}}),
    dict(type='RandomNoisePatchOcclusion', prob=1.0, patch_size=48, border=50, ref_size=224),
    dict(type='GenerateTarget', encoder={{_base_.codec}}),
    dict(type='PackPoseInputs', meta_keys={{_base_.meta_keys}}),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
