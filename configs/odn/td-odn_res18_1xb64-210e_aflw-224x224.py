# ODN on AFLW (19 points; AFLW-Full and AFLW-Frontal in one test), NRMSE normalised by the width of the face box
# as the paper's Sec. 5 ("Omega represents the width of bounding box for AFLW"). The 300W recipe (its header lists
# the readings and deviations) with 19 landmarks.
_base_ = ['./td-odn_res18_1xb64-210e_300w-224x224.py']

model = dict(head=dict(num_joints=19))

dataset_type = 'FaceAlignAFLWDataset'
data_root = 'data/aflw/'
train_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root, ann_file='annotations/face_landmarks_aflw_train.json'))
val_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='ConcatDataset',
        datasets=[
            dict(type=dataset_type, data_root=data_root, data_mode='topdown', ann_file=f'annotations/{ann}.json',
                 subset_tag=subset, data_prefix=dict(img='images/'), test_mode=True,
                 pipeline={{_base_.val_pipeline}})
            for ann, subset in (('face_landmarks_aflw_test', 'full'), ('face_landmarks_aflw_test_frontal',
                                                                        'frontal'))
        ]))
test_dataloader = val_dataloader
val_evaluator = dict(type='FaceAlignmentMetric', norm_mode='bbox_width', fr_thresholds=(0.08, 0.1))
test_evaluator = val_evaluator
