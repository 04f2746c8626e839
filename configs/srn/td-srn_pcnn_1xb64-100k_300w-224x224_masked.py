# SRN on Masked 300W (paper Sec. 4.2, Tables 2, 7, 8): the model trained on 300W (no masked faces in training,
# td-srn_pcnn_1xb64-100k_300w-224x224.py) tested on the 300W common / challenge faces with a face mask drawn over
# the nose bottom, mouth and jaw. SAAT's mask images are not available here: FaceMaskOcclusion
# draws a procedural mask (shape, colour and texture varied) from each face's landmarks, seeded by the image id,
# so every run sees the same masked test set, and flags the covered landmarks (NME_occluded / NME_visible).
# Test only: python tools/test.py configs/srn/td-srn_pcnn_1xb64-100k_300w-224x224_masked.py <300W checkpoint>
# To keep a masked copy on disk instead: python tools/dataset_converters/mask_faces.py (same drawing, same seed).
_base_ = ['./td-srn_pcnn_1xb64-100k_300w-224x224.py']

masked_pipeline = [
    dict(type='LoadImage'),
    dict(type='FaceMaskOcclusion', seed=0),
    dict(type='GetBBoxCenterScale'),
    dict(type='TopdownAffine', input_size={{_base_.input_size}}),
    dict(type='PackPoseInputs', meta_keys={{_base_.meta_keys}}),
]
test_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='ConcatDataset',
        datasets=[
            dict(type={{_base_.dataset_type}}, data_root={{_base_.data_root}}, data_mode='topdown',
                 ann_file=f'annotations/face_landmarks_300w_valid_{subset}.json', subset_tag=subset,
                 data_prefix=dict(img='images/'), test_mode=True, pipeline=masked_pipeline)
            for subset in ('common', 'challenge')
        ]))
