# SRN (Zhu, Li, Li, Dai, Tong; Pattern Recognition 2022) on 300W (68 points): no backbone (ImagePassThrough hands the
# normalised 224x224 crop to the head); the SRNHead starts from the training mean shape (MeanShapeHook) and runs 3
# cascade iterations with shared weights: 36x36 patches around every landmark, the patch CNN (7x7/32, 3x3/64, 3x3/64,
# valid padding, 2x2 pooling: 256 per patch), a non-local block over all 68 x 4 patch positions, the HSRM (level 1:
# ocular / snout / cheek, tanh FC 512; Elman RNN 512 carried across iterations; level 2: six component FCs 256; level 3:
# per-landmark outputs; final FC 68 -> 136), shape update; loss: inter-ocular point-to-point NME summed over the
# iterations (Eq. 8). 20,834,028 parameters (official code: 20.83M). Official training recipe (train.py of github
# zhuccly/SRN, deleted in commit 6582840: git show 6582840^:train.py): Adam 5e-4 x0.95 every 1000 steps, batch 64, 100k
# steps, EMA 0.9999 of the weights for evaluation, mirror, rotation N(0, 10 deg) with p 0.5, colour distortion,
# uniform-noise 48x48 patch on a random landmark for every face. Test: common and challenge in one run (full = both),
# NME by the outer eye corners.
#
# Deviations from the official code (each a config value):
#   - the box: MMPose's GetBBoxCenterScale (x1.25) crop with RandomBBoxTransform jitter instead of the official
#     "bbox diagonal = 198 px, random 198 crop of 224" (train) and "diagonal = 224" (test): the official 13%
#     train/test scale mismatch is not reproduced; no PCA-perturbed synthetic boxes (the box jitter stands in);
#   - the non-local block is mmcv's NonLocal2d (embedded Gaussian, softmax(theta^T phi) without mmcv's optional
#     1/sqrt(C), as the official code; no ReLU on theta / phi / g / W_z, output conv zero-initialised) instead of
#     the official ReLU'd slim convolutions, a raw reshape of phi and a division by B * 68 * 2 * 2 * 64 (1,114,112
#     at batch 64, a batch-size-dependent factor); mode='dot_product' is the paper text's variant (divide by the
#     number of positions);
#   - patches are cropped by bilinear sampling (crop_patches) instead of the official nearest-pixel op; positions
#     carry no gradient (detach_centres=True), as in the official op;
#   - colour: MMPose's PhotometricDistortion (brightness 32, contrast and saturation 0.5-1.5, hue +-36 of 180), each
#     operation with p 0.5 (official: always); no Gaussian pixel noise (sigma 0.1); ImageNet normalisation;
#   - rotation: MMPose's normal truncated at +-1 sigma (rotate_factor 10: within +-10 deg, sigma about 5.4 deg)
#     instead of N(0, 10 deg), p 0.5; MMPose's box shift (0.06, p 0.3) and scale (+-10%) jitter stand in for the
#     official 198-of-224 random crop;
#   - (not a deviation) HSRM FC layers and the patch CNN use the official truncated normal (std 0.01, biases 0) and
#     the HSRM's update is in input pixels (head delta_unit='pixels'); hsrm fc_init='pytorch' with
#     delta_unit='normalised' is the earlier reading of this package;
#   - patch borders: bilinear crops read zeros outside the image (the official op clamps to the edge pixels), and
#     a 36-px patch samples offsets -17.5 .. 17.5 around the landmark (official integer grid -18 .. 17);
#   - order: the 48x48 noise patch is pasted after PhotometricDistortion (the official code pastes it before the
#     colour jitter, so the noise is jittered too);
#   - flip test averages the flipped prediction, as the official evaluation does.
_base_ = ['mmpose::_base_/default_runtime.py', '../_base_/data/300w_224x224.py']
custom_imports = dict(imports=['mmfacealign'], allow_failed_imports=False)

# runtime: 100k iterations of batch 64
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=100000, val_interval=5000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(optimizer=dict(type='Adam', lr=5e-4))
param_scheduler = [dict(type='StepLR', step_size=1000, gamma=0.95, by_epoch=False)]   # x0.95 per 1000 steps
auto_scale_lr = dict(base_batch_size=64)
default_hooks = dict(
    logger=dict(interval=50),
    checkpoint=dict(by_epoch=False, interval=5000, save_best='NME', rule='less', max_keep_ckpts=1),
    non_finite_loss=dict(type='NonFiniteLossHook'))   # stop at a NaN/Inf loss, naming the batch's images
log_processor = dict(by_epoch=False)
custom_hooks = [
    dict(type='MeanShapeHook'),                                   # the cascade's initial shape
    # EMA of the weights, evaluated (official decay 0.9999); buffers (the mean shape) are copied, not averaged
    # the decay ramps up as the official code's (TensorFlow's num_updates): min(0.9999, (1 + n) / (10 + n));
    # ema_type='ExponentialMovingAverage' is mmengine's fixed decay
    dict(type='EMAHook', ema_type='WarmupExponentialMovingAverage', momentum=1e-4, update_buffers=False),
]

input_size = (224, 224)
codec = dict(type='RegressionLabel', input_size=input_size)

model = dict(
    type='TopdownPoseEstimator',
    data_preprocessor=dict(
        type='PoseDataPreprocessor', mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True),
    backbone=dict(type='ImagePassThrough'),
    head=dict(
        type='SRNHead',
        num_joints=68,
        num_iterations=3,
        patch_size=36,
        patch_cnn=dict(type='PatchCNN', channels=(32, 64, 64), kernel_sizes=(7, 3, 3), init_std=0.01),
        # mode: 'embedded_gaussian' (official: softmax(theta^T phi), no scale) | 'dot_product' (paper's text)
        non_local=dict(type='NonLocal2d', reduction=1, use_scale=False, mode='embedded_gaussian'),
        hsrm=dict(type='HierarchicalStructuralRelation', region_channels=512, hidden_channels=512,
                  component_channels=256),
        loss=dict(type='CascadeNMELoss', norm_indices='auto'),
        decoder=codec),
    test_cfg=dict(flip_test=True, shift_coords=True))

# data: configs/_base_/data/300w_224x224.py; the training augmentation is this method's
train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='RandomFlip', direction='horizontal'),
    dict(type='RandomBBoxTransform', shift_factor=0.06, scale_factor=(0.9, 1.1), rotate_factor=10, rotate_prob=0.5),
    dict(type='TopdownAffine', input_size=input_size),
    dict(type='PhotometricDistortion', brightness_delta=32, contrast_range=(0.5, 1.5), saturation_range=(0.5, 1.5),
         hue_delta=36),
    dict(type='RandomNoisePatchOcclusion', prob=1.0, patch_size=48, border=50, ref_size=224),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs', meta_keys=_base_.meta_keys),
]
train_dataloader = dict(sampler=dict(type='InfiniteSampler', shuffle=True), dataset=dict(pipeline=train_pipeline))
