# SCDF on SynthFace at 128x128, CPU-sized and under the same budget as the baseline
# (configs/baselines/td-reg_res18-w32_1xb64-15e_synthface-128x128.py): same backbone (ResNet-18, width 32, from
# scratch), input, data, optimiser and schedule. What differs is SCDF's recipe: the GCN head (official 68-point
# anatomical graph), its losses (Soft Wing + relative location), the paper's random-rectangle occlusion
# augmentation and gradient clipping. The 4x4 last map gives node features of 4 x 4 x 4 = 64.
# Gradients are clipped (max norm 5): on this short from-scratch schedule a few samples otherwise drive the
# graph network's pixel outputs far off (measured: validation NME 0.97 vs 0.19 after 96 iterations with it).
_base_ = ['../baselines/td-reg_res18-w32_1xb64-15e_synthface-128x128.py']

optim_wrapper = dict(clip_grad=dict(max_norm=5.0))

model = dict(
    neck=None,
    head=dict(
        _delete_=True,
        type='GCNLandmarkHead',
        in_channels=256,
        num_joints=68,
        in_featuremap_size=(4, 4),
        graph='ibug68_anatomical',
        # the paper's Soft Wing parameters (2, 20, 0.5 px of a 256 input) scaled to the 128 input, as the
        # baseline's are, so that both compare the same relative thresholds
        # official defaults otherwise: all 2N coordinates supervised, directed neighbour rows, stacked-tensor init
        loss=dict(type='MeanSoftWingLoss', omega1=1.0, omega2=10.0, epsilon=0.25),
        relative_loss=dict(type='RelativeLocationLoss',
                           loss=dict(type='MeanSoftWingLoss', omega1=1.0, omega2=10.0, epsilon=0.25)),
        decoder={{_base_.codec}}))

train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='RandomFlip', direction='horizontal'),
    dict(type='RandomBBoxTransform', shift_prob=0.3, shift_factor=0.05, rotate_factor=20,
         scale_factor=(0.85, 1.15)),
    dict(type='TopdownAffine', input_size={{_base_.input_size}}),
    dict(type='RandomRectangleOcclusion', prob=0.5, area_ratio=0.2, aspect_range=(0.4, 2.5)),
    dict(type='GenerateTarget', encoder={{_base_.codec}}),
    dict(type='PackPoseInputs', meta_keys={{_base_.meta_keys}}),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
