# 300W data settings shared by the 224x224 configs of FFLD, ODN and SRN: 68 points, the train sets (LFPW-train,
# HELEN-train, AFW) for training, common and challenge test sets in one run (full = both), inter-ocular NME by the
# outer eye corners with FR and AUC at 0.08 and 0.1. Each method config sets its own `train_pipeline` (the papers'
# augmentations differ) and passes it with `train_dataloader = dict(dataset=dict(pipeline=train_pipeline))`.
#
# Data: MMPose's 300W layout (docs of Face300WDataset): data/300w/images/ and
# data/300w/annotations/face_landmarks_300w_{train,valid_common,valid_challenge}.json.
# Checkpoint selection: 300W has no validation split apart from its test sets, so, as in MMPose's 300W configs,
# validation runs on the test sets; for a protocol without selection on test data, set
# default_hooks.checkpoint.save_best=None and report the last checkpoint.
dataset_type = 'FaceAlign300WDataset'
data_mode = 'topdown'
data_root = 'data/300w/'
input_size = (224, 224)
codec = dict(type='RegressionLabel', input_size=input_size)

# 'keypoints_occluded' and 'subset' carry occlusion flags and subset tags to the metric
meta_keys = ('id', 'img_id', 'img_path', 'category_id', 'crowd_index', 'ori_shape', 'img_shape', 'input_size',
             'input_center', 'input_scale', 'flip', 'flip_direction', 'flip_indices', 'raw_ann_info',
             'dataset_name', 'keypoints_occluded', 'subset')
train_pipeline = [          # a plain default; the method configs replace it
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='RandomFlip', direction='horizontal'),
    dict(type='RandomBBoxTransform'),
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
train_dataloader = dict(
    batch_size=64,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type, data_root=data_root, data_mode=data_mode,
        ann_file='annotations/face_landmarks_300w_train.json', data_prefix=dict(img='images/'),
        pipeline=train_pipeline))
# common and challenge subsets in one run (full = both)
val_dataloader = dict(
    batch_size=32,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
    dataset=dict(
        type='ConcatDataset',
        datasets=[
            dict(type=dataset_type, data_root=data_root, data_mode=data_mode,
                 ann_file=f'annotations/face_landmarks_300w_valid_{subset}.json', subset_tag=subset,
                 data_prefix=dict(img='images/'), test_mode=True, pipeline=val_pipeline)
            for subset in ('common', 'challenge')
        ]))
test_dataloader = val_dataloader

# inter-ocular NME (outer eye corners), FR and AUC at 0.08 and 0.1
val_evaluator = dict(type='FaceAlignmentMetric', norm_mode='inter_ocular', fr_thresholds=(0.08, 0.1))
test_evaluator = val_evaluator
