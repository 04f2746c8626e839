# FFLD ResNet18-FFLD on COFW (29 points). The 300W recipe (its header lists the readings and deviations) with 29
# landmarks; S0's loss normalised by the outer eye corners 8 and 9. The paper's Table 3 reports "face size NME" on
# COFW without defining face size: this config reports NME by sqrt(w * h) of the face box (bbox_size, our reading)
# and, beside it, occluded vs visible landmarks from COFW's occlusion labels; switch norm_mode to
# 'inter_pupil' or 'inter_ocular' to compare with other papers. Step 1 (baseline):
# td-ffld-base_res18-25_1xb64-400e_cofw-224x224.py, then --cfg-options load_from=...
_base_ = ['./td-ffld_res18-25_1xb64-400e_300w-224x224.py']

model = dict(head=dict(num_joints=29, coarse_loss=dict(type='NormalizedL2Loss', norm_indices=(8, 9))))

dataset_type = 'FaceAlignCOFWDataset'
data_root = 'data/cofw/'
train_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root, ann_file='annotations/cofw_train.json'))
val_dataloader = dict(
    dataset=dict(
        _delete_=True, type=dataset_type, data_root=data_root, data_mode='topdown',
        ann_file='annotations/cofw_test.json', data_prefix=dict(img='images/'), test_mode=True,
        pipeline={{_base_.val_pipeline}}))
test_dataloader = val_dataloader
val_evaluator = dict(type='FaceAlignmentMetric', norm_mode='bbox_size', fr_thresholds=(0.08, 0.1))
test_evaluator = val_evaluator
