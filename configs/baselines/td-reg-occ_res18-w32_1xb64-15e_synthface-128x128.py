# The SynthFace baseline with a per-landmark occlusion output (OcclusionPredictHead): the same ResNet-18-w32, pooling,
# RegressionHead and Soft Wing loss, plus, for each landmark, the probability that it is occluded, trained with BCE
# from SynthFace's exact per-landmark occlusion flags (`keypoints_occluded`). The pooling neck moves into the head
# (neck=None, pose_feats='pooled': the RegressionHead sees the same globally averaged vector as in the baseline), so
# that the occlusion branch can sample the last ResNet map (256 x 4 x 4 at 128x128) at each landmark: a 3x3 bilinear
# crop (of the map reduced to 32 channels by a 1x1 convolution) at the ground-truth landmark in training and at the
# predicted one at test time, a shared 2-layer MLP (64 wide) and one linear classifier per landmark. features='pooled'
# gives MMPose's VisPredictHead branch instead (global pooling, one linear layer). Evaluation: FaceAlignmentMetric
# adds occlusion-prediction AP, recall at 80% precision, precision/recall at 0.5 and the NME of landmarks predicted
# occluded / visible (keys occ_*, NME_pred_*), per subset.
# Settings left at OcclusionPredictHead's defaults: reduce_channels=32, patch_size=3, hidden_channels=64,
# train_centres='gt', BCE on logits.
_base_ = ['./td-reg_res18-w32_1xb64-15e_synthface-128x128.py']

model = dict(
    neck=None,
    head=dict(
        _delete_=True,
        type='OcclusionPredictHead',
        features='landmark',
        in_channels=256,
        pose_feats='pooled',
        pose_cfg={{_base_.model.head}}))
