# ODN cross-dataset test on COFW-68 (paper Sec. 5.2, Fig. 4): the model trained on 300W
# (td-odn_res18_1xb64-210e_300w-224x224.py) evaluated on COFW's 507 test faces re-annotated with 68 points (Ghiasi
# and Fowlkes, CVPR 2014); the paper reports the CED: 92% of the faces below NRMSE 0.08, i.e. FR@0.08 = 8%.
# Test only: python tools/test.py configs/odn/td-odn_res18_1xb64-210e_300w-224x224_cofw68.py <300W checkpoint>
# Data: data/cofw68/annotations/cofw68_test.json in MMPose's 300W format (68 points, iBUG order) with the
# images under data/cofw68/images/; from .pts files: tools/dataset_converters/pts2coco.py. COFW-68's occlusion
# labels, where the json carries them as visibility (v = 1 occluded), give NME_occluded / NME_visible.
_base_ = ['./td-odn_res18_1xb64-210e_300w-224x224.py']

test_dataloader = dict(
    dataset=dict(
        _delete_=True, type='FaceAlign300WDataset', data_root='data/cofw68/', data_mode='topdown',
        ann_file='annotations/cofw68_test.json', subset_tag='cofw68', data_prefix=dict(img='images/'),
        test_mode=True, pipeline={{_base_.val_pipeline}}))
test_evaluator = dict(type='FaceAlignmentMetric', norm_mode='inter_ocular', fr_thresholds=(0.08, 0.1))
