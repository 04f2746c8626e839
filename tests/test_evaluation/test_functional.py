# Copyright (c) mmfacealign contributors. All rights reserved.
"""Pure-numpy pieces of the face-alignment evaluation, against hand-computed values."""
import numpy as np
import pytest

from mmfacealign.evaluation.functional import (
    DATASET_NORMALIZERS,
    auc_ced,
    auc_trapezoid,
    bbox_normalizer,
    ced_curve,
    ced_values,
    compute_normalizers,
    failure_rate,
    get_norm_spec,
    inter_ocular_distance,
    inter_pupil_distance,
    normalized_landmark_errors,
    per_image_nme,
    per_landmark_nme,
    pooled_nme,
    resolve_norm,
)


# ------------------------------------------------------------------------------------------ normalisers
def test_inter_ocular_and_inter_pupil_by_hand():
    gt = np.zeros((1, 68, 2))
    gt[0, 36:42] = [[0, 0], [1, -1], [2, -1], [3, 0], [2, 1], [1, 1]]   # right eye, centre (1.5, 0)
    gt[0, 42:48] = gt[0, 36:42] + [10, 0]                                # left eye, centre (11.5, 0)
    assert inter_ocular_distance(gt, 36, 45)[0] == pytest.approx(13.0)   # (0,0) -> (13,0)
    assert inter_pupil_distance(gt, range(36, 42), range(42, 48))[0] == pytest.approx(10.0)
    mode, idx = resolve_norm('inter_pupil', '300w', 68)
    assert compute_normalizers(mode, gt, idx)[0] == pytest.approx(10.0)


def test_box_normalisers_by_hand():
    boxes = np.array([[10, 20, 13, 24], [0, 0, 9, 4]], dtype=float)   # 3x4 and 9x4
    np.testing.assert_allclose(bbox_normalizer(boxes, 'bbox_size'), [np.sqrt(12), 6.0])
    np.testing.assert_allclose(bbox_normalizer(boxes, 'bbox_width'), [3.0, 9.0])
    np.testing.assert_allclose(bbox_normalizer(boxes, 'bbox_diagonal'), [5.0, np.sqrt(97)])
    np.testing.assert_allclose(compute_normalizers('box_size', np.zeros((2, 19, 2)), box_size=[7.5, 2.0]), [7.5, 2])
    with pytest.raises(ValueError, match='gt_instances.bboxes'):
        compute_normalizers('bbox_size', np.zeros((2, 19, 2)))


@pytest.mark.parametrize('name, k, mode, indices', [
    ('300w', 68, 'inter_ocular', (36, 45)),
    ('300vw', 68, 'inter_ocular', (36, 45)),
    ('synthface', 68, 'inter_ocular', (36, 45)),
    ('wflw', 98, 'inter_ocular', (60, 72)),
    ('cofw', 29, 'inter_ocular', (8, 9)),
    ('cofw', 68, 'inter_ocular', (36, 45)),
    ('aflw', 19, 'box_size', None),
])
def test_dataset_defaults(name, k, mode, indices):
    assert resolve_norm('auto', name, k) == (mode, indices)


def test_official_inter_pupil_definitions():
    assert resolve_norm('inter_pupil', 'wflw', 98)[1] == ((96, ), (97, ))
    assert resolve_norm('inter_pupil', 'cofw', 29)[1] == ((16, ), (17, ))
    assert resolve_norm('inter_pupil', '300w', 68)[1] == (tuple(range(36, 42)), tuple(range(42, 48)))
    # explicit indices override the defaults, also for unknown datasets
    assert resolve_norm('inter_ocular', 'mine', 5, norm_indices=[0, 4]) == ('inter_ocular', (0, 4))
    assert resolve_norm('inter_pupil', 'mine', 5, norm_indices=[[0, 1], 4]) == ('inter_pupil', ((0, 1), (4, )))
    assert resolve_norm('bbox_diagonal', 'mine', 5) == ('bbox_diagonal', None)


def test_unknown_dataset_and_bad_indices_are_clear_errors():
    with pytest.raises(ValueError, match=r"no default NME normaliser for dataset 'myfaces'.*explicit norm_mode"):
        resolve_norm('auto', 'myfaces', 40)
    with pytest.raises(ValueError, match=r"'cofw' with 30 keypoints"):
        get_norm_spec('cofw', 30)
    with pytest.raises(ValueError, match='no default inter_pupil'):
        resolve_norm('inter_pupil', 'lapa', 106)
    with pytest.raises(ValueError, match=r'landmarks \[70\], outside 0..67'):
        resolve_norm('inter_ocular', '300w', 68, norm_indices=(36, 70))
    with pytest.raises(ValueError, match='unknown norm_mode'):
        resolve_norm('interocular', '300w', 68)
    with pytest.raises(ValueError, match='must be a pair'):
        resolve_norm('inter_ocular', '300w', 68, norm_indices=(1, 2, 3))
    assert set(DATASET_NORMALIZERS) >= {'300w', 'wflw', 'cofw', 'aflw', '300vw', 'synthface'}


# ------------------------------------------------------------------------------------------ NME
def test_per_image_nme_by_hand():
    gt = np.zeros((2, 3, 2))
    pred = gt.copy()
    pred[0, :, 0] = [1, 2, 3]          # errors 1, 2, 3 px
    pred[1, :, 1] = [4, 0, 8]          # errors 4, 0, 8 px
    e = normalized_landmark_errors(pred, gt, [2.0, 4.0])
    np.testing.assert_allclose(e, [[0.5, 1.0, 1.5], [1.0, 0.0, 2.0]])
    np.testing.assert_allclose(per_image_nme(e), [1.0, 1.0])
    mask = np.array([[1, 1, 0], [1, 0, 1]], bool)
    np.testing.assert_allclose(per_image_nme(e, mask), [0.75, 1.5])
    np.testing.assert_allclose(per_landmark_nme(e, mask), [0.75, 1.0, 2.0])   # (0.5 + 1) / 2, 1, 2
    lm = per_landmark_nme(e, np.array([[1, 0, 1], [1, 0, 1]], bool))
    assert np.isnan(lm[1]) and lm[0] == pytest.approx(0.75)
    assert pooled_nme(e, mask) == pytest.approx((0.5 + 1.0 + 1.0 + 2.0) / 4)
    assert pooled_nme(e, np.zeros_like(mask)) is None
    with pytest.raises(ValueError, match=r'images \[1\] have no labelled landmark'):
        per_image_nme(e, np.array([[1, 0, 0], [0, 0, 0]], bool))


def test_zero_inter_ocular_normaliser_is_an_error_not_inf():
    """Coinciding outer eye corners give a zero inter-ocular distance; the errors are not silently Inf/NaN."""
    gt = np.random.default_rng(0).uniform(0, 100, (3, 68, 2))
    gt[1, 45] = gt[1, 36]
    d = compute_normalizers('inter_ocular', gt, (36, 45))
    assert d[1] == 0 and (d[[0, 2]] > 0).all()
    with pytest.raises(ValueError, match=r'normaliser is zero, negative or not finite for 1 image\(s\), indices \[1\]'):
        normalized_landmark_errors(gt + 1, gt, d)
    with pytest.raises(ValueError, match=r'indices \[0, 2\]'):
        normalized_landmark_errors(gt + 1, gt, [np.nan, 1.0, -2.0])
    assert np.isfinite(normalized_landmark_errors(gt[[0, 2]] + 1, gt[[0, 2]], d[[0, 2]])).all()


# ------------------------------------------------------------------------------------------ CED / FR / AUC
ERRORS = [0.02, 0.05, 0.08, 0.12]


def test_failure_rate_and_auc_by_hand():
    assert failure_rate(ERRORS, 0.1) == pytest.approx(0.25)
    assert failure_rate(ERRORS, 0.05) == pytest.approx(0.5)       # 0.05 itself is not a failure
    assert failure_rate(ERRORS, 0.01) == pytest.approx(1.0)
    # integral_0^0.1 F = (0.08 + 0.05 + 0.02) / 4 = 0.0375 -> / 0.1
    assert auc_ced(ERRORS, 0.1) == pytest.approx(0.375)
    # t = 0.08: (0.06 + 0.03 + 0) / 4 / 0.08
    assert auc_ced(ERRORS, 0.08) == pytest.approx(0.28125)
    assert auc_ced([0.0, 0.0], 0.1) == pytest.approx(1.0)
    assert auc_ced([0.3], 0.1) == 0.0


def test_ced_values_and_curve():
    np.testing.assert_allclose(ced_values(ERRORS, [0, 0.02, 0.03, 0.08, 0.2]), [0, 0.25, 0.25, 0.75, 1.0])
    x, y = ced_curve(ERRORS, 0.1, 11)
    np.testing.assert_allclose(x, np.linspace(0, 0.1, 11))
    assert y[0] == 0 and y[-1] == 0.75 and np.all(np.diff(y) >= 0)


def test_exact_auc_matches_a_fine_grid_to_the_third_decimal():
    rng = np.random.default_rng(0)
    errors = np.abs(rng.normal(0.05, 0.03, 500))
    exact = auc_ced(errors, 0.1)
    fine = auc_trapezoid(errors, 0.1, step=1e-5)
    assert abs(fine - exact) < 1e-4
    assert round(auc_trapezoid(errors, 0.1, step=1e-4), 3) == round(exact, 3)
    # papers' coarse 20-point grids are visibly off; the exact value is not
    assert abs(auc_trapezoid(ERRORS, 0.1, step=0.005) - 0.375) > 1e-3


def test_bad_errors_and_thresholds_raise():
    with pytest.raises(ValueError, match='non-finite'):
        failure_rate([0.1, np.nan])
    with pytest.raises(ValueError, match='no per-image errors'):
        auc_ced([], 0.1)
    with pytest.raises(ValueError, match='positive'):
        auc_ced(ERRORS, 0.0)


def test_per_face_nme_numpy_and_torch_agree_with_a_hand_computation():
    import torch

    from mmfacealign.evaluation.functional import per_face_nme, per_face_nme_torch
    gt = np.zeros((2, 3, 2))
    pred = gt.copy()
    pred[0, 0] = [3, 4]                     # face 0: errors 5, 0, 0 -> mean 5/3, over d = 2 -> 5/6
    pred[1, 1] = [0, 2]                     # face 1: errors 0, 2, 0; with the mask (1, 1, 0): 1, over d = 4
    d = np.array([2., 4.])
    np.testing.assert_allclose(per_face_nme(pred, gt, d), [5 / 6, 2 / 3 / 4])
    mask = np.array([[1, 1, 1], [1, 1, 0]], bool)
    np.testing.assert_allclose(per_face_nme(pred, gt, d, mask), [5 / 6, 1 / 4])
    t = per_face_nme_torch(torch.tensor(pred), torch.tensor(gt), torch.tensor(d), torch.tensor(mask))
    np.testing.assert_allclose(t.numpy(), [5 / 6, 1 / 4])
    # (B, T, K, 2) cascade stages against one target, normalisers (B, 1)
    stages = torch.tensor(np.stack([pred, gt], 1))                                   # (2, 2, 3, 2)
    out = per_face_nme_torch(stages, torch.tensor(gt)[:, None], torch.tensor(d)[:, None])
    np.testing.assert_allclose(out.numpy(), [[5 / 6, 0], [2 / 3 / 4, 0]])
