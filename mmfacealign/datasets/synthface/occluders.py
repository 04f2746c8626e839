# Copyright (c) mmfacealign contributors. All rights reserved.
"""Occluders for SynthFace and the per-landmark occlusion flags they imply.

An :class:`Occluder` is pure geometry: a union of float polygons in image coordinates. It is painted onto the
image (solid colour, texture or skin) and rasterised *without* anti-aliasing into a coverage mask, and a landmark
is flagged occluded when the mask is set at its nearest pixel. The flags are therefore exactly the drawn
geometry (up to the half-pixel rounding of the landmark position).

Kinds:
    * ``rectangle``: a rotated solid rectangle over a random landmark.
    * ``texture``: a rectangle, ellipse or irregular blob filled with stripes, checks or smooth noise.
    * ``hand``: a skin-coloured palm ellipse with four fingers and a thumb, over the mouth, nose, an eye or
      a cheek.
    * ``mask``: a face mask over the nose, mouth and jaw, from jaw point 1 over the nose bridge (29) to jaw
      point 15 and down round the chin.
    * ``sunglasses``: two dark lenses over the eyes joined by a bridge.
"""
from dataclasses import dataclass, field
from typing import List

import cv2
import numpy as np

from mmfacealign.models.utils.landmark_groups import IBUG68_GROUPS as G

from .renderer import SKIN_TONES, face_frame, fill_poly, polyline

OCCLUDER_KINDS = ('rectangle', 'texture', 'hand', 'mask', 'sunglasses')


@dataclass
class Occluder:
    """A named union of polygons, each ``(P, 2)`` float image coordinates."""
    kind: str
    polygons: List[np.ndarray] = field(default_factory=list)

    def to_json(self) -> dict:
        return dict(kind=self.kind, polygons=[np.round(p, 2).tolist() for p in self.polygons])


def ellipse_polygon(centre, axes, angle_deg: float, n: int = 24) -> np.ndarray:
    """Polygon ``(n, 2)`` of an ellipse with semi-axes ``axes`` rotated by ``angle_deg``."""
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    a = np.radians(angle_deg)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    return np.stack([axes[0] * np.cos(t), axes[1] * np.sin(t)], 1) @ rot.T + np.asarray(centre, np.float64)


def _box(centre, size, angle_deg: float) -> np.ndarray:
    return cv2.boxPoints(((float(centre[0]), float(centre[1])), (float(size[0]), float(size[1])),
                          float(angle_deg))).astype(np.float64)


def _face_size(pts: np.ndarray) -> float:
    return float(np.ptp(pts, axis=0).max())


# --------------------------------------------------------------------------------------------- geometry
def sample_occluder(kind: str, rng: np.random.Generator, pts: np.ndarray) -> Occluder:
    """Random geometry of an occluder of ``kind`` for the face ``pts`` ``(68, 2)``."""
    s = _face_size(pts)
    if kind == 'rectangle':
        c = pts[rng.integers(len(pts))] + rng.uniform(-0.12, 0.12, 2) * s
        return Occluder(kind, [_box(c, rng.uniform(0.22, 0.5, 2) * s, rng.uniform(0, 180))])
    if kind == 'texture':
        c = pts[rng.integers(len(pts))] + rng.uniform(-0.12, 0.12, 2) * s
        size = rng.uniform(0.22, 0.5, 2) * s
        form = rng.integers(3)
        if form == 0:
            poly = _box(c, size, rng.uniform(0, 180))
        elif form == 1:
            poly = ellipse_polygon(c, size / 2, rng.uniform(0, 180))
        else:
            k = int(rng.integers(6, 11))
            ang = np.sort(rng.uniform(0, 2 * np.pi, k))
            r = rng.uniform(0.5, 1.0, k) * size.mean() / 2
            poly = c + np.stack([r * np.cos(ang), r * np.sin(ang)], 1)
        return Occluder(kind, [poly])
    if kind == 'hand':
        mouth = G['outer_lips'] + G['inner_lips']
        anchors = [pts[mouth].mean(0), pts[G['nose_base']].mean(0), pts[G['right_eye']].mean(0),
                   pts[G['left_eye']].mean(0), pts[3:6].mean(0), pts[11:14].mean(0), pts[7:10].mean(0)]
        c = anchors[rng.integers(len(anchors))] + rng.uniform(-0.08, 0.08, 2) * s
        direction = rng.uniform(0, 360)
        palm_axes = np.array([0.2, 0.16]) * s * rng.uniform(0.85, 1.2)
        polys = [ellipse_polygon(c, palm_axes, direction)]
        for k, off in enumerate((-27, -9, 9, 27, 75)):
            a = np.radians(direction + off)
            length = (0.24 if k < 4 else 0.17) * s * rng.uniform(0.85, 1.15)
            base = c + palm_axes[0] * 0.8 * np.array([np.cos(a), np.sin(a)])
            fc = base + 0.5 * length * np.array([np.cos(a), np.sin(a)])
            polys.append(ellipse_polygon(fc, (0.5 * length, 0.045 * s), np.degrees(a), n=16))
        return Occluder(kind, polys)
    if kind == 'mask':
        centre = pts.mean(0)
        _, u, v, half = face_frame(pts)
        top = pts[29] * 0.7 + pts[28] * 0.3
        left = pts[1] + (top - pts[1]) * 0.5 - v * 0.08 * half
        right = pts[15] + (top - pts[15]) * 0.5 - v * 0.08 * half
        bottom = pts[14:1:-1] + (pts[14:1:-1] - centre) * rng.uniform(0.04, 0.1)
        return Occluder(kind, [np.concatenate([[pts[1], left, top, right, pts[15]], bottom])])
    if kind == 'sunglasses':
        _, u, v, half = face_frame(pts)
        ang = float(np.degrees(np.arctan2(u[1], u[0])))
        polys = []
        for eye in (pts[G['right_eye']], pts[G['left_eye']]):
            w = np.linalg.norm(eye[3] - eye[0])
            polys.append(ellipse_polygon(eye.mean(0) + v * 0.02 * half, (0.8 * w, 0.6 * w), ang))
        bridge_c = (pts[39] + pts[42]) / 2 - v * 0.03 * half
        polys.append(_box(bridge_c, (np.linalg.norm(pts[42] - pts[39]), 0.04 * half + 1), ang))
        return Occluder(kind, polys)
    raise KeyError(f'unknown occluder kind {kind!r}; known: {OCCLUDER_KINDS}')


# --------------------------------------------------------------------------------------------- painting
def _texture(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    kind = rng.integers(3)
    c0, c1 = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
    if kind == 0:       # stripes
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        a = rng.uniform(0, np.pi)
        period = rng.uniform(3, 10)
        t = (np.sin((np.cos(a) * xx + np.sin(a) * yy) * 2 * np.pi / period) > 0).astype(np.float32)
    elif kind == 1:     # checks
        yy, xx = np.mgrid[0:h, 0:w]
        cell = int(rng.integers(2, 8))
        t = (((xx // cell) + (yy // cell)) % 2).astype(np.float32)
    else:               # smooth noise
        cells = int(rng.integers(2, 6))
        t = cv2.resize(rng.uniform(0, 1, (cells, cells)).astype(np.float32), (w, h),
                       interpolation=cv2.INTER_CUBIC)
    t = np.clip(t, 0, 1)[..., None]
    return (c0 + (c1 - c0) * t).astype(np.uint8)


def draw_occluder(img: np.ndarray, occ: Occluder, rng: np.random.Generator, texture_fn=None) -> None:
    """Paint ``occ`` onto ``img`` ``(H, W, 3)`` uint8 in place.

    ``texture_fn(rng, h, w) -> (h, w, 3) uint8``, when given, fills ``texture`` occluders (e.g. crops of
    photographs, ``photo_textures.sample_texture``) instead of the procedural stripes, checks and noise.
    """
    h, w = img.shape[:2]
    if occ.kind == 'texture':
        allp = np.concatenate(occ.polygons)
        x0, y0 = np.clip(np.floor(allp.min(0)).astype(int) - 1, 0, [w, h])
        x1, y1 = np.clip(np.ceil(allp.max(0)).astype(int) + 2, 0, [w, h])
        if x1 <= x0 or y1 <= y0:
            return
        m = np.zeros((y1 - y0, x1 - x0), np.uint8)
        for p in occ.polygons:
            fill_poly(m, p - (x0, y0), 255)
        a = (m.astype(np.float32) / 255.0)[..., None]
        roi = img[y0:y1, x0:x1]
        fill = texture_fn(rng, y1 - y0, x1 - x0) if texture_fn is not None else _texture(rng, y1 - y0, x1 - x0)
        roi[...] = (roi * (1 - a) + fill * a).astype(np.uint8)
        return
    if occ.kind == 'hand':
        tone = SKIN_TONES[rng.integers(len(SKIN_TONES))] + rng.uniform(-15, 15, 3)
        skin = tuple(float(v) for v in np.clip(tone, 0, 255))
        edge = tuple(0.75 * c for c in skin)
        for p in occ.polygons[1:]:
            fill_poly(img, p, skin)
            polyline(img, p, edge, 1, closed=True)
        fill_poly(img, occ.polygons[0], skin)
        return
    if occ.kind == 'mask':
        colour = [(235, 215, 170), (240, 240, 240), (40, 40, 40), (180, 120, 60)][rng.integers(4)]
        colour = tuple(float(v) for v in np.clip(np.array(colour) + rng.uniform(-15, 15, 3), 0, 255))
        poly = occ.polygons[0]
        fill_poly(img, poly, colour)
        fold = tuple(0.85 * c for c in colour)
        top, bottom = poly[2], poly[5 + (len(poly) - 5) // 2]
        for f in (0.3, 0.5, 0.7):       # pleats across the mask
            a = poly[1] + (poly[-1] - poly[1]) * f
            b = poly[3] + (poly[5] - poly[3]) * f
            polyline(img, np.stack([a, top + (bottom - top) * f, b]), fold, 1)
        return
    if occ.kind == 'sunglasses':
        dark = tuple(float(v) for v in rng.uniform(10, 60, 3))
        for p in occ.polygons:
            fill_poly(img, p, dark)
        return
    colour = tuple(float(v) for v in rng.uniform(0, 255, 3))
    for p in occ.polygons:
        fill_poly(img, p, colour)


def occluder_mask(occluders: List[Occluder], height: int, width: int) -> np.ndarray:
    """Coverage ``(H, W)`` bool of the union of all occluder polygons (no anti-aliasing)."""
    mask = np.zeros((height, width), np.uint8)
    for occ in occluders:
        for p in occ.polygons:
            fill_poly(mask, p, 1, aa=False)
    return mask.astype(bool)


def occlusion_flags(mask: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """``(K,)`` bool: is the pixel nearest each landmark covered? Points outside the image are not."""
    h, w = mask.shape
    xy = np.round(pts).astype(int)
    inside = (xy[:, 0] >= 0) & (xy[:, 0] < w) & (xy[:, 1] >= 0) & (xy[:, 1] < h)
    flags = np.zeros(len(pts), bool)
    flags[inside] = mask[xy[inside, 1], xy[inside, 0]]
    return flags
