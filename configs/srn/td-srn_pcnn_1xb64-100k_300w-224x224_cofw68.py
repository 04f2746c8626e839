# SRN cross-dataset test on COFW-68 (paper Sec. 4.2-4.3, Table 3): the model trained on 300W
# (td-srn_pcnn_1xb64-100k_300w-224x224.py) evaluated on COFW's 507 test faces re-annotated with 68 points (Ghiasi
# and Fowlkes, CVPR 2014). The paper normalises COFW-68 errors by the geometric mean of the ground-truth box's
# width and height (as LUVLi): norm_mode 'bbox_size', sqrt(w h) of the annotation's box; FR@0.1.
# Test only: python tools/test.py configs/srn/td-srn_pcnn_1xb64-100k_300w-224x224_cofw68.py <300W checkpoint>
# Data: data/cofw68/annotations/cofw68_test.json in MMPose's 300W format (68 points, iBUG order) with the images
# under data/cofw68/images/ (from .pts files: tools/dataset_converters/pts2coco.py).
_base_ = ['./td-srn_pcnn_1xb64-100k_300w-224x224.py']

test_dataloader = dict(
    dataset=dict(
        _delete_=True, type='FaceAlign300WDataset', data_root='data/cofw68/', data_mode='topdown',
        ann_file='annotations/cofw68_test.json', subset_tag='cofw68', data_prefix=dict(img='images/'),
        test_mode=True, pipeline={{_base_.val_pipeline}}))
test_evaluator = dict(type='FaceAlignmentMetric', norm_mode='bbox_size', fr_thresholds=(0.1, ))
