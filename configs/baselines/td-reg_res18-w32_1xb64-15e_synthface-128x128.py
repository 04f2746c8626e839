# Baseline: MMPose's DeepPose-style regression (ResNet-18 + global average pooling + RegressionHead) with
# Soft Wing loss, trained from scratch on SynthFace at 128x128 on one device.
# CPU-sized: ResNet-18 at half width (base_channels=32, 2.8M backbone parameters; 85 images/s for a training
# step on 2 CPU cores against 36 at full width) for 15 epochs of the 2000-face train split, so that
# `bash tools/quickstart.sh` trains it in about 7 minutes. On a GPU, try base_channels=64 and more epochs.
_base_ = ['mmpose::_base_/default_runtime.py', '../_base_/data/synthface_128x128.py']
custom_imports = dict(imports=['mmfacealign'], allow_failed_imports=False)

# runtime
# exact resume (tools/train.py CONFIG --resume; README, "Resuming after a crash"): ResumableEpochBasedTrainLoop skips
# the batches a mid-epoch checkpoint has trained on, AtomicCheckpointHook never leaves a half-written checkpoint;
# type='EpochBasedTrainLoop' / 'CheckpointHook' give mmengine's own
train_cfg = dict(_delete_=True, type='ResumableEpochBasedTrainLoop', max_epochs=15, val_interval=5)
optim_wrapper = dict(optimizer=dict(type='Adam', lr=2e-3))
param_scheduler = [
    dict(type='LinearLR', begin=0, end=100, start_factor=0.01, by_epoch=False),
    dict(type='MultiStepLR', begin=0, end=15, milestones=[10, 13], gamma=0.2, by_epoch=True),
]
auto_scale_lr = dict(base_batch_size=64)
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(type='AtomicCheckpointHook', save_best='NME', rule='less', max_keep_ckpts=1, interval=5),
    non_finite_loss=dict(type='NonFiniteLossHook'))   # stop at a NaN/Inf loss, naming the batch's images
visualizer = dict(type='FaceAlignmentVisualizer', vis_backends=[dict(type='LocalVisBackend')], name='visualizer')

# model
model = dict(
    type='TopdownPoseEstimator',
    data_preprocessor=dict(
        type='PoseDataPreprocessor', mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True),
    backbone=dict(type='ResNet', depth=18, base_channels=32, init_cfg=None),  # from scratch: nothing downloaded
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='RegressionHead',
        in_channels=256,
        num_joints=68,
        # Soft Wing (Lin et al., TIP 2021) at the paper's scale: omega1 = 2, omega2 = 20, epsilon = 0.5 pixels of
        # a 256 input, written in RegressionLabel's normalised coordinates (divided by 256). With MMPose's
        # defaults (2, 20, 0.5 in normalised units) Soft Wing would reduce to plain L1.
        loss=dict(type='SoftWingLoss', omega1=2 / 256, omega2=20 / 256, epsilon=0.5 / 256,
                  use_target_weight=True, loss_weight=1.0),
        decoder=_base_.codec),
    test_cfg=dict(flip_test=True, shift_coords=True))
