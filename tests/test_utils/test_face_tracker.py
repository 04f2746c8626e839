# Copyright (c) mmfacealign contributors. All rights reserved.
"""FaceTracker with a scripted model: identities kept through two faces crossing, drift stopped by re-detection,
a new track after a cut (the old one lost by the face-presence test), the loss rule's model-based tests, the
smoothed output, and bad settings."""
import numpy as np
import pytest

import mmfacealign.apis.image_inference as image_inference
from mmfacealign.apis import FaceTracker, TrackLossRule, shape_residual
from mmfacealign.apis.track_loss_rule import reference_shape
from mmfacealign.utils.boxes import box_iou, landmark_box

FRAME = np.zeros((240, 320, 3), np.uint8)
TEMPLATE = reference_shape(68)


def place(centre, size=60.0):
    t = TEMPLATE - TEMPLATE.mean(0)
    return t / np.ptp(t, axis=0).max() * size + np.asarray(centre, np.float64)


class Scene:
    """Faces per frame and a scripted model: in a crop, the face with the largest IoU, moved with the crop
    (pred = face + follow x (crop centre - face's box centre) + bias: with follow = 1 it trusts the crop fully, so
    a tracker that feeds its own prediction back accumulates the bias); no face in the crop: the template in the
    crop, every landmark 'occluded'."""

    def __init__(self, faces, bias=(0.0, 0.0), follow=0.5, graded=False):
        self.faces, self.bias, self.follow, self.index, self.calls = faces, np.asarray(bias), follow, 0, 0
        self.graded = graded     # occlusion probability 1 - IoU(crop, face): rises as the crop slides off

    def boxes(self):
        return np.stack([landmark_box(f) for f in self.faces[self.index]]).reshape(-1, 4)

    def align_faces(self, model, img, bboxes=None, box_convention=None, **kw):
        self.calls += 1
        out = []
        for box in np.asarray(bboxes, np.float64).reshape(-1, 4):
            faces = self.faces[self.index]
            iou = box_iou(box, np.stack([landmark_box(f) for f in faces]))[0] if faces else np.zeros(0)
            centre = (box[:2] + box[2:]) / 2
            if len(iou) and iou.max() > 0.1:
                f = faces[int(iou.argmax())]
                fc = (landmark_box(f)[:2] + landmark_box(f)[2:]) / 2
                kpts = f + self.follow * (centre - fc) + self.bias
                occ = np.full(68, 1 - iou.max()) if self.graded else np.zeros(68)
            else:
                kpts, occ = place(centre, box[2] - box[0]), np.ones(68)
            out.append(dict(keypoints=kpts, keypoint_scores=np.ones(68), score=1.0, keypoints_occluded=occ))
        return out

    def detector(self, frame):
        return self.boxes()


def run(scene, n, monkeypatch, **kw):
    monkeypatch.setattr(image_inference, 'align_faces', scene.align_faces)
    tracker = FaceTracker(object(), detector=kw.pop('detector', scene.detector), **kw)
    results = []
    for i in range(n):
        scene.index = i
        results.append(tracker.step(FRAME))
    return tracker, results


def test_two_faces_crossing_keep_their_ids(monkeypatch):
    # A moves right, B left, 6 px per frame, 10 px apart vertically: their boxes overlap around frame 10
    faces = [[place((100 + 6 * t, 110)), place((220 - 6 * t, 120))] for t in range(21)]
    scene = Scene(faces)
    _, results = run(scene, 21, monkeypatch, redetect_interval=1)
    for t, res in enumerate(results):
        by_id = {f['track_id']: f['keypoints'] for f in res['faces']}
        assert sorted(by_id) == [0, 1], (t, res['lost'])
        # track 0 is A (started left) all through, track 1 is B
        assert np.abs(by_id[0] - faces[t][0]).max() < 8 and np.abs(by_id[1] - faces[t][1]).max() < 8, t
    # the tracks' boxes are the predictions' landmark boxes, moved by their last motion (6 px) on frame 21
    scene.index = 20


@pytest.mark.parametrize('reanchor_iou', [1.0, 0.0])
def test_redetection_stops_drift(reanchor_iou, monkeypatch):
    """The scripted model keeps 90% of the crop's error and adds a 0.5 px bias: a tracker that feeds its own boxes
    back drifts by several pixels, which no loss test sees (each frame moves little). Re-detection every 10 frames
    resets it when the track is re-anchored on its detection (reanchor_iou=1: always); with reanchor_iou=0 the
    detections only associate, and the error is that of the tracker without a detector."""
    faces = [[place((160 + t, 120))] for t in range(40)]
    errors = {}
    for interval, detector in ((None, None), (10, 'scene')):
        scene = Scene(faces, bias=(0.5, 0.0), follow=0.9)
        kw = dict(detector=scene.detector if detector else None, reanchor_iou=reanchor_iou)
        if interval:
            kw['redetect_interval'] = interval
        monkeypatch.setattr(image_inference, 'align_faces', scene.align_faces)
        tracker = FaceTracker(object(), **kw)
        err = []
        for i in range(40):
            scene.index = i
            res = tracker.step(FRAME, detections=scene.boxes() if i == 0 else None)
            err.append(np.abs(res['faces'][0]['keypoints'] - faces[i][0]).mean(0)[0] if res['faces'] else np.inf)
        errors[interval] = np.asarray(err)
    assert errors[None][10:].mean() > 4
    if reanchor_iou == 1.0:
        assert np.all(errors[10][::10] <= 0.5 + 1e-6) and errors[10].mean() < 0.75 * errors[None].mean()
    else:
        np.testing.assert_allclose(errors[10], errors[None])


def test_reanchoring_threshold_by_hand():
    """A matched track keeps its own box unless its IoU with the detection is below reanchor_iou (0.6)."""
    from mmfacealign.apis.face_tracker import _Track
    tracker = FaceTracker(object(), detector=None)
    box = np.array([0.0, 0.0, 100.0, 100.0])
    for shift, reanchored in ((15.0, False), (30.0, True)):   # IoU 85/115 = 0.74; 70/130 = 0.54
        tracker.tracks = [_Track(0, place((50, 50)), box.copy(), np.zeros(4))]
        boxes, from_det = [box.copy()], [False]
        det = box + [shift, 0, shift, 0]
        assert tracker._assign(det[None], boxes, from_det, []) == []   # matched: no new track
        assert from_det == [reanchored] and np.array_equal(boxes[0], det if reanchored else box)


def test_a_doubtful_track_is_redetected_and_duplicates_end(monkeypatch):
    """No periodic detection: a track whose mean occlusion probability exceeds redetect_occluded (0.4) triggers a
    detection on that frame and is re-anchored; without that trigger it drifts on. Two detections of one face give
    one track."""
    faces = [[place((160 + t, 120))] for t in range(40)]
    worst = {}
    for trigger in (0.4, None):
        scene = Scene(faces, bias=(2.0, 0.0), follow=0.9, graded=True)
        monkeypatch.setattr(image_inference, 'align_faces', scene.align_faces)
        tracker = FaceTracker(object(), detector=scene.detector, redetect_interval=1000, redetect_occluded=trigger,
                              rule=dict(max_occluded=None))
        err, detected = [], []
        for i in range(40):
            scene.index = i
            res = tracker.step(FRAME)
            err.append(np.abs(res['faces'][0]['keypoints'] - faces[i][0]).mean(0)[0])
            detected.append(res['detected'])
        worst[trigger] = max(err[5:])
        if trigger is not None:
            assert sum(detected[1:]) >= 2                         # detections came from the doubt alone
    assert worst[0.4] < 0.6 * worst[None]
    scene = Scene([[place((160, 120))]] * 3)
    _, results = run(scene, 3, monkeypatch, detector=lambda frame: np.stack([landmark_box(place((160, 120))),
                                                                              landmark_box(place((162, 121)))]))
    assert [[f['track_id'] for f in r['faces']] for r in results] == [[0], [0], [0]]


def test_a_cut_ends_the_track_and_starts_a_new_one(monkeypatch):
    faces = [[place((90, 110))]] * 12 + [[place((240, 130))]] * 8
    scene = Scene(faces)
    _, results = run(scene, 20, monkeypatch, redetect_interval=50)
    cut = results[12]
    # the old crop now holds no face: every landmark 'occluded' -> lost -> detection on the same frame -> the
    # face elsewhere starts track 1 at once
    assert [lost['track_id'] for lost in cut['lost']] == [0] and 'occlusion probability 1.00' in cut['lost'][0][
        'reason']
    assert cut['detected'] and [f['track_id'] for f in cut['faces']] == [1] and cut['faces'][0]['new']
    assert np.abs(cut['faces'][0]['keypoints'] - faces[12][0]).max() < 1
    assert all([f['track_id'] for f in r['faces']] == [1] for r in results[13:])
    assert not any(r['detected'] for r in results[13:])          # tracked, not detected, after that


def test_smoothing_is_applied_to_the_output_not_the_crops(monkeypatch):
    rng = np.random.default_rng(0)
    faces = [[place((160, 120)) + rng.normal(0, 1.0, (68, 2))] for _ in range(30)]
    scene = Scene(faces)
    _, results = run(scene, 30, monkeypatch, redetect_interval=1, smoothing=True, reanchor_iou=1.0)
    out = np.stack([r['faces'][0]['keypoints'] for r in results])
    raw = np.stack([r['faces'][0]['keypoints_raw'] for r in results])
    jitter = lambda s: np.linalg.norm(np.diff(s, axis=0), axis=-1).mean()  # noqa: E731
    assert jitter(out[5:]) < 0.5 * jitter(raw[5:])
    # the crop of each frame is the detection (re-anchored on every one), not the smoothed landmarks
    np.testing.assert_allclose(results[7]['faces'][0]['bbox'], landmark_box(faces[7][0]))


def test_loss_rule_model_tests_and_settings():
    face = place((100, 100))
    assert shape_residual(face, TEMPLATE) == pytest.approx(0.0, abs=1e-9)   # a similarity copy of the template
    rot = np.array([[np.cos(0.3), -np.sin(0.3)], [np.sin(0.3), np.cos(0.3)]])
    assert shape_residual(face @ rot.T * 2 + 5, TEMPLATE) == pytest.approx(0.0, abs=1e-9)
    noisy = np.random.default_rng(0).normal(size=(68, 2))
    assert shape_residual(noisy, TEMPLATE) > 0.5
    rule = TrackLossRule(max_shape_residual=0.35, max_occluded=0.7, min_score=0.2)
    image = (240, 320, 3)
    assert rule.check(face, image, scores=np.ones(68), occluded=np.zeros(68)) is None
    assert 'implausible shape' in rule.check(noisy * 30 + 100, image)
    assert 'occlusion probability 0.80' in rule.check(face, image, occluded=np.full(68, 0.8))
    assert 'keypoint score 0.10' in rule.check(face, image, scores=np.full(68, 0.1))
    assert TrackLossRule(max_shape_residual=0.35).check(noisy[:19] * 30 + 100, image) is None  # no 19-pt reference
    with pytest.raises(ValueError, match='redetect_interval'):
        FaceTracker(object(), detector=None, redetect_interval=0)
    with pytest.raises(ValueError, match='beta'):
        FaceTracker(object(), detector=None, smoothing=dict(beta=-1))
