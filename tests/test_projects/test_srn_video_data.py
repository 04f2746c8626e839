# Copyright (c) mmfacealign contributors. All rights reserved.
"""SRN video data: SynthFace video generation, FaceVideoClipDataset sampling / augmentation / meta, clip_collate,
the 300VW facts and the excluded-frames files."""
import json
import os
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmengine.registry import FUNCTIONS, DefaultScope
from mmengine.structures import InstanceData
from mmpose.registry import DATASETS
from srn_video.datasets import (
    VW300_TEST_CATEGORIES,
    FaceVideoClipDataset,
    clip_collate,
    load_excluded_frames,
    video_and_frame,
    vw300_category,
)

from mmfacealign.datasets.synthface import load_pdm
from mmfacealign.datasets.synthface.video import (
    SynthFaceVideoConfig,
    ease_weights,
    face_track,
    generate_video,
    segments,
    write_synthface_video,
)
from mmfacealign.evaluation.metrics import FaceAlignmentMetric

META_KEYS = ('id', 'img_id', 'img_path', 'ori_shape', 'img_shape', 'input_size', 'input_center', 'input_scale',
             'flip', 'flip_direction', 'keypoints_occluded', 'subset')


@pytest.fixture(autouse=True)
def mmpose_scope():
    with DefaultScope.overwrite_default_scope('mmpose'):   # as the runner's default_scope = 'mmpose'
        yield


def _pipeline(size=64, augment=False):
    steps = [dict(type='LoadImage'), dict(type='GetBBoxCenterScale')]
    if augment:
        steps += [dict(type='RandomFlip', direction='horizontal', prob=0.5),
                  dict(type='RandomBBoxTransform', shift_prob=1.0, scale_prob=1.0, rotate_prob=1.0, rotate_factor=40)]
    return steps + [
        dict(type='TopdownAffine', input_size=(size, size)),
        dict(type='GenerateTarget', encoder=dict(type='RegressionLabel', input_size=(size, size))),
        dict(type='PackPoseInputs', meta_keys=META_KEYS)]


def _synth_clips(root, split='train', **kwargs):
    inner = dict(type='SynthFaceDataset', data_root=root, ann_file=f'annotations/synthface_video_{split}.json',
                 data_prefix=dict(img='images/'), pipeline=kwargs.pop('pipeline', _pipeline()))
    return FaceVideoClipDataset(dataset=inner, **kwargs)


def _coco(path):
    with open(path) as f:
        return json.load(f)


# ------------------------------------------------------------------------------------------- SynthFace video
def test_ease_weights_hand_computed():
    # a 4-interval move then a still segment; the shared key-frame 4 belongs to the still segment (weight 0)
    seg_of, w = ease_weights([(0, 4, False), (4, 6, True)], 7)
    assert seg_of.tolist() == [0, 0, 0, 0, 1, 1, 1]
    np.testing.assert_allclose(w, [0, (1 - np.sqrt(0.5)) / 2, 0.5, (1 + np.sqrt(0.5)) / 2, 0, 0, 0], atol=1e-12)
    # segments alternate, the last may run past the end, neighbours share their key-frame
    segs = segments(np.random.default_rng(0), 20, (4, 8), (3, 5))
    assert segs[0][0] == 0 and segs[-1][1] >= 19 and segs[-2][1] < 19
    assert all(a[1] == b[0] and a[2] != b[2] for a, b in zip(segs, segs[1:]))


def test_synthface_video_layout_and_categories(synthface_video_root):
    root = synthface_video_root
    meta = _coco(osp.join(root, 'meta.json'))
    assert meta['kind'] == 'video' and meta['splits'] == dict(train=dict(videos=6, frames=96),
                                                             test=dict(videos=3, frames=48))
    coco = _coco(osp.join(root, 'annotations', 'synthface_video_train.json'))
    assert len(coco['images']) == 96
    for img, ann in zip(coco['images'], coco['annotations']):
        v, t = ann['video_id'], ann['frame_id']
        assert img['file_name'] == f'train/{v:04d}/{t:06d}.png' and (img['video_id'], img['frame_id']) == (v, t)
        assert osp.isfile(osp.join(root, 'images', img['file_name']))
        assert ann['category'] == f'category{v % 3 + 1}'
        occluded = any(ann['occluded'])
        assert ann['subset'] == [ann['category'], 'occluded' if occluded else 'clean']
        vis = np.asarray(ann['keypoints']).reshape(68, 3)[:, 2]
        assert (vis == np.where(ann['occluded'], 1, 2)).all()


def test_synthface_video_deterministic_for_any_workers(tmp_path, synthface_video_settings):
    cfg = dict(synthface_video_settings, num_videos_train=3, num_videos_test=1, frames=6)
    a, b = str(tmp_path / 'a'), str(tmp_path / 'b')
    write_synthface_video(a, SynthFaceVideoConfig(**cfg), workers=1, log=lambda *x: None)
    write_synthface_video(b, SynthFaceVideoConfig(**cfg), workers=2, log=lambda *x: None)
    files = sorted(osp.relpath(osp.join(d, f), a) for d, _, fs in os.walk(a) for f in fs)
    assert len(files) == 4 * 6 + 3
    for rel in files:
        with open(osp.join(a, rel), 'rb') as fa, open(osp.join(b, rel), 'rb') as fb:
            assert fa.read() == fb.read(), rel
    # another seed gives other videos; the same settings are reused, other settings refused
    other = dict(cfg, seed=cfg['seed'] + 1)
    write_synthface_video(str(tmp_path / 'c'), SynthFaceVideoConfig(**other), log=lambda *x: None)
    ann = lambda d: _coco(osp.join(d, 'annotations', 'synthface_video_train.json'))['annotations']  # noqa: E731
    assert ann(a)[0]['keypoints'] != ann(str(tmp_path / 'c'))[0]['keypoints']
    logs = []
    write_synthface_video(a, SynthFaceVideoConfig(**cfg), log=logs.append)
    assert 'reusing' in logs[0]
    with pytest.raises(FileExistsError, match='other settings'):
        write_synthface_video(a, SynthFaceVideoConfig(**other), log=lambda *x: None)
    assert not [n for n in os.listdir(tmp_path) if '.partial-' in n]


def test_synthface_video_smooth_with_still_segments():
    pdm = load_pdm('builtin')
    cfg = SynthFaceVideoConfig(shape_model='builtin', seed=5)       # default motion, 32 frames at 128x128
    worst = {}
    for video in range(9):
        track = face_track(cfg, pdm, 'train', video)
        pts, cat = track['pts'], track['category'].name
        size = np.ptp(pts, axis=1).max(1)                            # longer side of the landmark box
        step = np.linalg.norm(np.diff(pts, axis=0), axis=2).max(1)   # largest landmark move per frame
        worst[cat] = max(worst.get(cat, 0), float((step / size[1:]).max()))
        still = np.zeros(len(pts) - 1, bool)
        for start, end, is_still in track['segments']:
            if is_still:
                still[start:min(end, len(pts) - 1)] = True
        assert still.sum() >= 3, video                               # ground-truth-still frames exist
        assert (step[still] == 0).all()                              # bit-identical landmarks while still
        assert (step[~still] > 0).all()                              # and moving elsewhere
    assert max(worst.values()) < 0.12, worst                         # < 12 % of the face size per frame
    assert worst['category1'] < worst['category3']


def test_synthface_video_occluders_enter_and_leave(synthface_video_settings):
    pdm = load_pdm('builtin')
    cfg = SynthFaceVideoConfig(**dict(synthface_video_settings, frames=12))
    for video in (0, 1, 2, 5):
        frames, anns = generate_video(cfg, pdm, 'test', video)
        assert len(frames) == 12 and frames[0].shape == (64, 64, 3) and frames[0].dtype == np.uint8
        counts = [int(a['occluded'].sum()) for a in anns]
        if video % 3 == 2:      # category3: unoccluded at both ends, covered in between
            assert counts[0] == 0 and counts[-1] == 0 and max(counts) > 0, counts
            assert {a['subset'][1] for a in anns} == {'clean', 'occluded'}
            assert all(len(a['occluders']) == 0 for a in (anns[0], anns[-1]))
        else:
            assert max(counts) == 0 and all(a['subset'][1] == 'clean' for a in anns)
    # appearance is constant: with the face still and no occluder, two frames differ only by sensor noise
    pdm_frames, anns = generate_video(cfg, pdm, 'test', 0)
    same = [t for t in range(1, 12) if anns[t]['still']]
    t = same[0]
    diff = np.abs(pdm_frames[t].astype(int) - pdm_frames[t - 1].astype(int))
    assert diff.mean() < 6 and np.median(diff) <= 4


def test_generate_synthface_cli_video(tmp_path, capsys):
    from tools.misc.generate_synthface import main
    out = str(tmp_path / 'v')
    args = ['--video', '--out-dir', out, '--shape-model', 'builtin', '--num-videos-train', '1',
            '--num-videos-test', '1', '--frames', '3', '--image-size', '32', '--workers', '1']
    main(args)
    assert sorted(os.listdir(osp.join(out, 'images', 'test', '0000'))) == ['000000.png', '000001.png', '000002.png']
    main(args)
    assert 'reusing' in capsys.readouterr().out
    with pytest.raises(SystemExit, match='other settings'):
        main(args[:-2] + ['--frames', '4'])


# ------------------------------------------------------------------------------------------- clip sampling
def _frame_json(tmp_path, videos, make_images=True):
    """A 300VW-style frame json ``{video: [frames]}`` -> ``NNN/imgs/%06d.png`` entries (tiny 32x32 images)."""
    rng = np.random.default_rng(0)
    base = rng.uniform(8, 24, (68, 2))
    images, annotations = [], []
    for video, frames in videos.items():
        os.makedirs(tmp_path / 'images' / video / 'imgs', exist_ok=True)
        for f in frames:
            i = len(images)
            rel = f'{video}/imgs/{f:06d}.png'
            if make_images:
                cv2.imwrite(str(tmp_path / 'images' / rel), np.full((32, 32, 3), i, np.uint8))
            kpts = np.concatenate([base + 0.1 * f, np.ones((68, 1))], 1)
            images.append(dict(id=i, file_name=rel, height=32, width=32))
            annotations.append(dict(id=i, image_id=i, category_id=1, iscrowd=0, num_keypoints=68,
                                    keypoints=kpts.reshape(-1).tolist(), center=[16.0, 16.0], scale=0.1))
    path = tmp_path / 'frames.json'
    path.write_text(json.dumps(dict(images=images, annotations=annotations,
                                    categories=[dict(id=1, name='person')])))
    return str(path)


def _vw_clips(tmp_path, ann_file, **kwargs):
    inner = dict(type='FaceAlign300VWDataset', ann_file=ann_file, data_prefix=dict(img=str(tmp_path / 'images')),
                 pipeline=kwargs.pop('pipeline', _pipeline(32)), test_mode=True)
    return FaceVideoClipDataset(dataset=inner, **kwargs)


VIDEOS = {'114': [1, 2, 3, 4, 6, 7, 8, 9, 10],   # category 1, frame 5 missing (a gap)
          '410': [1, 2, 3, 4, 5, 6, 7],          # category 3
          '001': [1, 2, 3, 4, 5, 6]}             # a training video, no category


def test_clip_sampling_gaps_exclusion_and_categories(tmp_path):
    ann = _frame_json(tmp_path, VIDEOS)
    excl = tmp_path / 'excl.txt'
    excl.write_text('# video frame\n114 8\n410, 9\n')
    ds = _vw_clips(tmp_path, ann, clip_len=2, stride=2, exclude_frames=str(excl))
    got = [(c['video_id'], c['frame_ids'], c['category']) for c in map(ds.get_clip_info, range(len(ds)))]
    # 114 runs [1-4] [6-7] [9-10] (gap at 5, 8 excluded); 410 [1-7] leaves 7; 001 [1-6]
    assert got == [('114', [1, 2], 1), ('114', [3, 4], 1), ('114', [6, 7], 1), ('114', [9, 10], 1),
                   ('410', [1, 2], 3), ('410', [3, 4], 3), ('410', [5, 6], 3),
                   ('001', [1, 2], None), ('001', [3, 4], None), ('001', [5, 6], None)]
    assert ds.num_unsampled_frames == 1
    ds = _vw_clips(tmp_path, ann, clip_len=3, stride=1, exclude_frames=str(excl), categories=[1, 3])
    got = [(c['video_id'], c['frame_ids']) for c in map(ds.get_clip_info, range(len(ds)))]
    assert got == [('114', [1, 2, 3]), ('114', [2, 3, 4])] + [('410', [s, s + 1, s + 2]) for s in range(1, 6)]
    assert ds.num_unsampled_frames == 4      # 114: 6, 7, 9, 10
    ds = _vw_clips(tmp_path, ann, clip_len=4, stride=4, categories=[3], tail='overlap')
    assert [ds.get_clip_info(i)['frame_ids'] for i in range(len(ds))] == [[1, 2, 3, 4], [4, 5, 6, 7]]
    # indices point at the right frames of the inner dataset
    info = ds.get_clip_info(1)
    assert [video_and_frame(ds.dataset.get_data_info(i)['img_path'])[1:] for i in info['indices']] == \
        [('410', f) for f in (4, 5, 6, 7)]


def test_clip_meta_and_300vw_category_tags(tmp_path):
    ann = _frame_json(tmp_path, VIDEOS)
    ds = _vw_clips(tmp_path, ann, clip_len=3, stride=3)
    meta = ds.metainfo
    assert meta['dataset_name'] == '300vw' and meta.keys() == ds.dataset.metainfo.keys()
    assert meta['flip_indices'] == ds.dataset.metainfo['flip_indices'] and meta is not ds.metainfo
    by_video = {ds.get_clip_info(i)['video_id']: i for i in range(len(ds))}
    clip = ds[by_video['410']]
    assert len(clip) == 3 and all(f['inputs'].shape == (3, 32, 32) for f in clip)
    metas = [f['data_samples'].metainfo for f in clip]
    last_410 = ds.get_clip_info(by_video['410'])['frame_ids']
    assert [(m['video_id'], m['frame_id'], m['clip_index'], m['frame_in_clip']) for m in metas] == \
        [('410', f, by_video['410'], j) for j, f in enumerate(last_410)]
    assert all(m['subset'] == ['category3'] for m in metas)
    assert ds[by_video['001']][0]['data_samples'].metainfo['subset'] is None
    # a subset_tag given by the user wins over the table (no second category tag)
    tagged = FaceVideoClipDataset(dataset=dict(
        type='FaceAlign300VWDataset', ann_file=ann, data_prefix=dict(img=str(tmp_path / 'images')),
        pipeline=_pipeline(32), test_mode=True, subset_tag='category2'), clip_len=2, categories=[2])
    assert len(tagged) == (3 + 4) + 6 + 5 and tagged[0][0]['data_samples'].metainfo['subset'] == 'category2'


def test_clip_errors(tmp_path):
    ann = _frame_json(tmp_path, VIDEOS, make_images=False)
    with pytest.raises(ValueError, match='clip_len must be an integer >= 1'):
        _vw_clips(tmp_path, ann, clip_len=0)
    with pytest.raises(ValueError, match='stride must be an integer >= 1'):
        _vw_clips(tmp_path, ann, clip_len=2, stride=0)
    with pytest.raises(ValueError, match=r'no clip of 10 consecutive frames.*frames\.json'):
        _vw_clips(tmp_path, ann, clip_len=10)
    with pytest.raises(ValueError, match=r'categories \[2\] of .*frames\.json'):
        _vw_clips(tmp_path, ann, clip_len=2, categories=[2])
    with pytest.raises(TypeError, match='not a clip'):
        clip_collate([dict(inputs=1)])
    lazy = _vw_clips(tmp_path, ann, clip_len=2, stride=2, lazy_init=True)
    assert lazy.clips == [] and len(lazy) == 10     # built at first use


def test_excluded_frames_files(tmp_path):
    want = {'114': {8, 9}, '7': {3}}
    (tmp_path / 'a.json').write_text(json.dumps({'114': [8, 9], '007': [3]}))
    (tmp_path / 'b.json').write_text(json.dumps([['114', 8], ['114', 9], [7, 3]]))
    (tmp_path / 'c.txt').write_text('114 8\n\n114,9\n0007 3\n')
    np.save(tmp_path / 'd.npy', np.array([[114, 8], [114, 9], [7, 3]]))
    np.save(tmp_path / 'e.npy', np.array({'114': [8, 9], '007': [3]}, dtype=object), allow_pickle=True)  # MMPose's
    for name in ('a.json', 'b.json', 'c.txt', 'd.npy', 'e.npy'):
        assert load_excluded_frames(str(tmp_path / name)) == want, name
    (tmp_path / 'bad.json').write_text('"114"')
    (tmp_path / 'bad.txt').write_text('114 8 9\n')
    (tmp_path / 'bad.csv').write_text('114,8\n')
    for name, msg in (('bad.json', 'top level is a str'), ('bad.txt', 'not a \\(video, frame\\) pair'),
                      ('bad.csv', "unknown extension '.csv'")):
        with pytest.raises(ValueError, match=f"{name}.*{msg}"):
            load_excluded_frames(str(tmp_path / name))
    with pytest.raises(FileNotFoundError, match='nope.json'):
        load_excluded_frames(str(tmp_path / 'nope.json'))


def test_vw300_categories():
    assert [len(VW300_TEST_CATEGORIES[k]) for k in (1, 2, 3)] == [31, 19, 14]
    assert len({v for vs in VW300_TEST_CATEGORIES.values() for v in vs}) == 64
    assert (vw300_category('114'), vw300_category(203), vw300_category('0562'), vw300_category('001')) == \
        (1, 2, 3, None)


# ------------------------------------------------------------------------------------------- augmentation
def test_clip_augmentation_identical_across_frames(synthface_video_root):
    ds = _synth_clips(synthface_video_root, clip_len=3, stride=1, pipeline=_pipeline(augment=True))
    coco = _coco(osp.join(synthface_video_root, 'annotations', 'synthface_video_train.json'))
    still = {(a['video_id'], a['frame_id']) for a in coco['annotations'] if a['still']}
    # a clip whose 2nd and 3rd frames repeat the 1st one's landmarks (inside a still segment)
    idx = next(i for i in range(len(ds)) if all(
        (int(ds.get_clip_info(i)['video_id']), f) in still for f in ds.get_clip_info(i)['frame_ids'][1:]))
    np.random.seed(0)
    clip = ds[idx]
    labels = [f['data_samples'].gt_instance_labels.keypoint_labels.numpy() for f in clip]
    assert np.array_equal(labels[0], labels[1]) and np.array_equal(labels[0], labels[2])
    # the same frames through the pipeline without the per-clip reset get different augmentations
    inner = ds.dataset
    np.random.seed(0)
    free = [inner[i]['data_samples'].gt_instance_labels.keypoint_labels.numpy()
            for i in ds.get_clip_info(idx)['indices']]
    assert not np.array_equal(free[0], free[1])
    # every clip has one flip decision for all its frames; clips differ
    np.random.seed(1)
    flips = [[f['data_samples'].metainfo['flip'] for f in ds[i]] for i in range(12)]
    assert all(len(set(f)) == 1 for f in flips) and len({f[0] for f in flips}) == 2


def test_clip_collate_order_and_metric(synthface_video_root):
    ds = _synth_clips(synthface_video_root, split='test', clip_len=4, stride=4, test_mode=True)
    assert len(ds) == 3 * 4 and ds.test_mode
    collate = FUNCTIONS.get('clip_collate')
    batch = collate([ds[0], ds[5]])
    metas = [d.metainfo for d in batch['data_samples']]
    assert len(batch['inputs']) == 8 and isinstance(batch['inputs'][0], torch.Tensor)
    assert [m['frame_in_clip'] for m in metas] == [0, 1, 2, 3] * 2
    assert [m['clip_index'] for m in metas] == [0] * 4 + [5] * 4
    assert [m['frame_id'] for m in metas] == [0, 1, 2, 3, 4, 5, 6, 7]
    assert [m['video_id'] for m in metas] == ['0000'] * 4 + ['0001'] * 4
    # categories come from the SynthFace subset tags
    assert {ds.get_clip_info(i)['category'] for i in range(len(ds))} == {1, 2, 3}
    only3 = _synth_clips(synthface_video_root, split='test', clip_len=4, stride=4, categories=[3])
    assert len(only3) == 4 and {only3.get_clip_info(i)['video_id'] for i in range(4)} == {'0002'}
    assert DATASETS.get('FaceVideoClipDataset') is FaceVideoClipDataset
    # every frame feeds FaceAlignmentMetric: predictions 1 px right of the gt -> NME = mean(1 / inter-ocular)
    metric = FaceAlignmentMetric()
    metric.dataset_meta = ds.metainfo
    samples, expected = [], []
    for d in batch['data_samples']:
        gt = d.gt_instances.keypoints
        d.pred_instances = InstanceData(keypoints=gt + np.array([1.0, 0.0]))
        expected.append(1.0 / np.linalg.norm(gt[0, 36] - gt[0, 45]))
        samples.append(d.to_dict())
    metric.process(batch, samples)
    res = metric.compute_metrics(metric.results)
    assert res['NME'] == pytest.approx(np.mean(expected), rel=1e-6)
    assert res['category1/NME'] == pytest.approx(np.mean(expected[:4]), rel=1e-6)
