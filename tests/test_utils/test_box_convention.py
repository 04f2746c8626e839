# Copyright (c) mmfacealign contributors. All rights reserved.
"""Face boxes in the models' convention (the landmark box): calibration by hand, fitting, crop error."""
import numpy as np
import pytest

from mmfacealign.apis import box_convention as bc


def test_calibration_applies_offset_and_scale_by_hand():
    cal = bc.BoxCalibration(dx=0.1, dy=-0.2, sw=1.5, sh=0.5)
    # box 100 x 200 centred at (150, 200): centre moves by (10, -40), size becomes 150 x 100
    out = cal.apply([[100, 100, 200, 300]])
    np.testing.assert_allclose(out, [[85, 110, 235, 210]])


def test_fit_recovers_a_known_calibration():
    rng = np.random.default_rng(0)
    true = bc.BoxCalibration(dx=0.03, dy=0.12, sw=1.1, sh=0.9)
    det = np.concatenate([rng.uniform(0, 100, (20, 2)), np.zeros((20, 2))], 1)
    det[:, 2:] = det[:, :2] + rng.uniform(50, 150, (20, 2))
    fitted = bc.fit_calibration(det, true.apply(det))
    for k in ('dx', 'dy', 'sw', 'sh'):
        assert getattr(fitted, k) == pytest.approx(getattr(true, k), abs=1e-5)
    with pytest.raises(ValueError, match='as many'):
        bc.fit_calibration(det, det[:3])


def test_crop_error_by_hand():
    # landmark box 100 x 80 -> crop side 100; a box shifted by 10 px right, 120 x 60 -> side 120
    err = bc.crop_error([[10, 0, 130, 60]], [[0, 0, 100, 80]])
    assert err['dx'][0] == pytest.approx((70 - 50) / 100)
    assert err['dy'][0] == pytest.approx((30 - 40) / 100)
    assert err['scale'][0] == pytest.approx(1.2)


def test_landmark_box_and_named_calibrations():
    pts = np.array([[3.0, 4.0], [10.0, -2.0], [np.nan, 0.0], [5.0, 9.0]])
    np.testing.assert_allclose(bc.landmark_box(pts), [3, -2, 10, 9])
    assert bc.calibration_for(None) is bc.IDENTITY
    assert bc.calibration_for(lambda img: None) is bc.IDENTITY     # a user's detector: boxes as they are
    with pytest.raises(ValueError, match='unknown detector'):
        bc.calibration_for('yolo')
    # the default detector's calibration is the measured one, not the identity
    from mmfacealign.apis.face_detectors import DEFAULT_DETECTOR
    assert bc.calibration_for('default') == bc.CALIBRATIONS[DEFAULT_DETECTOR] != bc.IDENTITY
