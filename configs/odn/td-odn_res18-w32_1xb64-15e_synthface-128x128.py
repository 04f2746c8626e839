# ODN (CVPR 2019) on SynthFace at 128x128, CPU-sized and under the same budget as the baseline
# (configs/baselines/td-reg_res18-w32_1xb64-15e_synthface-128x128.py): the same ResNet-18 at width 32 from scratch
# (here without its last residual unit, whose place the ODN modules take), input, data, schedule, learning rate and
# flip test. What differs is ODN: GM and DM in parallel on the 256 x 4 x 4 map, down-sampling to 32 x 4 x 4 = 512,
# the low-rank module M (512 x 512) and the FC; ODN's objective (L2 + nuclear norm + Frobenius norm of M + L1 of
# the distillation map; alpha, lambda as weight decay). The Table 4 variants are the same config with modules
# switched off (configs/odn/README.md lists the --cfg-options; tools/benchmarks/odn_synthface_ablation.sh runs them).
#
# Deviations from the paper's recipe (beyond those of the 300W config, td-odn_res18_1xb64-210e_300w-224x224.py):
#   - from scratch, width 32 (the last map has 256 channels, not 512), 128x128 input, 15 epochs, Adam 2e-3, flip
#     test: the SynthFace baseline's settings, so that the two compare under one budget;
#   - the last map is 4 x 4, so the 4 x 4 pooling after the 1x1 reduction does no spatial down-sampling;
#   - the L2 term supervises every landmark (use_target_weight=False, as the 300W config) while the baseline's Soft
#     Wing drops the landmarks that the augmentation pushes outside the crop;
#   - the baseline has no weight decay; here conv and FC weights decay with 2 alpha = 2 lambda = 2e-5.
_base_ = ['../baselines/td-reg_res18-w32_1xb64-15e_synthface-128x128.py']

# Eq. 3's alpha ||W_c||_F^2 + lambda ||W_fc||_F^2 as weight decay (its gradient is 2 alpha W): the optimiser's
# weight_decay is 2 alpha on the conv weights, the FC weight's decay_mult is lambda / alpha; BN, biases and M (which
# has its own gamma term in the loss) get none
odn_alpha, odn_lambda = 1e-5, 1e-5
optim_wrapper = dict(
    optimizer=dict(type='Adam', lr=2e-3, weight_decay=2 * odn_alpha),
    paramwise_cfg=dict(
        norm_decay_mult=0., bias_decay_mult=0.,
        custom_keys={'head.low_rank': dict(decay_mult=0.), 'head.fc.weight': dict(decay_mult=odn_lambda / odn_alpha)}))

model = dict(
    backbone=dict(_delete_=True, type='TruncatedResNet', depth=18, base_channels=32, num_removed_blocks=1,
                  init_cfg=None),
    neck=dict(
        _delete_=True, type='OcclusionAdaptiveNeck', in_channels=256, use_gm=True, use_dm=True,
        gm=dict(mid_channels=128, product_channels=256, out_channels=256), dm=dict(mid_channels=32, gate_init='conv'),  # gate as the README's run (paper: none)
        reduce_channels=32, pool_size=4),
    head=dict(
        _delete_=True,
        type='LowRankRegressionHead',
        in_features=512,
        num_joints=68,
        low_rank=dict(type='LowRankModule', init='identity'),
        loss=dict(type='NormalizedL2Loss', norm_indices=None),
        nuclear_loss=dict(type='NuclearNormLoss', loss_weight=1e-6),
        frobenius_loss=dict(type='FrobeniusNormLoss', loss_weight=1e-5),
        map_loss=dict(type='MapL1Loss', loss_weight=1e-6),
        decoder={{_base_.codec}}))
