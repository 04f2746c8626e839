# SCDF on SynthFace at 128x128, CPU-sized and under the same budget as the baseline
# (configs/baselines/td-reg_res18-w32_1xb64-15e_synthface-128x128.py): same backbone (ResNet-18, width 32, from
# scratch), input, data, augmentation, optimiser and schedule; only the head and losses differ. The GCN head
# uses the official 68-point anatomical graph and the relative-location loss; the paper's random-rectangle
# occlusion is added to training. The 4x4 last map gives node features of 4 x 4 x 4 = 64.
_base_ = ['../baselines/td-reg_res18-w32_1xb64-15e_synthface-128x128.py']

model = dict(
    neck=None,
    head=dict(
        _delete_=True,
        type='GCNLandmarkHead',
        in_channels=256,
        num_joints=68,
        in_featuremap_size=(4, 4),
        graph='ibug68_anatomical',
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
