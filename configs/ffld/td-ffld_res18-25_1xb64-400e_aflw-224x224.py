# FFLD ResNet18-FFLD on AFLW (19 points, AFLW-Full and AFLW-Frontal in one test), face-size-normalised NME as the
# paper's Table 2 (MMPose's AFLW `box_size`). The 300W recipe (its header lists the readings and deviations) with
# 19 landmarks; the S0 loss is Eq. 1 as on 300W, normalised by the ground-truth distance of AFLW-19's outer eye
# corners (points 6 and 11 of MMPose's aflw.py, NormalizedL2Loss norm_indices='auto'); only the reported metric
# is the face size, as the paper's Table 2.
# Step 1 (baseline): td-ffld-base_res18-25_1xb64-400e_aflw-224x224.py, then --cfg-options load_from=...
# Deviation: the paper trains the AFLW baseline with pose-based data balancing (Feng et al.) at lr 1e-4 for 56
# epochs (x0.3 every 8); here the baseline step uses the FFLD schedule; add PoseBalancedDataset to follow it.
_base_ = ['./td-ffld_res18-25_1xb64-400e_300w-224x224.py']

model = dict(head=dict(num_joints=19))

dataset_type = 'FaceAlignAFLWDataset'
data_root = 'data/aflw/'
meta_keys = ('id', 'img_id', 'img_path', 'category_id', 'crowd_index', 'ori_shape', 'img_shape', 'input_size',
             'input_center', 'input_scale', 'flip', 'flip_direction', 'flip_indices', 'raw_ann_info',
             'dataset_name', 'keypoints_occluded', 'subset', 'box_size')
train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    # the paper's augmentation is scale, translation and rotation only (Sec. 6.6): no flip
    dict(type='RandomBBoxTransform', shift_factor=0.1, shift_prob=1.0, scale_factor=(0.8, 1.2), scale_prob=1.0,
         rotate_factor=20, rotate_prob=1.0),
    dict(type='TopdownAffine', input_size={{_base_.input_size}}),
    dict(type='GenerateTarget', encoder={{_base_.codec}}),
    dict(type='PackPoseInputs', meta_keys=meta_keys),
]
val_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='TopdownAffine', input_size={{_base_.input_size}}),
    dict(type='PackPoseInputs', meta_keys=meta_keys),
]
train_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root, ann_file='annotations/face_landmarks_aflw_train.json',
                 pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='ConcatDataset',
        datasets=[
            dict(type=dataset_type, data_root=data_root, data_mode='topdown', ann_file=f'annotations/{ann}.json',
                 subset_tag=subset, data_prefix=dict(img='images/'), test_mode=True, pipeline=val_pipeline)
            for ann, subset in (('face_landmarks_aflw_test', 'full'), ('face_landmarks_aflw_test_frontal',
                                                                        'frontal'))
        ]))
test_dataloader = val_dataloader
val_evaluator = dict(type='FaceAlignmentMetric', norm_mode='box_size', fr_thresholds=(0.08, 0.1))
test_evaluator = val_evaluator
