# Copyright (c) mmfacealign contributors. All rights reserved.
"""The One-Euro filter (Casiez, Roussel and Vogel, "1 Euro Filter: A Simple Speed-based Low-pass Filter for Noisy
Input in Interactive Systems", CHI 2012) on face landmarks.

A first-order low-pass filter whose cutoff frequency rises with the speed of the signal: still landmarks are
smoothed strongly (no jitter), moving ones lightly (little lag). For a sample ``x_i`` at time ``t_i``
(``T_e = t_i - t_{i-1}``), with the exponential smoothing ``s_i = a x_i + (1 - a) s_{i-1}`` and
``a(f_c) = 1 / (1 + tau / T_e)``, ``tau = 1 / (2 pi f_c)`` (paper, Eq. 1-2):

* the derivative ``dx_i = (x_i - xhat_{i-1}) / T_e``, smoothed with the fixed cutoff ``d_cutoff``;
* the cutoff ``f_c = min_cutoff + beta |dxhat_i|`` (Eq. 3-4);
* the output ``xhat_i``: ``x_i`` smoothed with ``a(f_c)``.

Two parameters are tuned (the paper's procedure, Sec. 4): ``min_cutoff`` (Hz) sets the smoothing of still
landmarks (lower: less jitter, more lag at slow speeds); ``beta`` sets how fast the cutoff rises with speed
(higher: less lag when moving). Here landmarks are filtered as 2-D points: each landmark's speed is the norm of
its velocity, so x and y share one cutoff and a moving face is not sheared, and speeds are measured in face
sizes per second (the velocity divided by the diagonal of the landmark box), so the same ``beta`` serves a face of
any size in the image.
"""
from typing import Optional

import numpy as np


def smoothing_factor(cutoff, period: float):
    """``a = 1 / (1 + tau / T_e)`` with ``tau = 1 / (2 pi f_c)`` (Casiez et al. 2012, Eq. 2); ``cutoff`` in Hz
    (a scalar or an array), ``period`` ``T_e`` in seconds."""
    tau = 1.0 / (2 * np.pi * np.asarray(cutoff, np.float64))
    return 1.0 / (1.0 + tau / period)


class OneEuroFilter:
    """One-Euro filter on landmarks ``(K, 2)`` of one face (see the module docstring).

    Args:
        min_cutoff (float): cutoff frequency (Hz) at zero speed. Default 1.0.
        beta (float): cutoff increase per face size per second of landmark speed (Hz per (face sizes / s)).
            Default 20 (with ``min_cutoff`` 1: FaceTracker's default, chosen on SynthFace video, README "Video").
        d_cutoff (float): cutoff (Hz) of the derivative's smoothing. Default 1.0 (the paper's).
        fps (float): the frame rate, for frames given without a timestamp. Default 30.
    """

    def __init__(self, min_cutoff: float = 1.0, beta: float = 20.0, d_cutoff: float = 1.0, fps: float = 30.0):
        for name, value in (('min_cutoff', min_cutoff), ('d_cutoff', d_cutoff), ('fps', fps)):
            if not value > 0:
                raise ValueError(f'OneEuroFilter: {name} must be > 0, got {value}')
        if not beta >= 0:
            raise ValueError(f'OneEuroFilter: beta must be >= 0, got {beta}')
        self.min_cutoff, self.beta, self.d_cutoff, self.fps = float(min_cutoff), float(beta), float(d_cutoff), fps
        self.reset()

    def reset(self) -> None:
        """Forget the history: the next sample passes through unchanged."""
        self.x_prev: Optional[np.ndarray] = None
        self.dx_prev: Optional[np.ndarray] = None
        self.t_prev: Optional[float] = None

    def __call__(self, x: np.ndarray, t: Optional[float] = None) -> np.ndarray:
        """Filter landmarks ``x`` (K, 2) at time ``t`` (seconds; default: one frame after the previous sample).
        Non-finite landmarks pass through and leave the filter's state for that landmark unchanged."""
        x = np.asarray(x, np.float64)
        if x.ndim != 2 or x.shape[1] != 2:
            raise ValueError(f'OneEuroFilter: landmarks must be (K, 2), got shape {x.shape}')
        if t is None:
            t = 0.0 if self.t_prev is None else self.t_prev + 1.0 / self.fps
        if self.x_prev is None or self.x_prev.shape != x.shape:
            self.x_prev, self.dx_prev, self.t_prev = x.copy(), np.zeros_like(x), float(t)
            return x.copy()
        period = float(t) - self.t_prev
        if not period > 0:
            raise ValueError(f'OneEuroFilter: timestamps must increase, got {t} after {self.t_prev}')
        ok = np.isfinite(x).all(1) & np.isfinite(self.x_prev).all(1)
        size = _diagonal(np.where(ok[:, None], x, np.nan))
        dx = np.where(ok[:, None], (x - self.x_prev) / period, 0.0)
        a_d = smoothing_factor(self.d_cutoff, period)
        dx_hat = a_d * dx + (1 - a_d) * self.dx_prev
        speed = np.linalg.norm(dx_hat, axis=1) / size if size > 0 else np.zeros(len(x))
        a = smoothing_factor(self.min_cutoff + self.beta * speed, period)[:, None]
        x_hat = np.where(ok[:, None], a * x + (1 - a) * self.x_prev, x)
        keep = ok | ~np.isfinite(self.x_prev).all(1)               # a new finite landmark starts its own state
        self.x_prev = np.where(keep[:, None], x_hat, self.x_prev)
        self.dx_prev = np.where(ok[:, None], dx_hat, self.dx_prev)
        self.t_prev = float(t)
        return x_hat


def _diagonal(points: np.ndarray) -> float:
    """The diagonal of the finite points' box (0 when there are none)."""
    finite = points[np.isfinite(points).all(1)]
    if len(finite) == 0:
        return 0.0
    return float(np.linalg.norm(finite.max(0) - finite.min(0)))


__all__ = ['OneEuroFilter', 'smoothing_factor']
