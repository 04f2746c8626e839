# FFLD ResNet18-FFLD on 300VW (68 points), frame by frame as in the paper (Sec. 6.3: no temporal information),
# categories 1-3 as subsets of one test run, inter-ocular NME. The 300W recipe (its header lists the readings and
# deviations). Data: MMPose's tools/dataset_converters/300vw2coco.py (frame-level json, broken frames skipped).
# Step 1 (baseline): td-ffld-base_res18-25_1xb64-400e_300vw-224x224.py, then --cfg-options load_from=...
# Deviation: the paper pre-trains on 300W-LP and 300W first (Sec. 6.6); here 300VW's training videos only.
_base_ = ['./td-ffld_res18-25_1xb64-400e_300w-224x224.py']

dataset_type = 'FaceAlign300VWDataset'
data_root = 'data/300vw/'
train_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root, ann_file='annotations/train.json'))
val_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='ConcatDataset',
        datasets=[
            dict(type=dataset_type, data_root=data_root, data_mode='topdown', ann_file=f'annotations/test_{c}.json',
                 subset_tag=f'category{c}', data_prefix=dict(img='images/'), test_mode=True,
                 pipeline={{_base_.val_pipeline}})
            for c in (1, 2, 3)
        ]))
test_dataloader = val_dataloader
