# Copyright (c) mmfacealign contributors. All rights reserved.
"""Render a SynthFace image from a 68-point shape.

Every drawn part is bounded by its landmark contour, so image edges coincide with the landmarks a model must
find: the face region ends on the jaw line (0-16), brows have their upper edge on 17-26, the eye whites are the
eye polygons (36-47) with dark lid lines, the nostril base runs along 31-35 below a bridge highlight (27-30),
and the lips fill the outer (48-59) and inner (60-67) lip polygons. Around them: a random background (smooth
noise, gradients, clutter), neck and hair, then (after occluders, see ``occluders.py``) illumination, blur and
sensor noise.

Images are ``uint8`` BGR ``(H, W, 3)``, as OpenCV and MMPose's ``LoadImage`` use. Points are ``(68, 2)`` float
image coordinates (x, y) with pixel centres at integers.
"""
from typing import Dict, Tuple

import cv2
import numpy as np

from mmfacealign.models.utils.landmark_groups import IBUG68_GROUPS as G

_SHIFT = 4                      # fixed-point bits for sub-pixel drawing
_ONE = 1 << _SHIFT


def _fix(pts: np.ndarray) -> np.ndarray:
    """Float points ``(P, 2)`` to OpenCV fixed-point int32 ``(P, 1, 2)``."""
    return np.round(np.asarray(pts) * _ONE).astype(np.int32).reshape(-1, 1, 2)


def fill_poly(img: np.ndarray, pts: np.ndarray, color, aa: bool = True) -> None:
    cv2.fillPoly(img, [_fix(pts)], color, cv2.LINE_AA if aa else cv2.LINE_8, _SHIFT)


def polyline(img: np.ndarray, pts: np.ndarray, color, thickness: int = 1, closed: bool = False) -> None:
    cv2.polylines(img, [_fix(pts)], closed, color, max(1, int(thickness)), cv2.LINE_AA, _SHIFT)


def _colour(rng: np.random.Generator, base, jitter: float) -> Tuple[float, float, float]:
    c = np.clip(np.asarray(base, np.float64) + rng.uniform(-jitter, jitter, 3), 0, 255)
    return tuple(float(v) for v in c)


SKIN_TONES = np.array([  # BGR
    [185, 205, 240], [150, 180, 225], [120, 160, 210], [95, 130, 185], [70, 100, 150], [45, 70, 110]])
HAIR_TONES = np.array([[20, 20, 25], [30, 45, 70], [50, 80, 120], [90, 150, 200], [150, 150, 155]])


def sample_style(rng: np.random.Generator) -> Dict[str, tuple]:
    """Random colours of one face: skin, lips, brows, hair, irises, eye whites, mouth interior."""
    skin = _colour(rng, SKIN_TONES[rng.integers(len(SKIN_TONES))], 18)
    hair = _colour(rng, HAIR_TONES[rng.integers(len(HAIR_TONES))], 15)
    lip_base = np.array(skin) * np.array([0.65, 0.6, 1.0]) * rng.uniform(0.75, 0.95)
    return dict(
        skin=skin,
        hair=hair,
        brow=_colour(rng, np.array(hair) * 0.7, 10),
        lip=_colour(rng, lip_base, 12),
        iris=_colour(rng, [[40, 60, 90], [110, 90, 60], [60, 100, 70], [30, 40, 50]][rng.integers(4)], 15),
        sclera=_colour(rng, [225, 230, 235], 12),
        mouth=_colour(rng, [30, 30, 70], 12),
        teeth=_colour(rng, [215, 225, 230], 12),
    )


# ----------------------------------------------------------------------------------------------- background
_GRIDS: Dict[Tuple[int, int], Tuple[np.ndarray, np.ndarray]] = {}


def unit_grid(h: int, w: int) -> Tuple[np.ndarray, np.ndarray]:
    """Cached ``(h, w)`` coordinate grids scaled to [0, 1]."""
    if (h, w) not in _GRIDS:
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        _GRIDS[(h, w)] = (xx / max(w - 1, 1), yy / max(h - 1, 1))
    return _GRIDS[(h, w)]


def render_background(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A random background: smooth noise, a colour gradient, or either with clutter (shapes and lines)."""
    kind = rng.choice(['noise', 'gradient', 'clutter'])
    if kind == 'noise':
        cells = int(rng.integers(3, 10))
        small = rng.uniform(0, 255, (cells, cells, 3)).astype(np.float32)
        img = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    else:
        xx, yy = unit_grid(h, w)
        a = rng.uniform(0, 2 * np.pi)
        ramp = np.clip(np.cos(a) * (xx - 0.5) + np.sin(a) * (yy - 0.5) + 0.5, 0, 1)[..., None]
        c0, c1 = rng.uniform(0, 255, 3).astype(np.float32), rng.uniform(0, 255, 3).astype(np.float32)
        img = c0 + (c1 - c0) * ramp
    img = np.clip(img, 0, 255).astype(np.uint8)
    if kind == 'clutter' or rng.random() < 0.3:
        for _ in range(int(rng.integers(3, 12))):
            color = tuple(float(v) for v in rng.uniform(0, 255, 3))
            c = rng.uniform(0, 1, 2) * (w, h)
            r = rng.uniform(0.03, 0.25) * min(h, w)
            shape = rng.integers(3)
            if shape == 0:
                cv2.circle(img, tuple(int(v) for v in c), int(r), color, -1, cv2.LINE_AA)
            elif shape == 1:
                box = ((float(c[0]), float(c[1])), (float(r * 2), float(r * rng.uniform(0.3, 2))),
                       float(rng.uniform(0, 180)))
                fill_poly(img, cv2.boxPoints(box), color)
            else:
                d = rng.uniform(0, 1, 2) * (w, h)
                cv2.line(img, tuple(int(v) for v in c), tuple(int(v) for v in d), color,
                         int(rng.integers(1, 4)), cv2.LINE_AA)
    return img


# --------------------------------------------------------------------------------------------------- face
def face_frame(pts: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Centre of the jaw-top chord, its unit direction ``u`` (0 -> 16), the downward normal ``v`` and half-width."""
    p0, p16 = pts[0], pts[16]
    u = p16 - p0
    half = float(np.linalg.norm(u)) / 2 + 1e-6
    u = u / (2 * half)
    v = np.array([-u[1], u[0]])
    return (p0 + p16) / 2, u, v, half


def forehead_arc(pts: np.ndarray, height: float = 0.95, n: int = 13) -> np.ndarray:
    """Upper half-ellipse from jaw point 16 over the brows to jaw point 0, ``(n, 2)``."""
    c, u, v, half = face_frame(pts)
    t = np.linspace(0.0, np.pi, n)
    return c + np.outer(np.cos(t) * half, u) - np.outer(np.sin(t) * half * height, v)


def _draw_hair_and_neck(img: np.ndarray, pts: np.ndarray, style: dict, rng: np.random.Generator) -> None:
    c, u, v, half = face_frame(pts)
    neck_colour = tuple(0.8 * s for s in style['skin'])
    chin = pts[8]
    neck = np.array([pts[4], pts[12], pts[12] + v * half * 2.5, pts[4] + v * half * 2.5])
    neck[:2] += (chin - (pts[4] + pts[12]) / 2) * 0.4
    fill_poly(img, neck, neck_colour)
    if rng.random() < 0.75:
        cap = forehead_arc(pts, height=rng.uniform(1.05, 1.25), n=15)
        cap = c + (cap - c) * rng.uniform(1.05, 1.15)
        fill_poly(img, cap, style['hair'])


def _draw_brows(img: np.ndarray, pts: np.ndarray, style: dict, half: float, v: np.ndarray) -> None:
    taper = np.array([0.45, 0.9, 1.0, 0.85, 0.5])
    for group, t in (('right_brow', taper), ('left_brow', taper[::-1])):
        upper = pts[G[group]]
        lower = upper + np.outer(t * 0.11 * half, v)
        fill_poly(img, np.concatenate([upper, lower[::-1]]), style['brow'])


def _draw_eye(img: np.ndarray, eye: np.ndarray, style: dict, rng: np.random.Generator, lid_colour) -> None:
    x0, y0 = np.floor(eye.min(0)).astype(int) - 2
    x1, y1 = np.ceil(eye.max(0)).astype(int) + 3
    h, w = img.shape[:2]
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return
    roi = img[y0:y1, x0:x1]
    local = eye - (x0, y0)
    fill_poly(roi, local, style['sclera'])
    mask = np.zeros(roi.shape[:2], np.uint8)
    fill_poly(mask, local, 255, aa=False)
    iris = np.zeros_like(mask)
    width = np.linalg.norm(local[3] - local[0])
    centre = local[[0, 3]].mean(0) + (rng.uniform(-0.18, 0.18) * width, 0)
    cv2.circle(iris, tuple(int(v) for v in np.round(centre * _ONE)), int(0.23 * width * _ONE), 255, -1,
               cv2.LINE_AA, _SHIFT)
    alpha = (np.minimum(mask, iris).astype(np.float32) / 255.0)[..., None]
    pupil = np.zeros_like(mask)
    cv2.circle(pupil, tuple(int(v) for v in np.round(centre * _ONE)), int(0.1 * width * _ONE), 255, -1,
               cv2.LINE_AA, _SHIFT)
    alpha_p = (np.minimum(mask, pupil).astype(np.float32) / 255.0)[..., None]
    out = roi.astype(np.float32) * (1 - alpha) + np.array(style['iris'], np.float32) * alpha
    out = out * (1 - alpha_p) + 15.0 * alpha_p
    roi[...] = out.astype(np.uint8)
    polyline(roi, local[[0, 1, 2, 3]], lid_colour, 1)
    polyline(roi, local[[3, 4, 5, 0]], tuple(0.5 * a + 0.5 * b for a, b in zip(lid_colour, style['skin'])), 1)


def _draw_nose(img: np.ndarray, pts: np.ndarray, style: dict, half: float, u: np.ndarray) -> None:
    skin = np.array(style['skin'])
    light = tuple(float(v) for v in np.clip(skin * 1.12, 0, 255))
    dark = tuple(float(v) for v in skin * 0.72)
    thick = max(1, int(round(0.05 * half)))
    polyline(img, pts[G['nose_bridge']], light, thick)
    polyline(img, pts[G['nose_bridge']] + u * 0.07 * half, tuple(float(v) for v in skin * 0.9), thick)
    base = pts[G['nose_base']]
    tip = pts[30]
    fill_poly(img, np.concatenate([base, [tip + (base[-1] - tip) * 0.2, tip, tip + (base[0] - tip) * 0.2]]),
              tuple(float(v) for v in skin * 0.88))
    for a, b in ((31, 32), (34, 33)):
        centre = pts[a] * 0.55 + pts[b] * 0.45 + (tip - pts[33]) * 0.15
        axes = (max(1.0, 0.06 * half), max(0.6, 0.03 * half))
        ang = float(np.degrees(np.arctan2(u[1], u[0])))
        cv2.ellipse(img, tuple(int(v) for v in np.round(centre * _ONE)),
                    tuple(int(v * _ONE) for v in axes), ang, 0, 360, (20, 20, 35), -1, cv2.LINE_AA, _SHIFT)
    polyline(img, base, dark, 1)


def _draw_mouth(img: np.ndarray, pts: np.ndarray, style: dict) -> None:
    outer, inner = pts[G['outer_lips']], pts[G['inner_lips']]
    fill_poly(img, outer, style['lip'])
    fill_poly(img, inner, style['mouth'])
    gap = np.linalg.norm(inner[6] - inner[2])
    if gap > 2.0:
        upper = inner[[0, 1, 2, 3, 4]]
        teeth = np.concatenate([upper, upper[::-1] + (inner[6] - inner[2]) * 0.35])
        fill_poly(img, teeth, style['teeth'])
    polyline(img, outer, tuple(0.75 * c for c in style['lip']), 1, closed=True)
    polyline(img, inner, tuple(0.5 * c for c in style['lip']), 1, closed=True)


def render_face(img: np.ndarray, pts: np.ndarray, style: dict, rng: np.random.Generator) -> None:
    """Draw neck, hair, face region and facial parts of the shape ``pts`` ``(68, 2)`` onto ``img`` in place."""
    _, u, v, half = face_frame(pts)
    _draw_hair_and_neck(img, pts, style, rng)
    region = np.concatenate([pts[G['jaw']], forehead_arc(pts)[1:-1]])
    h, w = img.shape[:2]
    mask = np.zeros((h, w), np.uint8)
    fill_poly(mask, region, 255)
    # shading: darker towards the face border, as on a rounded surface (distance to the border, saturating)
    dist = cv2.distanceTransform(mask, cv2.DIST_L2, 3)
    shade = 0.72 + 0.28 * np.minimum(dist * (1.0 / max(1.0, 0.45 * half)), 1.0)
    face = (shade[..., None] * np.array(style['skin'], np.float32)).astype(np.uint8)
    alpha = mask.astype(np.float32) * (1.0 / 255.0)
    img[...] = cv2.blendLinear(img, face, 1.0 - alpha, alpha)
    if rng.random() < 0.5:   # a fringe of hair over the forehead, above the brows
        arc = forehead_arc(pts, height=0.95)
        line = forehead_arc(pts, height=rng.uniform(0.6, 0.8))
        fill_poly(img, np.concatenate([arc, line[::-1]]), style['hair'])
    _draw_brows(img, pts, style, half, v)
    lid = tuple(0.35 * c for c in style['brow'])
    _draw_eye(img, pts[G['right_eye']], style, rng, lid)
    _draw_eye(img, pts[G['left_eye']], style, rng, lid)
    _draw_nose(img, pts, style, half, u)
    _draw_mouth(img, pts, style)


# --------------------------------------------------------------------------------------------- photometric
def apply_photometric(img: np.ndarray, rng: np.random.Generator, blur_prob: float = 0.5,
                      max_blur_sigma: float = 1.2, max_noise: float = 8.0) -> np.ndarray:
    """Illumination (directional ramp, gain, colour cast), Gaussian blur and sensor noise; returns uint8."""
    h, w = img.shape[:2]
    xx, yy = unit_grid(h, w)
    a = rng.uniform(0, 2 * np.pi)
    strength = rng.uniform(0.0, 0.6)
    ramp = 1.0 - strength * np.clip(np.cos(a) * (xx - 0.5) + np.sin(a) * (yy - 0.5) + 0.5, 0, 1)
    gain = rng.uniform(0.7, 1.3)
    cast = rng.uniform(0.85, 1.15, 3).astype(np.float32)
    out = img.astype(np.float32)
    out *= (gain * ramp)[..., None]
    out *= cast
    if rng.random() < blur_prob:
        out = cv2.GaussianBlur(out, (0, 0), rng.uniform(0.3, max_blur_sigma))
    sigma = rng.uniform(0, max_noise)
    if sigma > 0.5:
        # OpenCV's generator, seeded from ``rng``: as deterministic as numpy's and several times faster
        cv2.setRNGSeed(int(rng.integers(2**31 - 1)))
        noise = np.empty_like(out)
        cv2.randn(noise, 0.0, float(sigma))
        out += noise
    return np.clip(out, 0, 255).astype(np.uint8)
