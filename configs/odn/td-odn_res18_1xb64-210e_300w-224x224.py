# ODN (Zhu, Shi, Zheng, Sadiq, CVPR 2019) on 300W (68 points): ResNet-18 (ImageNet-pretrained) whose last residual
# unit is replaced by the geometry-aware module (GM) and the distillation module (DM) in parallel, their
# concatenation down-sampled to a 512-d vector, the low-rank learning module (M, 512 x 512) and an FC regressor;
# objective Eq. 3: L2 on the landmarks + beta ||M||_* (1e-6) + gamma ||M||_F^2 (1e-5) + eta ||P||_1 (1e-6), with
# alpha = lambda = 1e-5 on the conv and FC weights as weight decay (2 alpha = 2e-5); 224x224 crops with rotation,
# scale, translation and flip augmentation (paper Sec. 3-5).
# Test: common and challenge subsets in one run, full = both (NRMSE = inter-ocular NME, outer eye corners).
#
# No public code exists; what the paper leaves open (each a config value, see configs/odn/README.md):
#   - layer widths: Pathway-A/B 1x1 -> 128, 3x3 / 5x5, 1x1 -> 256, per-channel product, 1x1 -> 512; Pathway-D
#     (the "fewer kernels") 32; Pathway-C a BasicBlock 512 -> 512, initialised (like BRNet's plain unit) from the
#     ImageNet weights of the unit it replaces; GM, Pathway-D, the reduction, M and the FC from scratch;
#   - the "outer product of the corresponding channel" read as the per-channel matrix product A_c @ B_c;
#   - down-sampling: 1x1 conv to 32 channels, average pooling to 4x4 (d = 512, a tractable M);
#   - M initialised to the identity; the L2 term on normalised coordinates (RegressionLabel's), where the
#     paper's coefficients weigh the most (still little: see the README); the L1 term on sigmoid(P);
#   - optimiser and schedule (not in the paper): MMPose's regression recipe, Adam 5e-4, 210 epochs, x0.1 at 170
#     and 200, batch 64.
# Deviations: MMPose's box crop (x1.25) and truncated-normal jitter (the paper gives no ranges); ImageNet
# normalisation; no flip test. The L2 term supervises all 2N coordinates, also of landmarks the augmentation pushes
# out of the crop (the paper's L2 has no weights; loss.use_target_weight=True drops them, as MMPose's heads do).
# Checkpoints are selected on the test sets (300W has no other validation split, as in MMPose's 300W configs); set
# default_hooks.checkpoint.save_best=None to report the last epoch instead.
_base_ = ['mmpose::_base_/default_runtime.py', '../_base_/data/300w_224x224.py']
custom_imports = dict(imports=['mmfacealign'], allow_failed_imports=False)

# runtime
max_epochs = 210
train_cfg = dict(max_epochs=max_epochs, val_interval=10)
# Eq. 3's alpha ||W_c||_F^2 + lambda ||W_fc||_F^2 as weight decay (its gradient is 2 alpha W): the optimiser's
# weight_decay is 2 alpha on the conv weights, the FC weight's decay_mult is lambda / alpha; BN, biases and M (which
# has its own gamma term in the loss) get none
odn_alpha, odn_lambda = 1e-5, 1e-5
optim_wrapper = dict(
    optimizer=dict(type='Adam', lr=5e-4, weight_decay=2 * odn_alpha),
    paramwise_cfg=dict(
        norm_decay_mult=0., bias_decay_mult=0.,
        custom_keys={'head.low_rank': dict(decay_mult=0.), 'head.fc.weight': dict(decay_mult=odn_lambda / odn_alpha)}))
param_scheduler = [
    dict(type='LinearLR', begin=0, end=500, start_factor=0.001, by_epoch=False),
    dict(type='MultiStepLR', begin=0, end=max_epochs, milestones=[170, 200], gamma=0.1, by_epoch=True),
]
auto_scale_lr = dict(base_batch_size=64)
default_hooks = dict(checkpoint=dict(save_best='NME', rule='less', interval=10, max_keep_ckpts=1),
                     non_finite_loss=dict(type='NonFiniteLossHook'))   # stop at a NaN/Inf loss, naming the images

input_size = (224, 224)
codec = dict(type='RegressionLabel', input_size=input_size)

# model
model = dict(
    type='TopdownPoseEstimator',
    data_preprocessor=dict(
        type='PoseDataPreprocessor', mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True),
    # ResNet-18 without its last residual unit (512 x 7 x 7 out); ImageNet weights
    backbone=dict(type='TruncatedResNet', depth=18, num_removed_blocks=1,
                  init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet18')),
    neck=dict(
        type='OcclusionAdaptiveNeck', in_channels=512, use_gm=True, use_dm=True,
        gm=dict(mid_channels=128, product_channels=256, out_channels=512), dm=dict(mid_channels=32),
        reduce_channels=32, pool_size=4,
        # the residual block in the removed unit's place (DM's Pathway-C; BRNet's plain unit) starts from it
        residual_init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet18', prefix='layer4.1.')),
    head=dict(
        type='LowRankRegressionHead',
        in_features=512,                                     # 32 x 4 x 4
        num_joints=68,
        low_rank=dict(type='LowRankModule', init='identity'),
        loss=dict(type='NormalizedL2Loss', norm_indices=None),
        loss_space='normalised',
        nuclear_loss=dict(type='NuclearNormLoss', loss_weight=1e-6),       # beta
        frobenius_loss=dict(type='FrobeniusNormLoss', loss_weight=1e-5),   # gamma
        map_loss=dict(type='MapL1Loss', loss_weight=1e-6),                 # eta
        map_l1_on='probability',
        decoder=codec),
    test_cfg=dict(flip_test=False))

# data: configs/_base_/data/300w_224x224.py; the training augmentation is this method's
train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='RandomFlip', direction='horizontal'),
    dict(type='RandomBBoxTransform', shift_factor=0.1, scale_factor=(0.75, 1.25), rotate_factor=30),
    dict(type='TopdownAffine', input_size=input_size),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs', meta_keys=_base_.meta_keys),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
