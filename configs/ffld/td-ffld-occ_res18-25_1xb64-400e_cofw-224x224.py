# FFLD on COFW (29 points; td-ffld_res18-25_1xb64-400e_cofw-224x224.py, unchanged) with a per-landmark occlusion
# output (OcclusionPredictHead): BCE on COFW's occlusion labels (v = 1 -> keypoints_occluded = 1, weighted by
# keypoint_weights), a 3x3 bilinear crop (of the map reduced to 32 channels by a 1x1 convolution) of the 3rd-level map
# (32 x 28 x 28, stride 8, the map of FFLD's first CropNet stage) at each landmark (ground truth in training, the
# prediction at test time), a shared 2-layer MLP (64 wide) and one classifier per landmark.
#
# Protocol (COFW's, Burgos-Artizzu et al., ICCV 2013): the 507 test faces, every labelled landmark one sample, pooled
# over the faces; FaceAlignmentMetric reports occ_recall@P80, the highest recall among the operating points
# (thresholds at the distinct predicted probabilities, tied scores entering together) whose precision is at least 80%,
# with occ_threshold@P80 the largest threshold that reaches it; also occ_AP, occ_precision / occ_recall at 0.5 and the
# NME of landmarks predicted occluded / visible. Published recall at 80% precision on COFW (the papers' figures, not
# measured here): RCPR 40% (Burgos-Artizzu et al., ICCV 2013); MNN 72.1% and FaceXFormer 72.6% (Narayan et al., 2024),
# as quoted in this package's issue 22 (not checked against the papers here). Deviations: FFLD has no occlusion output
# (nothing official to follow); those of the base config (its header).
# Settings left at OcclusionPredictHead's defaults: reduce_channels=32, patch_size=3, hidden_channels=64,
# train_centres='gt', BCE on logits.
_base_ = ['./td-ffld_res18-25_1xb64-400e_cofw-224x224.py']

model = dict(
    head=dict(
        _delete_=True,
        type='OcclusionPredictHead',
        features='landmark',
        in_index=2,
        in_channels=32,
        pose_cfg={{_base_.model.head}}))
