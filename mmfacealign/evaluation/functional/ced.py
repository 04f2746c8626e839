# Copyright (c) mmfacealign contributors. All rights reserved.
"""Cumulative error distribution (CED), failure rate (FR) and area under the CED (AUC).

For per-image errors ``e_1 .. e_N`` (NME of each image):

* CED ``F(x) = #{n : e_n <= x} / N``, a right-continuous step function.
* ``FR@t = #{n : e_n > t} / N = 1 - F(t)``.
* ``AUC@t = (1 / t) * integral_0^t F(x) dx``. Since ``integral_0^t 1[e_n <= x] dx = max(0, t - e_n)``, the
  integral is exact: ``AUC@t = mean_n max(0, 1 - e_n / t)``. No grid step is involved, so the value does not
  depend on a discretisation (papers integrate on grids; :func:`auc_trapezoid` gives that for comparison, and
  converges to the exact value as the step shrinks).
"""
from typing import Tuple

import numpy as np


def _errors(errors) -> np.ndarray:
    e = np.asarray(errors, dtype=np.float64).reshape(-1)
    if e.size == 0:
        raise ValueError('no per-image errors to evaluate')
    if not np.isfinite(e).all():
        raise ValueError(f'per-image errors contain non-finite values at {np.flatnonzero(~np.isfinite(e)).tolist()}')
    return e


def _threshold(t: float) -> float:
    t = float(t)
    if not t > 0:
        raise ValueError(f'thresholds must be positive, got {t}')
    return t


def failure_rate(errors, threshold: float = 0.1) -> float:
    """``FR@t``: the share of images whose error exceeds ``t`` (strictly).

    Args:
        errors (array-like): ``(N,)`` per-image NMEs.
        threshold (float): ``t``.

    Returns:
        float: in [0, 1].
    """
    e, t = _errors(errors), _threshold(threshold)
    return float((e > t).mean())


def auc_ced(errors, threshold: float = 0.1) -> float:
    """``AUC@t``: exact area under the CED on ``[0, t]`` divided by ``t``.

    Args:
        errors (array-like): ``(N,)`` per-image NMEs.
        threshold (float): ``t``.

    Returns:
        float: ``mean_n max(0, 1 - e_n / t)``, in [0, 1].
    """
    e, t = _errors(errors), _threshold(threshold)
    return float(np.clip(1.0 - e / t, 0.0, None).mean())


def ced_values(errors, thresholds) -> np.ndarray:
    """CED at given points: ``F(x) = #{e_n <= x} / N``.

    Args:
        errors (array-like): ``(N,)`` per-image NMEs.
        thresholds (array-like): ``(M,)`` points ``x``.

    Returns:
        np.ndarray: ``(M,)`` proportions in [0, 1].
    """
    e = np.sort(_errors(errors))
    x = np.asarray(thresholds, dtype=np.float64)
    return np.searchsorted(e, x, side='right') / e.size


def ced_curve(errors, max_error: float = 0.1, num_points: int = 1001) -> Tuple[np.ndarray, np.ndarray]:
    """The CED on a regular grid, for plotting and files.

    Args:
        errors (array-like): ``(N,)`` per-image NMEs.
        max_error (float): right end of the grid.
        num_points (int): grid size (``x = linspace(0, max_error, num_points)``).

    Returns:
        tuple: ``(x, F(x))``, each ``(num_points,)``.
    """
    x = np.linspace(0.0, _threshold(max_error), int(num_points))
    return x, ced_values(errors, x)


def auc_trapezoid(errors, threshold: float = 0.1, step: float = 1e-4) -> float:
    """``AUC@t`` by the trapezoid rule on a grid of the given step (the usual code in papers).

    Args:
        errors (array-like): ``(N,)`` per-image NMEs.
        threshold (float): ``t``.
        step (float): grid step; the result tends to :func:`auc_ced` as ``step -> 0`` (the error is below
            ``step / t``).

    Returns:
        float: ``trapz(F(x), x) / t`` over ``x = 0, step, .., t``.
    """
    t = _threshold(threshold)
    n = max(1, int(round(t / step)))
    x = np.linspace(0.0, t, n + 1)
    y = ced_values(errors, x)
    return float(np.sum((y[1:] + y[:-1]) * np.diff(x)) / 2.0 / t)
