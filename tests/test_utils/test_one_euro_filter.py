# Copyright (c) mmfacealign contributors. All rights reserved.
"""The One-Euro filter (Casiez et al., CHI 2012): the hand-computed first steps, jitter down on a still noisy
face, bounded lag on a ramp (less with beta), a step followed, NaN landmarks, bad settings."""
import numpy as np
import pytest

from mmfacealign.apis import OneEuroFilter
from mmfacealign.apis.one_euro_filter import smoothing_factor

FPS = 30.0


def face(offset=(0.0, 0.0), size=100.0):
    """A 4-point 'face' of diagonal about size * sqrt(2), shifted by offset."""
    return np.array([[0, 0], [size, 0], [0, size], [size, size]], np.float64) + np.asarray(offset)


def test_smoothing_factor_and_first_steps_by_hand():
    # a = 1 / (1 + tau / Te), tau = 1 / (2 pi fc): fc = 1 Hz, Te = 1/30 s -> 1 / (1 + 30 / (2 pi))
    assert smoothing_factor(1.0, 1 / FPS) == pytest.approx(1 / (1 + FPS / (2 * np.pi)))
    f = OneEuroFilter(min_cutoff=1.0, beta=0.0, fps=FPS)
    x0 = face()
    np.testing.assert_array_equal(f(x0), x0)                        # the first sample passes through
    x1 = face((3.0, 0.0))
    a = 1 / (1 + FPS / (2 * np.pi))                                 # beta 0: the cutoff stays min_cutoff
    np.testing.assert_allclose(f(x1), a * x1 + (1 - a) * x0)
    # with beta the cutoff rises with speed: the derivative 3 px / (1/30 s) = 90 px/s, smoothed with d_cutoff 1 Hz,
    # over the face diagonal 100 sqrt(2) px (the speed in face sizes per second)
    g = OneEuroFilter(min_cutoff=1.0, beta=2.0, fps=FPS)
    g(x0)
    speed = a * 90.0 / (100 * np.sqrt(2))
    a_fast = smoothing_factor(1.0 + 2.0 * speed, 1 / FPS)
    np.testing.assert_allclose(g(x1), a_fast * x1 + (1 - a_fast) * x0)
    assert a_fast > a


def test_jitter_down_on_a_still_face_and_bounded_lag_on_a_ramp():
    rng = np.random.default_rng(0)
    f = OneEuroFilter(min_cutoff=1.0, beta=0.5, fps=FPS)
    raw = np.stack([face() + rng.normal(0, 1.0, (4, 2)) for _ in range(120)])
    out = np.stack([f(x) for x in raw])
    jitter = lambda s: np.linalg.norm(np.diff(s, axis=0), axis=-1).mean()  # noqa: E731
    assert jitter(out[10:]) < 0.3 * jitter(raw[10:])
    # a ramp at 2 px / frame: after settling the output trails by a constant lag (px / speed = frames)
    lags = {}
    for beta in (0.0, 0.5, 5.0):
        f = OneEuroFilter(min_cutoff=1.0, beta=beta, fps=FPS)
        ramp = [face((2.0 * t, 0.0)) for t in range(90)]
        out = np.stack([f(x) for x in ramp])
        lags[beta] = float((np.stack(ramp)[-1] - out[-1])[:, 0].mean() / 2.0)
    assert lags[0.0] == pytest.approx(FPS / (2 * np.pi), rel=0.05)  # the steady state of a(1 Hz): tau / Te
    assert lags[5.0] < lags[0.5] < lags[0.0] and lags[5.0] < 1.0


def test_a_step_is_followed_and_nan_landmarks_pass_through():
    f = OneEuroFilter(min_cutoff=1.0, beta=1.0, fps=FPS)
    for _ in range(5):
        f(face())
    out = [f(face((20.0, 0.0))) for _ in range(30)]
    assert abs(out[-1][0, 0] - 20.0) < 0.5 and out[0][0, 0] < 20.0  # reaches the new place, not at once
    x = face((20.0, 0.0))
    x[1] = np.nan
    y = f(x)
    assert np.isnan(y[1]).all() and np.isfinite(y[[0, 2, 3]]).all()
    np.testing.assert_allclose(f(face((20.0, 0.0)))[1], out[-1][1], atol=0.5)  # its state was kept
    with pytest.raises(ValueError, match='timestamps must increase'):
        f(face(), t=0.0)
    for bad in (dict(min_cutoff=0), dict(beta=-1), dict(fps=0)):
        with pytest.raises(ValueError, match=next(iter(bad))):
            OneEuroFilter(**bad)
    with pytest.raises(ValueError, match=r'\(K, 2\)'):
        OneEuroFilter()(np.zeros(4))
