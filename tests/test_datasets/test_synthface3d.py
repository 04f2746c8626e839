# Copyright (c) mmfacealign contributors. All rights reserved.
"""SynthFace's '3d' style: head geometry (camera, silhouette contour), rendering switches, determinism."""
import cv2
import numpy as np
import pytest

from mmfacealign.datasets.synthface import SynthFaceConfig, generate_sample
from mmfacealign.datasets.synthface.head3d import (
    Camera,
    lift_shape,
    raycast_ellipsoid,
    remove_pose_modes,
    silhouette_contour,
)
from mmfacealign.datasets.synthface.mean_shape import template_depth, template_shape
from mmfacealign.datasets.synthface.renderer3d import RenderFeatures, build_geometry
from mmfacealign.datasets.synthface.shape_model import PointDistributionModel

JAW = list(range(17))
OFFLINE = dict(photo_background=False, photo_occluders=False)   # no photo bank: the geometry tests need none


def _jaw3d():
    return lift_shape(template_shape(), template_depth())[JAW]


# ------------------------------------------------------------------------------------------------ camera
def test_camera_projection_by_hand():
    cam = Camera(yaw=np.radians(90), distance=4.0)
    # a point at x = 1 turned 90 degrees about y goes to z = -1 (away from the camera): x' = 0
    np.testing.assert_allclose(cam.to_camera(np.array([[1.0, 0.0, 0.0]])), [[0.0, 0.0, -1.0]], atol=1e-12)
    # pinhole: (X, Y) * d / (d - Z); a point at depth Z = 2 with d = 4 is magnified twice
    cam = Camera(distance=4.0)
    np.testing.assert_allclose(cam.project(np.array([[0.5, -0.25, 2.0]])), [[1.0, -0.5]])
    np.testing.assert_allclose(cam.project(np.array([[0.5, -0.25, 0.0]])), [[0.5, -0.25]])


def test_perspective_foreshortens_the_far_side():
    """At yaw 40 degrees the far half of the jaw (x > 0 turns away) is narrower in the image than the near half."""
    pts = Camera(yaw=np.radians(40), distance=6.0).project(lift_shape(template_shape(), template_depth()))
    nose = pts[30, 0]
    assert pts[16, 0] - nose < nose - pts[0, 0]


# ------------------------------------------------------------------------------------------------ contour
def test_frontal_contour_is_unchanged():
    jaw = _jaw3d()
    np.testing.assert_array_equal(silhouette_contour(jaw, Camera().rotation), jaw)


@pytest.mark.parametrize('yaw_deg', [30, 60, -60])
def test_far_side_contour_points_lie_on_the_silhouette(yaw_deg):
    """By hand: each far-side point is the extreme image x of its cross-section ellipse (sampled densely), and
    near-side points do not move."""
    jaw = _jaw3d()
    rot = Camera(yaw=np.radians(yaw_deg)).rotation
    out = silhouette_contour(jaw, rot)
    far = [i for i in JAW if np.sign(jaw[i, 0]) == np.sign(yaw_deg) and abs(jaw[i, 0]) > 1e-3]
    near = [i for i in JAW if np.sign(jaw[i, 0]) == -np.sign(yaw_deg)]
    np.testing.assert_array_equal(out[near], jaw[near])
    phi = np.linspace(0, 2 * np.pi, 20001)
    for i in far:
        a, zc = abs(jaw[i, 0]), jaw[i, 2]
        b = max(0.3 - zc, 0.05)
        ring = np.stack([a * np.cos(phi), np.full_like(phi, jaw[i, 1]), zc + b * np.sin(phi)], 1) @ rot.T
        extreme = ring[:, 0].max() if yaw_deg > 0 else ring[:, 0].min()
        assert (out[i] @ rot.T)[0] == pytest.approx(extreme, abs=1e-6)
        # the point moved forward (towards the face front) and stays on its cross-section
        assert out[i, 2] > jaw[i, 2]
        assert (out[i, 0] / a)**2 + ((out[i, 2] - zc) / b)**2 == pytest.approx(1.0)
    # the far-side contour in the image is wider than the hidden jaw line would be
    x_moved = (out[far] @ rot.T)[:, 0]
    x_hidden = (jaw[far] @ rot.T)[:, 0]
    assert (np.sign(yaw_deg) * (x_moved - x_hidden) > 0).all()


def test_remove_pose_modes_takes_yaw_out_of_a_shape():
    mean, depth = template_shape(), template_depth()
    turned = Camera(yaw=np.radians(8), distance=1e6).project(lift_shape(mean, depth))
    cleaned = remove_pose_modes(turned, mean, depth)
    assert np.abs(cleaned - mean).max() < 0.25 * np.abs(turned - mean).max()
    smile = mean.copy()
    smile[[48, 54], 1] -= 0.05                     # an expression is kept
    np.testing.assert_allclose(remove_pose_modes(smile, mean, depth)[[48, 54], 1], smile[[48, 54], 1], atol=0.02)


def test_raycast_normal_and_hit_by_hand():
    rot = np.eye(3)
    sphere = (np.zeros(3), np.ones(3))
    hit, normal, head = raycast_ellipsoid(np.array([[0.0, 0.6, 2.0]]), np.array([[0.0, 0.0, 0.0]]), rot, sphere)
    assert hit.tolist() == [[True, True, False]]
    np.testing.assert_allclose(normal[0, 0], [0, 0, 1], atol=1e-12)
    np.testing.assert_allclose(normal[0, 1], [0.6, 0, 0.8], atol=1e-12)
    np.testing.assert_allclose(head[0, 1], [0.6, 0, 0.8], atol=1e-12)


# ------------------------------------------------------------------------------------------------ images
def _cfg(**kw):
    return SynthFaceConfig(shape_model='builtin', style='3d', **kw)


def test_60_degree_yaw_renders_the_contour_on_the_face_edge():
    """At 60 degrees yaw the far-side contour points lie on the face's outline in the image: just beyond each of
    them (away from the face) there is no skin of the head; the points lie on an image edge."""
    pdm = PointDistributionModel.builtin()
    features = RenderFeatures(**OFFLINE, camera_effects=False, hair=False, ears=False, glasses=False,
                              facial_hair=False)
    from mmfacealign.datasets.synthface.renderer3d import render_face3d, sample_style3d
    rng = np.random.default_rng(0)
    geo = build_geometry(pdm.mean, pdm.depth, Camera(np.radians(60), 0, 0, 10), (128, 128), 160, features)
    img = np.zeros((256, 256, 3), np.uint8)
    img[...] = (255, 0, 255)                       # a background colour skin never has
    style = sample_style3d(rng, features)
    render_face3d(img, geo, style, features, rng)
    background = np.abs(img.astype(int) - (255, 0, 255)).max(-1) < 40
    u = geo.pts[16] - geo.pts[0]
    u /= np.linalg.norm(u)
    for i in range(12, 17):      # far side (image right), from the jaw top down to where the neck begins (12)
        inside = np.round(geo.pts[i] - u * 3).astype(int)
        beyond = np.round(geo.pts[i] + u * 3).astype(int)
        assert not background[inside[1], inside[0]], i
        assert background[beyond[1], beyond[0]], i


def test_each_feature_is_deterministic_and_changes_the_image():
    pdm = PointDistributionModel.builtin()
    base_img, base_ann = generate_sample(_cfg(), pdm, 'train', 3)
    again, _ = generate_sample(_cfg(), pdm, 'train', 3)
    np.testing.assert_array_equal(base_img, again)
    for name in RenderFeatures.names():
        cfg = _cfg(features={name: False})
        changed = 0
        for index in range(6):       # optional parts (glasses, beards, ...) appear on some faces only
            a, ann_a = generate_sample(cfg, pdm, 'train', index)
            b, ann_b = generate_sample(cfg, pdm, 'train', index)
            np.testing.assert_array_equal(a, b)
            np.testing.assert_array_equal(ann_a['keypoints'], ann_b['keypoints'])
            on, _ = generate_sample(_cfg(), pdm, 'train', index)
            changed += int(not np.array_equal(a, on))
        assert changed > 0, f'switching {name} off changed no image'


def test_3d_style_poses_are_wider_and_recorded():
    pdm = PointDistributionModel.builtin()
    yaws = [generate_sample(_cfg(features=OFFLINE), pdm, 'test', i)[1]['pose']['yaw'] for i in range(40)]
    assert max(abs(y) for y in yaws) > 30
    img, ann = generate_sample(_cfg(features=OFFLINE), pdm, 'test', 0)
    assert img.shape == (128, 128, 3) and ann['keypoints'].shape == (68, 2)


def test_unknown_style_or_feature_is_refused():
    with pytest.raises(ValueError, match='style'):
        SynthFaceConfig(style='photoreal')
    with pytest.raises(ValueError, match='shadng'):
        SynthFaceConfig(style='3d', features={'shadng': False})


def test_image_edges_follow_the_landmark_contours_3d():
    """As for the flat style: strong gradients at the eye and lip contours of the 3-D faces."""
    pdm = PointDistributionModel.builtin()
    ratios = []
    for i in range(10):
        img, ann = generate_sample(_cfg(features=dict(**OFFLINE, camera_effects=False)), pdm, 'test', i)
        gray = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY).astype(np.float32)
        mag = np.hypot(cv2.Sobel(gray, cv2.CV_32F, 1, 0), cv2.Sobel(gray, cv2.CV_32F, 0, 1))
        pts = np.round(ann['keypoints']).astype(int)
        lo, hi = pts.min(0), pts.max(0)
        ratios.append(mag[pts[36:68, 1], pts[36:68, 0]].mean() / mag[lo[1]:hi[1], lo[0]:hi[0]].mean())
    assert np.median(ratios) > 1.5


def test_random_grayscale_by_hand():
    from mmfacealign.datasets.transforms import RandomGrayscale
    img = np.zeros((2, 2, 3), np.uint8)
    img[..., 0], img[..., 1], img[..., 2] = 100, 50, 200            # B, G, R
    out = RandomGrayscale(prob=1.0).transform(dict(img=img.copy()))['img']
    expected = int(0.114 * 100 + 0.587 * 50 + 0.299 * 200)          # 100.6 -> 100
    assert out.shape == (2, 2, 3) and (out == expected).all()
    assert (RandomGrayscale(prob=0.0).transform(dict(img=img.copy()))['img'] == img).all()
    with pytest.raises(ValueError, match='prob'):
        RandomGrayscale(prob=2)
