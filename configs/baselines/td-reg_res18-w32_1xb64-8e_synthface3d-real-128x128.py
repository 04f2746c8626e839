# The default real-photo model: the baseline (ResNet-18 at half width + global average pooling + MMPose's
# RegressionHead, Soft Wing loss) trained from scratch on SynthFace's '3d' style (posed 3-D heads, shading, hair,
# photo backgrounds, camera effects) with the augmentation a model for real photographs needs. It is what
# `python demo/image_demo.py photo.jpg` and `load_aligner()` use by default (checkpoints/README.md: the checkpoint,
# its sha256, the data and the command that made it).
#
#   python tools/misc/generate_synthface.py --out-dir data/synthface3d --style 3d --num-train 30000
#   python tools/train.py configs/baselines/td-reg_res18-w32_1xb64-8e_synthface3d-real-128x128.py
#
# Differences from the quick-start baseline (td-reg_res18-w32_1xb64-15e_synthface-128x128.py): the data ('3d'
# style, 30000 training faces), the training pipeline below, 8 epochs (3752 iterations) with the learning-rate
# steps at 6 and 7
# and a 200-iteration warm-up; model, loss, optimiser and learning rate are the same.
#
# Boxes: the model's input convention is the landmark box padded by 1.25 (GetBBoxCenterScale), as in every
# SynthFace and MMPose face config. At inference, detector boxes are first mapped to the landmark box they predict
# (mmfacealign/apis/box_convention.py); RandomBBoxTransform covers the spread that is left (centre offset and
# scale of the crop; the crop is square, so a box's aspect only matters through its longer side) with a margin:
# truncated-normal shifts up to 10% and scales 0.8-1.25 of the padded box, against the spread measured on real
# photos (docs/box_calibration.json).
_base_ = ['./td-reg_res18-w32_1xb64-15e_synthface-128x128.py']

data_root = 'data/synthface3d/'
train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='RandomFlip', direction='horizontal'),
    dict(type='RandomBBoxTransform', shift_prob=1.0, shift_factor=0.1, scale_prob=1.0, scale_factor=(0.8, 1.25),
         rotate_prob=0.6, rotate_factor=30),
    dict(type='TopdownAffine', input_size=_base_.input_size),
    dict(type='PhotometricDistortion'),
    dict(type='RandomGrayscale', prob=0.1),          # black-and-white photographs
    dict(type='GenerateTarget', encoder=_base_.codec),
    dict(type='PackPoseInputs', meta_keys=_base_.meta_keys),
]
train_dataloader = dict(dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = dict(
    dataset=dict(datasets=[
        dict(type=_base_.dataset_type, data_root=data_root, data_mode=_base_.data_mode,
             ann_file=f'annotations/synthface_{split}.json', data_prefix=dict(img='images/'), test_mode=True,
             pipeline=_base_.val_pipeline)
        for split in ('test', 'test_occluded', 'test_masked')
    ]))

train_cfg = dict(max_epochs=8, val_interval=1)
param_scheduler = [
    dict(type='LinearLR', begin=0, end=200, start_factor=0.01, by_epoch=False),
    dict(type='MultiStepLR', begin=0, end=8, milestones=[6, 7], gamma=0.2, by_epoch=True),
]
default_hooks = dict(checkpoint=dict(interval=1, max_keep_ckpts=2), logger=dict(interval=50))
