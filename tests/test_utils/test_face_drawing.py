# Copyright (c) mmfacealign contributors. All rights reserved.
"""Landmark drawing (mmfacealign.visualization.face_drawing, FaceAlignmentVisualizer, apis.draw_faces): contours
of the right groups only, markers sized to the face, occluded landmarks marked, the old calls unchanged."""
import numpy as np
import pytest

from mmfacealign.apis import draw_faces
from mmfacealign.datasets.synthface.mean_shape import template_shape
from mmfacealign.models.utils.landmark_groups import IBUG68_GROUPS, WFLW98_GROUPS
from mmfacealign.visualization import FaceAlignmentVisualizer
from mmfacealign.visualization.face_drawing import contour_links, draw_face_landmarks, face_diagonal, marker_sizes

RED_BGR, CYAN_BGR = (0, 0, 255), (255, 255, 0)


def face68(half_width: float, center=(200.0, 200.0)) -> np.ndarray:
    """SynthFace's template face (jaw 2 units wide) scaled to ``2 * half_width`` pixels."""
    return template_shape() * half_width + np.asarray(center)


def painted(img: np.ndarray) -> np.ndarray:
    return img.max(axis=-1) > 40


def red(img_bgr: np.ndarray) -> np.ndarray:
    return (img_bgr[..., 2] > 100) & (img_bgr[..., :2].max(-1) < 60)


def cyan(img_bgr: np.ndarray) -> np.ndarray:
    return (img_bgr[..., :2].min(-1) > 100) & (img_bgr[..., 2] < 60)


def magenta(img_bgr: np.ndarray) -> np.ndarray:
    return (img_bgr[..., [0, 2]].min(-1) > 150) & (img_bgr[..., 1] < 80)


def along(p, q, ts=np.linspace(0.3, 0.7, 9)):
    """Pixel positions (row, col) at fractions ``ts`` of the segment p -> q."""
    pts = np.asarray(p)[None] + ts[:, None] * (np.asarray(q) - np.asarray(p))[None]
    return np.round(pts[:, ::-1]).astype(int)


def near(mask: np.ndarray, rc, r: int = 1) -> bool:
    y, x = rc
    return bool(mask[y - r:y + r + 1, x - r:x + r + 1].any())


def test_contour_links_come_from_the_landmark_groups():
    links = set(contour_links(68))
    for name, idx in IBUG68_GROUPS.items():                       # every group is a chain ...
        assert all((a, b) in links for a, b in zip(idx[:-1], idx[1:])), name
        closed = (idx[-1], idx[0]) in links                          # ... and only eyes and lips close
        assert closed == (name in ('right_eye', 'left_eye', 'outer_lips', 'inner_lips')), name
    group_of = {i: name for name, idx in IBUG68_GROUPS.items() for i in idx}
    assert all(group_of[a] == group_of[b] for a, b in links)      # no link between groups (16-17, 26-27, ...)
    assert len(links) == 63
    wflw = set(contour_links(98))
    assert (41, 33) in wflw and (67, 60) in wflw and (32, 0) not in wflw   # WFLW brows go round; jaw open
    assert not any(96 in link or 97 in link for link in wflw)               # pupils: points
    assert all(WFLW98_GROUPS['jaw'][k] in {a for a, _ in wflw} for k in range(32))
    assert contour_links(29) == [] and contour_links(19) == []              # COFW, AFLW: points only
    assert contour_links(19, dict(skeleton_links=[[0, 1], [1, 2]])) == [(0, 1), (1, 2)]   # a dataset skeleton
    assert contour_links(68, dict(skeleton_links=[])) == contour_links(68)  # MMPose's empty skeleton_info
    assert contour_links(19, dict(skeleton_links=[[0, 40]])) == []          # a skeleton of another layout


def test_contours_join_consecutive_points_of_a_group_only():
    pts = face68(120)
    blank = np.zeros((400, 400, 3), np.uint8)
    drawn = draw_faces(blank, [dict(keypoints=pts, bbox=[0, 0, 1, 1])], draw_bbox=False)
    mask = painted(drawn)
    for a, b in [(3, 4), (8, 9), (15, 16), (19, 20), (28, 29), (32, 33), (37, 38), (41, 36), (59, 48), (67, 60)]:
        assert all(near(red(drawn), rc) for rc in along(pts[a], pts[b])), (a, b)
    for a, b in [(16, 17), (26, 27), (30, 31), (35, 36), (47, 48)]:   # across groups: at most crossings
        hits = np.mean([near(mask, rc, 0) for rc in along(pts[a], pts[b], np.linspace(0.1, 0.9, 41))])
        assert hits < 0.35, (a, b, hits)
    points_only = draw_faces(blank, [dict(keypoints=pts, bbox=[0, 0, 1, 1])], draw_bbox=False, draw_contours=False)
    assert not any(near(painted(points_only), rc) for rc in along(pts[3], pts[4]))
    assert painted(points_only).sum() < 0.8 * mask.sum()


def test_markers_scale_with_the_face():
    assert marker_sizes(0) == (1, 1) and marker_sizes(85) == (1, 1)          # a 60-px face
    assert marker_sizes(850) == (7, 3)                                       # a 600-px face
    assert marker_sizes(1e5) == (10, 4) and marker_sizes(850, radius=2, line_width=1) == (2, 1)
    counts = {}
    for half, win in ((30, 2), (300, 20)):                                   # 60 px and 600 px wide
        pts = face68(half, center=(350, 350))
        drawn = draw_face_landmarks(np.zeros((700, 700, 3), np.uint8), pts, RED_BGR, links=None)
        x, y = np.round(pts[8]).astype(int)                                 # the chin, 6 / 60 px from its neighbours
        counts[half] = int(painted(drawn)[y - win:y + win + 1, x - win:x + win + 1].sum())
        radius, _ = marker_sizes(face_diagonal(pts))
        assert np.pi * (radius - 0.5) ** 2 <= counts[half] <= np.pi * (radius + 1.5) ** 2, (half, counts, radius)
    assert counts[300] > 10 * counts[30]
    # the contour width too: the jaw line of the large face is about 3 px wide, of the small one 1-2 px
    for half, lo, hi in ((30, 1, 2), (300, 3, 5)):
        pts = face68(half, center=(350, 350))
        drawn = draw_face_landmarks(np.zeros((700, 700, 3), np.uint8), pts, RED_BGR)
        mid = np.round((pts[3] + pts[4]) / 2).astype(int)
        normal = np.array([pts[4][1] - pts[3][1], pts[3][0] - pts[4][0]])
        normal /= np.linalg.norm(normal)
        width = sum(painted(drawn)[tuple(np.round(mid + t * normal).astype(int)[::-1])] for t in np.arange(-8, 9))
        assert lo <= width <= hi, (half, width)


def test_occluded_points_are_hollow_rings_of_another_colour():
    pts = face68(150)
    occ_prob = np.zeros(68)
    occ_prob[[8, 30, 36]] = [0.9, 0.6, 0.4]
    blank = np.zeros((400, 400, 3), np.uint8)
    face = dict(keypoints=pts, bbox=[0, 0, 1, 1], keypoints_occluded=occ_prob)
    drawn = draw_faces(blank, [face], draw_bbox=False, draw_contours=False)
    radius, _ = marker_sizes(face_diagonal(pts))
    for k in range(68):
        x, y = np.round(pts[k]).astype(int)
        if occ_prob[k] > 0.5:                        # hollow: background at the centre, magenta on the ring
            assert tuple(drawn[y, x]) == (0, 0, 0), k
            ring = drawn[y - radius - 2:y + radius + 3, x - radius - 2:x + radius + 3]
            assert magenta(ring).sum() >= 8 and not red(ring).any(), k
        else:                                        # 0.4 is below the default threshold: filled red
            assert tuple(drawn[y, x]) == RED_BGR, k
    booleans = draw_faces(blank, [dict(face, keypoints_occluded=occ_prob > 0.5)], draw_bbox=False,
                          draw_contours=False)
    assert np.array_equal(booleans, drawn)
    x, y = np.round(pts[30]).astype(int)
    strict = draw_faces(blank, [face], draw_bbox=False, draw_contours=False, occluded_thr=0.7)
    assert tuple(strict[y, x]) == RED_BGR                             # 0.6 is not occluded at 0.7
    with pytest.raises(ValueError, match='68 landmarks'):
        draw_faces(blank, [dict(face, keypoints_occluded=occ_prob[:10])])


def test_without_occlusion_flags_points_are_filled_discs_as_before():
    pts = face68(100)
    blank = np.full((400, 400, 3), 30, np.uint8)
    face = dict(keypoints=pts, bbox=[40, 40, 360, 360])
    drawn = draw_faces(blank, [face], draw_bbox=False, draw_contours=False, radius=2)
    assert np.array_equal(drawn, draw_faces(blank, [dict(face, keypoints_occluded=np.zeros(68))], draw_bbox=False,
                                            draw_contours=False, radius=2))
    yy, xx = np.mgrid[:400, :400]
    dist = np.min(np.hypot(xx[..., None] - pts[:, 0], yy[..., None] - pts[:, 1]), axis=-1)
    changed = (np.abs(drawn.astype(int) - blank).max(-1) > 8)        # (anti-aliasing leaves faint edges)
    assert not changed[dist > 4.0].any()                              # nothing but the discs ...
    assert all(tuple(drawn[y, x]) == RED_BGR for x, y in np.round(pts).astype(int))   # ... red at every landmark
    assert red(drawn[dist <= 1.2]).all()
    with_box = draw_faces(blank, [face])                               # the default call still draws the box
    assert (with_box[40, 100:300] == 255).all() and painted(with_box).sum() > changed.sum()


def test_visualizer_overlay_gt_and_pred_with_contours():
    vis = FaceAlignmentVisualizer(name='test_face_drawing_overlay')
    gt = face68(100)
    pred = gt + np.array([25.0, 0.0])
    blank = np.zeros((400, 400, 3), np.uint8)
    drawn = vis.draw_landmarks(blank, gt, pred)                         # the old positional call, RGB
    green = (drawn[..., 1] > 100) & (drawn[..., [0, 2]].max(-1) < 60)
    red = (drawn[..., 0] > 100) & (drawn[..., 1:].max(-1) < 60)
    yellow = (drawn[..., :2].min(-1) > 100) & (drawn[..., 2] < 60)
    assert all(near(green, rc) for rc in along(gt[3], gt[4]))
    assert all(near(red, rc) for rc in along(pred[3], pred[4]))
    assert all(near(yellow, rc) for rc in along(gt[8], pred[8]))       # the error line of the chin
    points = vis.draw_landmarks(blank, gt, pred, draw_contours=False)
    assert not any(near(painted(points), rc) for rc in along(gt[3], gt[4]))
    no_contours = FaceAlignmentVisualizer(name='test_face_drawing_points', draw_contours=False, point_radius=2,
                                          draw_error_lines=False)
    only = no_contours.draw_landmarks(blank, gt, None)
    x, y = np.round(gt[30]).astype(int)
    assert tuple(only[y, x]) == (0, 255, 0) and painted(only).sum() < 68 * 30
    ring = vis.draw_landmarks(blank, None, pred, pred_occluded=np.arange(68) == 30, draw_contours=False)
    x, y = np.round(pred[30]).astype(int)
    around = ring[y - 6:y + 7, x - 6:x + 7, ::-1]                      # RGB -> BGR
    assert tuple(ring[y, x]) == (0, 0, 0) and magenta(around).sum() >= 8 and cyan(around).sum() == 0
    # a ground-truth flag: a cyan ring, so the two sets' rings can be told apart
    ring = vis.draw_landmarks(blank, gt, None, gt_occluded=np.arange(68) == 30, draw_contours=False)
    x, y = np.round(gt[30]).astype(int)
    assert tuple(ring[y, x]) == (0, 0, 0) and cyan(ring[y - 6:y + 7, x - 6:x + 7, ::-1]).sum() >= 8


def test_visualizer_add_datasample_draws_each_instance(tmp_path):
    import cv2
    from mmengine.structures import InstanceData
    from mmpose.structures import PoseDataSample
    vis = FaceAlignmentVisualizer(name='test_face_drawing_sample')
    gt = np.stack([face68(60, (100, 100)), face68(60, (300, 300))])
    sample = PoseDataSample(gt_instances=InstanceData(keypoints=gt),
                            pred_instances=InstanceData(keypoints=gt + 10, keypoints_occluded=np.zeros((2, 68))))
    out = str(tmp_path / 'sample.png')
    vis.add_datasample('s', np.zeros((400, 400, 3), np.uint8), sample, out_file=out)
    drawn = cv2.imread(out)[..., ::-1]
    green = (drawn[..., 1] > 100) & (drawn[..., [0, 2]].max(-1) < 60)
    for face in gt:                                                     # contours of both faces, not between
        assert all(near(green, rc) for rc in along(face[3], face[4]))
    assert not any(near(painted(drawn), rc, 0) for rc in along(gt[0][8], gt[1][0], np.linspace(0.3, 0.45, 5)))


def test_other_layouts_points_only_unless_the_dataset_has_a_skeleton():
    rng = np.random.default_rng(0)
    pts = rng.uniform(40, 360, (29, 2))
    blank = np.zeros((400, 400, 3), np.uint8)
    a = draw_face_landmarks(blank, pts, RED_BGR)
    assert np.array_equal(a, draw_face_landmarks(blank, pts, RED_BGR, links=None))
    meta = dict(skeleton_links=[(0, 1)])
    b = draw_face_landmarks(blank, pts, RED_BGR, dataset_meta=meta)
    assert all(near(painted(b), rc) for rc in along(pts[0], pts[1]))
    wflw = np.concatenate([face68(100)[:17], rng.uniform(150, 250, (81, 2))])   # any 98 points: the jaw is joined
    c = draw_face_landmarks(blank, wflw, RED_BGR)
    jaw = WFLW98_GROUPS['jaw']
    assert all(near(painted(c), rc) for rc in along(wflw[jaw[0]], wflw[jaw[1]]))
