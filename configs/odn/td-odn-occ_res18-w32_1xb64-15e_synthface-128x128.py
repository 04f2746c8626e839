# ODN on SynthFace (td-odn_res18-w32_1xb64-15e_synthface-128x128.py) with a per-landmark occlusion output, read from
# the neck's down-sampled hybrid map (32 x 4 x 4; feats[1] is DM's map). OcclusionPredictHead wraps the method's head
# unchanged (its losses, decoding and flip test) and adds, for each landmark, the probability that it is occluded,
# trained with BCE from SynthFace's per-landmark occlusion flags (`keypoints_occluded`, weighted by
# `keypoint_weights`): features='landmark' on feats[0] (32 channels), a 3x3 bilinear crop (of the map reduced to 32
# channels by a 1x1 convolution) at the ground-truth landmark in training and at the predicted one at test time, a
# shared 2-layer MLP (64 wide), one linear classifier per landmark. features='pooled' gives MMPose's VisPredictHead
# branch. FaceAlignmentMetric then adds occlusion AP, recall at 80% precision, precision/recall at 0.5 and the NME of
# landmarks predicted occluded / visible (keys occ_*, NME_pred_*), per subset.
# Settings left at OcclusionPredictHead's defaults: reduce_channels=32, patch_size=3, hidden_channels=64,
# train_centres='gt', BCE on logits.
_base_ = ['./td-odn_res18-w32_1xb64-15e_synthface-128x128.py']

model = dict(
    head=dict(
        _delete_=True,
        type='OcclusionPredictHead',
        features='landmark',
        in_index=0,
        in_channels=32,
        pose_cfg={{_base_.model.head}}))
