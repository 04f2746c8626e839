# FFLD (CVIU 2020) on SynthFace at 128x128, CPU-sized and under the same budget as the baseline
# (configs/baselines/td-reg_res18-w32_1xb64-15e_synthface-128x128.py): the same backbone (ResNet-18 at width 32,
# from scratch, here ResNetWithStem so that the stem map before max-pooling is returned too), input, data,
# optimiser, schedule and flip test. What differs is FFLD: the baseline's GAP + FC gives S0, then three CropNet
# stages on 8x8 patches of the 3rd (stage 2, 64 x 16 x 16), 2nd (stage 1, 32 x 32 x 32) and 1st (stem before
# max-pool, 64 x 64 x 64) level maps, trained jointly from scratch (no pre-training step: one budget) with the
# multi-loss scheme: inter-ocular-normalised L2 (S0), L2 (S1), L1 (S2), Align Loss (S3, Gaussian removed on a
# plateau by AlignLossSmoothingHook). At 128x128 an 8x8 patch covers twice the share of the face it covers at
# 224x224 (the same patch size as the paper, not the same support).
# Per-stage NME: python tools/test.py CONFIG CKPT --cfg-options model.test_cfg.output_stage=0 (1, 2, 3).
_base_ = ['../baselines/td-reg_res18-w32_1xb64-15e_synthface-128x128.py']

custom_hooks = [dict(type='AlignLossSmoothingHook', loss_key='loss_s3')]

model = dict(
    backbone=dict(_delete_=True, type='ResNetWithStem', depth=18, base_channels=32, out_indices=(0, 1, 3),
                  init_cfg=None),
    neck=None,
    head=dict(
        _delete_=True,
        type='CropNetHead',
        num_joints=68,
        coarse_head=dict(type='RegressionHead', in_channels=256),
        coarse_neck=dict(type='GlobalAveragePooling'),
        stages=[dict(in_index=2, in_channels=64),                        # 3rd level, 16x16
                dict(in_index=1, in_channels=32),                        # 2nd level, 32x32
                dict(in_index=0, in_channels=64)],                       # 1st level, 64x64
        cropnet=dict(type='CropNet', patch_size=8, selected_channels=4, channel_selection='grouped',
                     mid_channels=128),
        coarse_loss=dict(type='NormalizedL2Loss', norm_indices=(36, 45)),
        stage_losses=[dict(type='MSELoss'), dict(type='L1Loss'), dict(type='AlignLoss')],
        align_source='selected',
        decoder={{_base_.codec}}))
