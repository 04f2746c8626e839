# Copyright (c) mmfacealign contributors. All rights reserved.
"""The built-in 68-point template face of SynthFace: mean shape, depth and expression modes.

Used when no real shapes are available to build the point-distribution model (see ``shape_model.py``). Built
here from simple geometry (an elliptic jaw, arched brows, elliptic eyes and lips), in a face frame where x
points to the image's right, y points down, the jaw is 2 units wide and the eye line is at y = -0.3.

Arrays:
    * :func:`template_shape` ``(68, 2)`` float64, iBUG order.
    * :func:`template_depth` ``(68,)`` float64, towards the camera positive (nose tip highest), for yaw/pitch.
    * :func:`template_modes` ``(M, 68, 2)`` unit-norm deformation fields with their standard deviations ``(M,)``.
"""
from typing import Tuple

import numpy as np


def _jaw(n: int = 17) -> Tuple[np.ndarray, np.ndarray]:
    """Jaw points 0..16 on an ellipse from the subject's right ear (image left) round the chin."""
    theta = np.linspace(0.0, np.pi, n)
    x = -1.0 * np.cos(theta) * (1.0 - 0.12 * np.sin(theta) ** 4)
    y = -0.3 + 1.3 * np.sin(theta)
    z = -0.5 + 0.65 * np.sin(theta)
    return np.stack([x, y], 1), z


def _arc(x0: float, x1: float, y0: float, height: float, n: int, peak: float) -> np.ndarray:
    """``n`` points from x0 to x1 on an arch of ``height`` peaking at fraction ``peak`` of the way."""
    s = np.linspace(0.0, 1.0, n)
    bump = np.where(s < peak, np.sin(0.5 * np.pi * s / peak), np.sin(0.5 * np.pi * (1 - s) / (1 - peak)))
    return np.stack([x0 + (x1 - x0) * s, y0 - height * bump], 1)


def _eye(cx: float, cy: float) -> np.ndarray:
    """Six eye-contour points: image-left corner, two upper-lid points, image-right corner, two lower-lid
    points (right to left), which is the iBUG order of either eye."""
    w, hu, hl = 0.19, 0.075, 0.06
    xs = [cx - w, cx - 0.35 * w, cx + 0.35 * w, cx + w, cx + 0.35 * w, cx - 0.35 * w]
    ys = [cy, cy - hu, cy - hu, cy, cy + hl, cy + hl]
    return np.stack([xs, ys], 1)


def template_shape() -> np.ndarray:
    """Mean 68-point shape ``(68, 2)`` in the template face frame."""
    jaw, _ = _jaw()
    right_brow = _arc(-0.85, -0.17, -0.58, 0.12, 5, 0.55)
    left_brow = _arc(0.17, 0.85, -0.58, 0.12, 5, 0.45)
    bridge = np.stack([np.zeros(4), np.linspace(-0.33, 0.1, 4)], 1)
    base = np.array([[-0.2, 0.22], [-0.1, 0.25], [0.0, 0.27], [0.1, 0.25], [0.2, 0.22]])
    right_eye = _eye(-0.41, -0.3)
    left_eye = _eye(0.41, -0.3)
    outer = np.array([[-0.36, 0.56], [-0.23, 0.49], [-0.09, 0.455], [0.0, 0.47], [0.09, 0.455], [0.23, 0.49],
                      [0.36, 0.56], [0.24, 0.64], [0.12, 0.68], [0.0, 0.69], [-0.12, 0.68], [-0.24, 0.64]])
    inner = np.array([[-0.31, 0.56], [-0.11, 0.54], [0.0, 0.545], [0.11, 0.54], [0.31, 0.56], [0.11, 0.58],
                      [0.0, 0.585], [-0.11, 0.58]])
    return np.concatenate([jaw, right_brow, left_brow, bridge, base, right_eye, left_eye, outer, inner], 0)


def template_depth() -> np.ndarray:
    """Depth of each template point ``(68,)``; positive towards the camera, nose tip 0.55, ears -0.5."""
    _, jaw_z = _jaw()
    brow_z = np.array([0.0, 0.1, 0.17, 0.2, 0.2])
    bridge_z = np.array([0.22, 0.32, 0.43, 0.55])
    base_z = np.array([0.3, 0.38, 0.42, 0.38, 0.3])
    eye_z = np.array([0.0, 0.08, 0.1, 0.1, 0.08, 0.06])   # outer .. inner for the right eye
    right_eye_z = eye_z
    left_eye_z = eye_z[[3, 2, 1, 0, 5, 4]]
    outer_z = np.array([0.12, 0.22, 0.28, 0.3, 0.28, 0.22, 0.12, 0.2, 0.25, 0.27, 0.25, 0.2])
    inner_z = np.array([0.14, 0.24, 0.26, 0.24, 0.14, 0.23, 0.25, 0.23])
    return np.concatenate(
        [jaw_z, brow_z, brow_z[::-1], bridge_z, base_z, right_eye_z, left_eye_z, outer_z, inner_z])


def template_modes() -> Tuple[np.ndarray, np.ndarray]:
    """Identity and expression modes of the built-in model.

    Returns:
        modes ``(M, 68, 2)``, each of unit Frobenius norm, and their standard deviations ``(M,)`` in template
        units. Mode 0 (mouth opening) is one-sided: :class:`PointDistributionModel` samples it as ``|b_0|``.
    """
    mean = template_shape()
    fields = []
    # 0 mouth opening: lower lip, inner lower lip and chin move down, the jaw sides a little
    d = np.zeros_like(mean)
    d[[55, 56, 57, 58, 59], 1] = 1.0
    d[[65, 66, 67], 1] = 1.0
    d[[64, 60], 1] = 0.3
    d[5:12, 1] = np.array([0.3, 0.6, 0.8, 1.0, 0.8, 0.6, 0.3])
    fields.append((d, 0.10))
    # 1 smile: mouth corners out and up
    d = np.zeros_like(mean)
    d[[48, 60], 0], d[[54, 64], 0] = -1.0, 1.0
    d[[48, 54, 60, 64], 1] = -0.8
    d[[49, 53, 59, 55], 1] = -0.3
    fields.append((d, 0.06))
    # 2 face width
    d = np.zeros_like(mean)
    d[0:17, 0] = mean[0:17, 0]
    fields.append((d, 0.10))
    # 3 lower-face length
    d = np.zeros_like(mean)
    below = mean[:, 1] > 0.0
    d[below, 1] = mean[below, 1]
    fields.append((d, 0.10))
    # 4 eye opening
    d = np.zeros_like(mean)
    d[[37, 38, 43, 44], 1] = -1.0
    d[[40, 41, 46, 47], 1] = 1.0
    fields.append((d, 0.03))
    # 5 brow raise
    d = np.zeros_like(mean)
    d[17:27, 1] = -1.0
    fields.append((d, 0.06))
    # 6 nose length and width
    d = np.zeros_like(mean)
    d[31:36, 1] = 1.0
    d[28:31, 1] = np.array([0.3, 0.6, 1.0])
    d[[31, 32], 0], d[[34, 35], 0] = -0.5, 0.5
    fields.append((d, 0.04))
    # 7 mouth width
    d = np.zeros_like(mean)
    d[48:68, 0] = mean[48:68, 0]
    fields.append((d, 0.12))
    # 8 eye spacing
    d = np.zeros_like(mean)
    d[36:42, 0], d[42:48, 0] = -1.0, 1.0
    fields.append((d, 0.03))
    # 9 asymmetric mouth (one corner up, one down)
    d = np.zeros_like(mean)
    d[[48, 60, 49, 59], 1], d[[54, 64, 53, 55], 1] = -1.0, 1.0
    fields.append((d, 0.03))
    modes = np.stack([f / np.linalg.norm(f) for f, _ in fields])
    # a standard deviation of s means the displaced points move by about s template units
    stds = np.array([s * np.linalg.norm(f) / np.abs(f).max() for f, s in fields])
    return modes, stds
