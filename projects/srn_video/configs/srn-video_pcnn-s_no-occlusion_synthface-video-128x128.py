# SRN video mode on SynthFace video, Table 9's "w/o occlusion augmentation": fine-tune the image-trained CPU-sized
# SRN (configs/srn/td-srn_pcnn-s_1xb64-15e_synthface-128x128.py) on clips of 8 frames with the RNN state carried
# from frame to frame (Eq. 13), no synthetic occlusion. The RSF and HOFS configs beside it change only
# model.occlusion_synthesis (and HOFS's Q-only warm-up), so the three rows share data, schedule and budget.
#
#   python tools/train.py projects/srn_video/configs/srn-video_pcnn-s_no-occlusion_synthface-video-128x128.py \
#       --cfg-options load_from=work_dirs/srn_synthface/best_NME_epoch_15.pth
#
# Deviations (the paper gives no video training recipe; the authors never released this part):
#   - fine-tuning: Adam 1e-4, constant, 1 epoch of the 192 training clips (8 frames every 8: 48 iterations of 4
#     clips = 32 frames), CPU-sized (about 10 min on 2 cores without synthesis);
#   - the initial shape of every frame is the mean shape in the frame's ground-truth box (the paper's "as for
#     images"); the tracker (srn_video.apis) can instead start from the previous frame's shape;
#   - the state is carried within a clip of 8 frames in training and evaluation (truncated back-propagation;
#     the tracker carries it over a whole video); no flip test (a flipped clip would need its own state).
_base_ = ['../../../configs/srn/td-srn_pcnn-s_1xb64-15e_synthface-128x128.py']
custom_imports = dict(imports=['mmfacealign', 'srn_video'], allow_failed_imports=False)

load_from = None            # the pre-trained image SRN: set it (--cfg-options load_from=...)
train_cfg = dict(max_epochs=1, val_interval=1)
val_cfg = dict(type='ClipValLoop')          # score every frame of the clip datasets (not one per clip)
test_cfg = dict(type='ClipTestLoop')
optim_wrapper = dict(optimizer=dict(type='Adam', lr=1e-4))
param_scheduler = []
default_hooks = dict(logger=dict(interval=5), checkpoint=dict(interval=1))
custom_hooks = [dict(type='MeanShapeHook'), dict(type='HOFSInitHook')]

model = dict(
    type='SRNVideoEstimator',
    occlusion_synthesis=None,
    carry_hidden=True,
    test_cfg=dict(flip_test=False))

# ------------------------------------------------------------------------------------------------ data
# SynthFace video data for SRN's video mode: clips of consecutive 128x128 frames (FaceVideoClipDataset) from the
# videos that `python tools/misc/generate_synthface.py --video --out-dir data/synthface_video` generates (a face
# that moves, turns and changes expression smoothly, with occluders that enter, cross and leave; categories 1-3).
# A batch of B clips reaches the model as B * clip_len frames, clip-major (collate_fn clip_collate).
data_root = 'data/synthface_video/'
clip_len = 8
# the image config's augmentation without its noise patch (the synthesis is the model's occlusion_synthesis); every
# random draw (flip, box jitter, rotation) is the same for all frames of a clip (FaceVideoClipDataset replays them)
train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='RandomFlip', direction='horizontal'),
    dict(type='RandomBBoxTransform', shift_prob=0.3, shift_factor=0.05, rotate_factor=20,
         scale_factor=(0.85, 1.15)),
    dict(type='TopdownAffine', input_size={{_base_.input_size}}),
    dict(type='GenerateTarget', encoder={{_base_.codec}}),
    dict(type='PackPoseInputs', meta_keys={{_base_.meta_keys}}),
]

train_dataloader = dict(
    batch_size=4,                       # clips: 32 frames (workers and sampler: the image config's)
    collate_fn=dict(type='clip_collate'),
    dataset=dict(
        _delete_=True,
        type='FaceVideoClipDataset', clip_len=clip_len, stride=clip_len,
        dataset=dict(type='SynthFaceDataset', data_root=data_root, ann_file='annotations/synthface_video_train.json',
                     data_prefix=dict(img='images/'), pipeline=train_pipeline)))
# evaluation: non-overlapping clips (stride = clip_len), every frame scored once, the state carried within a clip
val_dataloader = dict(
    batch_size=4,
    collate_fn=dict(type='clip_collate'),
    dataset=dict(
        _delete_=True,
        type='FaceVideoClipDataset', clip_len=clip_len, stride=clip_len, test_mode=True,
        dataset=dict(type='SynthFaceDataset', data_root=data_root, ann_file='annotations/synthface_video_test.json',
                     data_prefix=dict(img='images/'), test_mode=True, pipeline={{_base_.val_pipeline}})))
test_dataloader = dict(val_dataloader, dataset=dict(val_dataloader['dataset'], _delete_=True))

# per-frame NME per category and per occlusion state (each frame's subset tags), and the jitter where the ground
# truth is still
val_evaluator = [
    dict(type='FaceAlignmentMetric', norm_mode='inter_ocular'),
    dict(type='TemporalJitterMetric'),
]
test_evaluator = val_evaluator
