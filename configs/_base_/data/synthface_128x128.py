# SynthFace data settings shared by the SynthFace configs of mmfacealign: 128x128 top-down crops, coordinates
# encoded by MMPose's RegressionLabel (normalised to [0, 1] by the input size). A config needing another codec
# overrides `codec` and both pipelines.
#
# Generate the data first (the README's quick-start does it for you):
#   python tools/misc/generate_synthface.py --out-dir data/synthface
# Validation (checkpoint selection) uses the val split; testing evaluates test, test_occluded and test_masked in
# one run.
dataset_type = 'SynthFaceDataset'
data_mode = 'topdown'
data_root = 'data/synthface/'
input_size = (128, 128)
codec = dict(type='RegressionLabel', input_size=input_size)

# 'keypoints_occluded' and 'subset' carry SynthFace's occlusion flags and split tags to the metric
meta_keys = ('id', 'img_id', 'img_path', 'category_id', 'crowd_index', 'ori_shape', 'img_shape', 'input_size',
             'input_center', 'input_scale', 'flip', 'flip_direction', 'flip_indices', 'raw_ann_info',
             'dataset_name', 'keypoints_occluded', 'subset')

train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='RandomFlip', direction='horizontal'),
    dict(type='RandomBBoxTransform', shift_prob=0.3, shift_factor=0.05, rotate_factor=20,
         scale_factor=(0.85, 1.15)),
    dict(type='TopdownAffine', input_size=input_size),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs', meta_keys=meta_keys),
]
val_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='TopdownAffine', input_size=input_size),
    dict(type='PackPoseInputs', meta_keys=meta_keys),
]

# SeededAugmentSampler: DefaultSampler whose samples are augmented from (seed, epoch, index), the same in any worker
# and after a resume (mmfacealign/datasets/samplers.py); type='DefaultSampler' gives mmengine's global random stream
train_dataloader = dict(
    batch_size=64,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='SeededAugmentSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_mode=data_mode,
        ann_file='annotations/synthface_train.json',
        data_prefix=dict(img='images/'),
        pipeline=train_pipeline,
    ))
val_dataloader = dict(
    batch_size=64,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_mode=data_mode,
        ann_file='annotations/synthface_val.json',   # checkpoint selection; the test splits stay unseen
        data_prefix=dict(img='images/'),
        test_mode=True,
        pipeline=val_pipeline,
    ))
# test: the three test splits in one run; each face's `subset` tag (clean / occluded / masked) gives per-subset
# NME, FR and AUC (see docs/evaluation.md)
test_dataloader = dict(
    batch_size=64,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
    dataset=dict(
        type='ConcatDataset',
        datasets=[
            dict(type=dataset_type, data_root=data_root, data_mode=data_mode,
                 ann_file=f'annotations/synthface_{split}.json', data_prefix=dict(img='images/'),
                 test_mode=True, pipeline=val_pipeline)
            for split in ('test', 'test_occluded', 'test_masked')
        ]))

# NME averaged per image with the inter-ocular normaliser (outer eye corners 36, 45), FR and AUC at 0.08 and 0.1,
# NME of visible vs occluded landmarks; 'NME' stays the key that checkpoints are selected by
val_evaluator = dict(type='FaceAlignmentMetric', norm_mode='inter_ocular')
test_evaluator = dict(type='FaceAlignmentMetric', norm_mode='inter_ocular', fr_thresholds=(0.08, 0.1))
