# Copyright (c) mmfacealign contributors. All rights reserved.
"""SRN video tracker (projects/srn_video, SRN Eq. 13) and the temporal-jitter metric: hand-computed numbers."""
import warnings

import numpy as np
import pytest
import torch
from mmengine.evaluator import Evaluator
from srn_video.apis import SRNTracker, TrackLossRule, box_iou, landmark_box, track_video
from srn_video.evaluation import TemporalJitterMetric, still_pairs, temporal_jitter

from mmfacealign.apis import init_model
from mmfacealign.datasets.synthface.renderer import render_background, render_face, sample_style
from mmfacealign.datasets.synthface.shape_model import load_pdm, place_shape, pose_shape

CONFIG = 'configs/srn/td-srn_pcnn-s_1xb64-15e_synthface-128x128.py'
PADDING = 1.25          # GetBBoxCenterScale's default, used by the config's test pipeline


def render_clip(num_frames: int = 6, size: int = 128, seed: int = 0, step=(2.0, 1.0)):
    """A face translating by ``step`` pixels per frame on a fixed background: BGR frames and their landmarks."""
    pdm = load_pdm('builtin')
    rng = np.random.default_rng(seed)
    shape = pose_shape(pdm.sample(rng), pdm.depth, 0.1, 0.0, 0.05)
    style = sample_style(np.random.default_rng(seed))
    background = render_background(np.random.default_rng(seed), size, size)
    frames, points = [], []
    for t in range(num_frames):
        pts = place_shape(shape, (size / 2 + step[0] * (t - num_frames / 2), size / 2 + step[1] * t), 0.55 * size)
        img = background.copy()
        render_face(img, pts, style, np.random.default_rng(seed))
        frames.append(img)
        points.append(pts)
    return frames, np.stack(points)


def tiny_srn(seed: int = 0):
    """The CPU-sized SRN with seeded random weights, a mean shape (SynthFace's clip face in its padded box) and a
    small, non-zero shape update (final FC x 0.2), so that tracks stay in the image and the RNN state shows."""
    torch.manual_seed(seed)
    model = init_model(CONFIG)
    _, pts = render_clip(1)
    lo, hi = pts[0].min(0), pts[0].max(0)
    side = (hi - lo).max() * PADDING
    model.head.set_mean_shape(torch.tensor((pts[0] - (lo + hi) / 2) / side + 0.5, dtype=torch.float32))
    with torch.no_grad():
        model.head.hsrm.final.weight.mul_(0.2)
        model.head.hsrm.final.bias.mul_(0.2)
    return model


@pytest.fixture(scope='module')
def model():
    return tiny_srn()


@pytest.fixture(scope='module')
def clip():
    return render_clip(6)


def test_hidden_state_is_carried_and_reset(model, clip):
    frames, pts = clip
    box0 = landmark_box(pts[0])
    tracker = SRNTracker(model)
    r0 = tracker.step(frames[0], bbox=box0)
    hidden0 = tracker.hidden
    assert r0['reinitialised'] and not r0['lost'] and r0['valid'] and hidden0.shape == (1, 256)
    r1 = tracker.step(frames[1])
    assert not r1['reinitialised'] and not r1['lost'] and r1['valid']
    np.testing.assert_allclose(r1['bbox'], landmark_box(r0['keypoints']))     # cropped around the previous shape
    # the same crop of frame 1 as an independent frame (hidden state zero)
    tracker.reset()
    assert tracker.hidden is None and not tracker.tracking
    independent = tracker.step(frames[1], bbox=r1['bbox'])
    gap = np.abs(independent['keypoints'] - r1['keypoints']).max()
    assert gap > 1e-3, f'the carried hidden state changed nothing ({gap} px)'
    # the state carried is exactly frame 0's final hidden state: re-run frame 1 by hand with it
    keypoints, _, _ = tracker.predict(frames[1], r1['bbox'], hidden0)
    np.testing.assert_allclose(keypoints, r1['keypoints'], atol=1e-4)
    # a reset after frame 0 gives the independent result again
    tracker.step(frames[0], bbox=box0)
    tracker.reset()
    np.testing.assert_allclose(tracker.step(frames[1], bbox=r1['bbox'])['keypoints'], independent['keypoints'],
                               atol=1e-5)


def test_first_frame_matches_inference_topdown_without_flip(model, clip):
    """The tracker's crop and decoding are MMPose's: frame 0 equals inference_topdown with flip test off."""
    from mmpose.apis import inference_topdown
    frames, pts = clip
    box = landmark_box(pts[0])
    result = SRNTracker(model).step(frames[0], bbox=box)
    flip = model.test_cfg.get('flip_test')
    model.test_cfg['flip_test'] = False
    try:
        expected = inference_topdown(model, frames[0], bboxes=box[None], bbox_format='xyxy')[0]
    finally:
        model.test_cfg['flip_test'] = flip
    np.testing.assert_allclose(result['keypoints'], expected.pred_instances.keypoints[0], atol=1e-4)


def test_previous_initial_shape_is_mapped_into_the_crop(model, clip):
    frames, pts = clip
    tracker = SRNTracker(model, init='previous')
    seen = []
    forward = model.head.forward_iterations

    def spy(feats, hidden=None, initial=None, return_hidden=False):
        seen.append(initial)
        return forward(feats, hidden=hidden, initial=initial, return_hidden=return_hidden)

    model.head.forward_iterations = spy
    try:
        r0 = tracker.step(frames[0], bbox=landmark_box(pts[0]))
        tracker.step(frames[1])
    finally:
        del model.head.forward_iterations
    assert seen[0] is None                                     # a new track starts from the mean shape
    x0 = seen[1][0].numpy().astype(np.float64)
    # the crop is the previous landmark box padded by 1.25 and made square: that shape spans 1 / 1.25 of the crop
    # along its longer side and is centred
    lo, hi = x0.min(0), x0.max(0)
    np.testing.assert_allclose((lo + hi) / 2, [0.5, 0.5], atol=1e-5)
    np.testing.assert_allclose((hi - lo).max(), 1 / PADDING, atol=1e-5)
    prev = r0['keypoints']
    side = np.ptp(prev, axis=0).max() * PADDING
    centre = (prev.min(0) + prev.max(0)) / 2
    np.testing.assert_allclose(x0 * side + centre - 0.5 * side, prev, atol=1e-3)     # back to image pixels


def test_lost_track_restarts_from_the_detector(model, clip):
    frames, pts = clip
    calls = []
    det_box = landmark_box(pts[2]) + np.array([-3.0, -3.0, 3.0, 3.0])

    def detector(frame):
        calls.append(frame)
        return det_box[None]

    tracker = SRNTracker(model, detector=detector)
    forward = model.head.forward_iterations
    offset = {}

    def shifted(feats, hidden=None, initial=None, return_hidden=False):
        shapes, h = forward(feats, hidden=hidden, initial=initial, return_hidden=True)
        return shapes + offset.pop('next', 0.0), h

    model.head.forward_iterations = shifted
    try:
        tracker.step(frames[0], bbox=landmark_box(pts[0]))
        assert not calls                                        # a given box needs no detector
        tracker.step(frames[1])
        offset['next'] = float('nan')                           # frame 2's tracked prediction is non-finite
        r2 = tracker.step(frames[2])
        assert r2['lost'] and r2['reinitialised'] and r2['valid'] and r2['reason'] == 'non-finite prediction'
        assert len(calls) == 1 and calls[0] is frames[2]
        np.testing.assert_allclose(r2['bbox'], det_box)
        # the restarted frame is a fresh track: hidden state zero, the detector's box
        fresh = SRNTracker(model).step(frames[2], bbox=det_box)
        np.testing.assert_allclose(r2['keypoints'], fresh['keypoints'], atol=1e-5)
        r3 = tracker.step(frames[3])
        assert not r3['lost'] and not r3['reinitialised']
        offset['next'] = 3.0                                    # 3 crops to the right: off the image
        r4 = tracker.step(frames[4])
        assert r4['lost'] and r4['reinitialised'] and 'outside the image' in r4['reason'] and len(calls) == 2
        # the detector finds nothing: no prediction, and the next frame tries again
        det_box = None
        tracker.detector = lambda frame: np.zeros((0, 4))
        offset['next'] = float('nan')
        r5 = tracker.step(frames[5])
        assert r5['lost'] and not r5['valid'] and r5['bbox'] is None and np.isnan(r5['keypoints']).all()
        assert not tracker.tracking
    finally:
        del model.head.forward_iterations


def test_track_video_results(model, clip):
    frames, pts = clip
    results = track_video(model, frames, bbox=landmark_box(pts[0]))
    assert [r['frame_index'] for r in results] == list(range(6))
    assert [r['reinitialised'] for r in results] == [True] + [False] * 5
    assert all(r['keypoints'].shape == (68, 2) and not r['lost'] for r in results)
    with pytest.raises(TypeError, match='head must be SRNHead'):
        SRNTracker(init_model('configs/baselines/td-reg_res18-w32_1xb64-15e_synthface-128x128.py'))
    with pytest.raises(ValueError, match="init must be one of"):
        SRNTracker(model, init='gt')


def test_track_loss_rule_numbers():
    a, b = np.array([0.0, 0, 10, 10]), np.array([5.0, 0, 15, 10])
    assert box_iou(a, b) == pytest.approx(50 / 150)
    corners = lambda box: np.array([box[:2], box[2:]])          # noqa: E731  landmarks spanning a box
    rule = TrackLossRule(max_outside=0.5, max_scale_change=1.5, min_iou=0.3)
    image = (100, 100, 3)
    assert rule.check(corners(b), image, prev_box=a) is None                        # IoU 1/3 >= 0.3
    assert 'IoU 0.33' in TrackLossRule(min_iou=0.34).check(corners(b), image, prev_box=a)
    assert 'x1.60' in rule.check(corners([0, 0, 16, 16]), image, prev_box=a)        # sqrt(256 / 100)
    assert rule.check(corners([0, 0, 14, 14]), image, prev_box=a) is None           # x1.4
    assert 'x0.60' in rule.check(corners([0, 0, 6, 6]), image, prev_box=a)
    assert rule.check(corners([-5, 0, 5, 10]), image) is None                       # 50% outside: allowed
    assert '60% of the landmark box' in rule.check(corners([-6, 0, 4, 10]), image)
    assert rule.check(corners([0, 0, 1, 10]), image) == 'landmark box smaller than 2.0 px'
    assert rule.check(np.array([[np.inf, 0], [1, 1]]), image) == 'non-finite prediction'
    assert TrackLossRule(max_scale_change=None, min_iou=None).check(corners([50, 50, 90, 90]), image,
                                                                    prev_box=a) is None
    with pytest.raises(ValueError, match='max_scale_change must be >= 1'):
        TrackLossRule(max_scale_change=0.5)


# ------------------------------------------------------------------------------------------------- jitter
def _jitter_case():
    """Two landmarks; video 'a' frames 0, 1, 2, 4 and video 'b' frames 0, 1 (normalisers 10 and 20)."""
    gt = np.zeros((6, 2, 2))
    pred = np.zeros((6, 2, 2))
    video = ['a', 'a', 'a', 'a', 'b', 'b']
    frame = [0, 1, 2, 4, 0, 1]
    d = np.array([10.0, 10, 10, 10, 20, 20])
    pred[1, 0] = [3, 4]                  # a 0->1: still GT; moves 5 and 0 -> mean 2.5 / 10 = 0.25
    gt[2] += [1, 0]                      # a 1->2: GT moves 1 / 10 = 0.1 >= thr: not still
    pred[2] = pred[1] + [30, 0]        # ... while the prediction moves 30 -> 3
    gt[3] += [1, 0]                      # a 2->4: a gap, no pair (GT still, prediction jumps)
    pred[3] += [99, 0]
    gt[5] += [0, 0.1]                    # b 0->1: GT moves 0.1 / 20 = 0.005 < thr: still
    pred[5] += [0, 2]                    # 2 / 20 = 0.1
    return pred, gt, d, video, frame


def test_temporal_jitter_hand_computed():
    pred, gt, d, video, frame = _jitter_case()
    values, later = still_pairs(pred, gt, d, video, frame, still_thr=0.05)
    np.testing.assert_allclose(values, [0.25, 0.1])
    assert later.tolist() == [1, 5]
    assert temporal_jitter(pred, gt, d, video, frame, still_thr=0.05) == pytest.approx(0.175)
    order = [5, 3, 0, 4, 2, 1]                                  # any frame order
    assert temporal_jitter(pred[order], gt[order], d[order], [video[i] for i in order], [frame[i] for i in order],
                           still_thr=0.05) == pytest.approx(0.175)
    # a threshold above the moving pair's 0.1 also counts a 1->2 (30 / 10 = 3)
    assert temporal_jitter(pred, gt, d, video, frame, still_thr=0.2) == pytest.approx((0.25 + 3 + 0.1) / 3)
    with pytest.warns(UserWarning, match='no still consecutive-frame pair'):
        assert np.isnan(temporal_jitter(pred[1:3], gt[1:3], d[1:3], video[1:3], frame[1:3], still_thr=0.05))
    with pytest.raises(ValueError, match="video 'a' frame 1 appears twice"):
        temporal_jitter(pred, gt, d, video, [0, 1, 1, 4, 0, 1])
    with pytest.raises(ValueError, match="normaliser of video 'b' frame 1"):
        temporal_jitter(pred, gt, np.array([10.0, 10, 10, 10, 20, 0]), video, frame)


def _video_samples():
    """68-point samples: GT still (eye corners 36, 45 ten pixels apart), predictions moving by hand."""
    base = np.random.default_rng(0).uniform(0, 50, (68, 2))
    base[36], base[45] = [20, 30], [30, 30]
    moves = {('v1', 0): (0, 0), ('v1', 1): (1, 0), ('v1', 2): (1, 3), ('v2', 5): (0, 0), ('v2', 6): (0, 0.5)}
    tags = {('v1', 0): ['category1', 'clean'], ('v1', 1): ['category1', 'clean'], ('v1', 2): ['category1', 'occluded'],
            ('v2', 5): ['category2', 'clean'], ('v2', 6): ['category2', 'clean']}
    samples = []
    for (video, frame), move in moves.items():
        samples.append(dict(
            video_id=video, frame_id=frame, subset=tags[(video, frame)], id=len(samples),
            pred_instances=dict(keypoints=(base + move)[None]),
            gt_instances=dict(keypoints=base[None], keypoints_visible=np.ones((1, 68)),
                              bboxes=np.array([[0.0, 0, 50, 50]]))))
    return samples


def test_temporal_jitter_metric_beside_face_alignment_metric():
    samples = _video_samples()
    evaluator = Evaluator([dict(type='FaceAlignmentMetric', norm_mode='inter_ocular'),
                           dict(type='TemporalJitterMetric', still_thr=0.02)])
    evaluator.dataset_meta = dict(dataset_name='synthface', num_keypoints=68)
    evaluator.process(samples + samples[:1])                    # v1 frame 0 twice (overlapping clips)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        metrics = evaluator.evaluate(len(samples) + 1)
    assert any('evaluated more than once' in str(w.message) for w in caught)
    # pairs: v1 0->1 (1 / 10), v1 1->2 (3 / 10), v2 5->6 (0.5 / 10)
    assert metrics['jitter'] == pytest.approx((0.1 + 0.3 + 0.05) / 3)
    assert metrics['jitter_pairs'] == 3
    assert metrics['jitter/category1'] == pytest.approx(0.2)
    assert metrics['jitter/category2'] == pytest.approx(0.05)
    assert metrics['jitter/clean'] == pytest.approx(0.075)       # later frames v1 1 and v2 6
    assert metrics['jitter/occluded'] == pytest.approx(0.3)
    assert metrics['jitter_pairs/clean'] == 2
    assert 'NME' in metrics                                      # FaceAlignmentMetric's keys beside them


def test_temporal_jitter_metric_without_still_pairs_or_video_meta():
    metric = TemporalJitterMetric()
    samples = _video_samples()
    metric.process(None, [samples[0], samples[3]])              # no consecutive frames
    with pytest.warns(UserWarning, match='no still consecutive-frame pair'):
        result = metric.compute_metrics(metric.results)
    assert np.isnan(result['jitter']) and result['jitter_pairs'] == 0
    bad = dict(samples[0])
    del bad['frame_id']
    with pytest.raises(KeyError, match="no 'frame_id' meta"):
        metric.process(None, [bad])
