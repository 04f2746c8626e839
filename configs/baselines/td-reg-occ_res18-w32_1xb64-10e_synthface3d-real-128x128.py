# The default real-photo model (td-reg_res18-w32_1xb64-8e_synthface3d-real-128x128.py, the checkpoint shipped in
# checkpoints/) with the per-landmark occlusion output added: OcclusionPredictHead (the configuration of
# td-reg-occ_res18-w32_1xb64-15e_synthface-128x128.py: per-landmark features, a 3x3 crop of the last 256 x 4 x 4
# ResNet map reduced to 32 channels, a 64-wide MLP, one classifier per landmark) wraps the model's RegressionHead.
# Only the occlusion branch is trained: the shipped weights are loaded (their head keys move under
# head.pose_head, see OcclusionPredictHead), the backbone is frozen with its BatchNorm statistics
# (frozen_stages=4, norm_eval=True) and the pose head has a learning rate of 0, so the landmarks stay exactly
# those of the shipped model and only the occlusion probabilities are new.
#
#   python tools/misc/generate_synthface.py --out-dir data/synthface3d --style 3d --num-train 5000
#   python tools/train.py configs/baselines/td-reg-occ_res18-w32_1xb64-10e_synthface3d-real-128x128.py
#
# Differences from the real-photo config: the head above; the first 5000 training faces (indices=5000, so a
# SynthFace 3d set of 30000 gives the same run); 10 epochs with the learning rate divided by 5 after 8 and a
# 50-iteration warm-up. Data, pipeline (with its flips: the occlusion flags follow them), loss of the landmarks,
# optimiser and learning rate are the same.
_base_ = ['./td-reg_res18-w32_1xb64-8e_synthface3d-real-128x128.py']

load_from = 'checkpoints/td-reg_res18-w32_synthface3d-real-128x128.pth'
model = dict(
    backbone=dict(frozen_stages=4, norm_eval=True),
    neck=None,
    head=dict(
        _delete_=True,
        type='OcclusionPredictHead',
        features='landmark',
        in_channels=256,
        pose_feats='pooled',
        pose_cfg={{_base_.model.head}}))
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={'head.pose_head': dict(lr_mult=0.)}))
train_dataloader = dict(dataset=dict(indices=5000))
train_cfg = dict(max_epochs=10, val_interval=2)
param_scheduler = [
    dict(type='LinearLR', begin=0, end=50, start_factor=0.01, by_epoch=False),
    dict(type='MultiStepLR', begin=0, end=10, milestones=[8], gamma=0.2, by_epoch=True),
]
