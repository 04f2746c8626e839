# Copyright (c) mmfacealign contributors. All rights reserved.
"""Render a SynthFace image of the ``'3d'`` style: a posed 3-D head with shaded, textured skin.

Painting order: background (a photograph or the procedural one), long hair behind the head, neck, the head
ellipsoid (skin, or hair above a hairline defined on the head surface), the ears that face the camera, the face
region (the silhouette contour of ``head3d.py`` and the hairline arc), a fringe, brows, eyes, nose, mouth, facial
hair and glasses. The occluders and camera effects follow in ``generator.py``. Every part that carries landmarks is
bounded by its landmark contour as in the flat style (``renderer.py``): the face ends on the contour points, brows
have their upper edge on 17-26, eye whites fill 36-47, lips fill 48-67.

Each rendering feature is a switch of :class:`RenderFeatures`; with a switch off, the part is drawn as the flat
style draws it (or not at all), so the ablation in ``tools/benchmarks/synthface_ablation.py`` can measure what it
brings. Images are ``uint8`` BGR ``(H, W, 3)``; points are float pixel coordinates.
"""
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

import cv2
import numpy as np

from mmfacealign.models.utils.landmark_groups import IBUG68_GROUPS as G

from . import renderer as flat
from .head3d import (
    Camera,
    ear_faces_camera,
    ear_outline,
    forehead_contour,
    head_outline,
    lift_shape,
    raycast_ellipsoid,
    silhouette_contour,
)
from .renderer import fill_poly, polyline


@dataclass
class RenderFeatures:
    """Switches of the ``'3d'`` style (each on by default) and how often the optional parts appear."""
    silhouette_contour: bool = True     # far-side contour points on the visible outline (else on the jaw line)
    perspective: bool = True            # pinhole camera at 5-20 jaw half-widths (else orthographic)
    shading: bool = True                # Lambert + Blinn-Phong on the head ellipsoid's normals (else flat tones)
    skin_texture: bool = True           # albedo blotches, pores, cheek redness, freckles
    eye_detail: bool = True             # iris texture, pupil, catchlight, lash line, lid crease
    hair: bool = True                   # hair on the head surface, fringe, long hair (else none)
    ears: bool = True
    glasses: bool = True
    facial_hair: bool = True            # beard, moustache, stubble
    photo_background: bool = True       # crops of face-free photographs (else procedural backgrounds)
    photo_occluders: bool = True        # 'texture' occluders filled with photo crops
    camera_effects: bool = True         # JPEG, defocus, motion blur, noise, low light, colour casts
    glasses_prob: float = 0.15
    facial_hair_prob: float = 0.2
    photo_background_prob: float = 0.75
    long_hair_prob: float = 0.35
    bald_prob: float = 0.08

    @classmethod
    def names(cls) -> List[str]:
        return [k for k, v in cls.__dataclass_fields__.items() if v.type in (bool, 'bool')]


# ------------------------------------------------------------------------------------------------ geometry
@dataclass
class FaceGeometry:
    """Pixel geometry of one posed face (all ``(N, 2)`` float pixel coordinates)."""
    pts: np.ndarray              # the 68 landmarks
    forehead: np.ndarray         # hairline arc of the face region, from over 16 to over 0
    head: np.ndarray             # outline of the head ellipsoid
    ears: List[np.ndarray]       # outlines of the ears that face the camera
    camera: Camera
    scale: float                 # pixels per camera unit
    offset: np.ndarray           # pixel = scale * camera_xy + offset
    head_pts3: np.ndarray        # the 68 landmarks in the head frame (after the contour rule)

    def to_pixels(self, cam_xy: np.ndarray) -> np.ndarray:
        return np.asarray(cam_xy) * self.scale + self.offset

    def project(self, head_pts: np.ndarray) -> np.ndarray:
        """Head-frame points ``(N, 3)`` to pixels ``(N, 2)``."""
        return self.to_pixels(self.camera.project(head_pts))


def build_geometry(shape: np.ndarray, depth: np.ndarray, camera: Camera, centre, size: float,
                   features: RenderFeatures) -> FaceGeometry:
    """Pose the template-frame ``shape`` ``(68, 2)`` with ``depth`` ``(68,)`` and place its landmark box (longer
    side ``size`` pixels) at ``centre``; the contour follows the silhouette when the feature is on."""
    pts3 = lift_shape(shape, depth)
    rot = camera.rotation
    forehead3 = forehead_contour(pts3[0], pts3[16])
    if features.silhouette_contour:
        pts3[G['jaw']] = silhouette_contour(pts3[G['jaw']], rot)
        forehead3 = silhouette_contour(forehead3, rot, front=0.2)
    proj = camera.project(pts3)
    lo, hi = proj.min(0), proj.max(0)
    scale = float(size) / max(float((hi - lo).max()), 1e-9)
    offset = np.asarray(centre, np.float64) - scale * (lo + hi) / 2
    geo = FaceGeometry(pts=proj * scale + offset, forehead=np.zeros((0, 2)), head=np.zeros((0, 2)), ears=[],
                       camera=camera, scale=scale, offset=offset, head_pts3=pts3)
    geo.forehead = geo.project(forehead3)
    geo.head = geo.to_pixels(head_outline(camera))
    if features.ears:
        geo.ears = [geo.project(ear_outline(side)) for side in (-1, 1) if ear_faces_camera(side, rot)]
    return geo


# ------------------------------------------------------------------------------------------------ styles
def _skin_tone(rng: np.random.Generator) -> np.ndarray:
    """A skin albedo (BGR) interpolated along the tone scale of the flat style, with a hue jitter."""
    tones = flat.SKIN_TONES.astype(np.float64)
    t = rng.uniform(0, len(tones) - 1)
    i = min(int(t), len(tones) - 2)
    base = tones[i] + (tones[i + 1] - tones[i]) * (t - i)
    return np.clip(base * rng.uniform(0.92, 1.08, 3), 0, 255)


def sample_style3d(rng: np.random.Generator, features: RenderFeatures) -> Dict:
    """Colours, light and the optional parts of one face."""
    style = flat.sample_style(rng)
    style['skin'] = tuple(float(v) for v in _skin_tone(rng))
    light = np.array([rng.uniform(-0.8, 0.8), rng.uniform(-0.7, 0.5), rng.uniform(0.4, 1.0)])
    style.update(
        light=light / np.linalg.norm(light),
        ambient=float(rng.uniform(0.25, 0.6)),
        specular=float(rng.uniform(0.0, 0.25)),
        shininess=float(rng.uniform(8, 40)),
        light_colour=np.clip(rng.normal(1.0, 0.06, 3), 0.8, 1.2),
        hair_kind=('none' if not features.hair else 'bald' if rng.random() < features.bald_prob else 'hair'),
        long_hair=bool(features.hair and rng.random() < features.long_hair_prob),
        hairline=float(rng.uniform(-0.15, 0.2)),
        fringe=bool(features.hair and rng.random() < 0.4),
        beard=int(rng.integers(1, 4)) if features.facial_hair and rng.random() < features.facial_hair_prob else 0,
        glasses=int(rng.integers(1, 3)) if features.glasses and rng.random() < features.glasses_prob else 0,
        gaze=rng.uniform(-0.2, 0.2, 2),
    )
    return style


def _roi(polys: List[np.ndarray], h: int, w: int, pad: int = 2) -> Optional[Tuple[int, int, int, int]]:
    allp = np.concatenate(polys)
    x0, y0 = np.floor(allp.min(0)).astype(int) - pad
    x1, y1 = np.ceil(allp.max(0)).astype(int) + pad + 1
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    return None if x1 - x0 < 2 or y1 - y0 < 2 else (x0, y0, x1, y1)


def _smooth_noise(rng: np.random.Generator, h: int, w: int, cells: int) -> np.ndarray:
    small = rng.standard_normal((cells, cells)).astype(np.float32)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)


def _streaks(rng: np.random.Generator, h: int, w: int, angle: float, length: int) -> np.ndarray:
    """Hair-like texture ``(h, w)`` in about [-1, 1]: white noise smeared along ``angle`` (radians)."""
    noise = rng.standard_normal((h, w)).astype(np.float32)
    k = np.zeros((length, length), np.float32)
    c = (length - 1) / 2
    d = np.array([np.cos(angle), np.sin(angle)]) * c
    cv2.line(k, (int(round(c - d[0])), int(round(c - d[1]))), (int(round(c + d[0])), int(round(c + d[1]))), 1.0)
    k /= max(k.sum(), 1.0)
    return cv2.filter2D(noise, -1, k) * np.sqrt(length)


def _mask(shape, polys: List[np.ndarray], offset=(0, 0), aa: bool = True) -> np.ndarray:
    m = np.zeros(shape, np.uint8)
    for p in polys:
        fill_poly(m, np.asarray(p) - offset, 255, aa=aa)
    return m.astype(np.float32) * (1.0 / 255.0)


def _blend(roi: np.ndarray, colour_img: np.ndarray, alpha: np.ndarray) -> None:
    """``roi = roi + (colour - roi) * alpha`` in place, only inside the bounding box of ``alpha > 0``."""
    ys, xs = np.nonzero(alpha.max(1) > 0)[0], np.nonzero(alpha.max(0) > 0)[0]
    if len(ys) == 0:
        return
    sl = (slice(ys[0], ys[-1] + 1), slice(xs[0], xs[-1] + 1))
    r = roi[sl].astype(np.float32)
    c = np.broadcast_to(colour_img, roi.shape)[sl] if np.ndim(colour_img) == 3 else colour_img
    r += (c - r) * alpha[sl][..., None]
    np.clip(r, 0, 255, out=r)
    roi[sl] = r.astype(np.uint8)


# ------------------------------------------------------------------------------------------------ head
def _paint_head(img: np.ndarray, geo: FaceGeometry, style: Dict, features: RenderFeatures,
                rng: np.random.Generator) -> None:
    """Head ellipsoid, ears and face region, shaded and textured; hair above the hairline.

    Normals, shading and the hair mask vary smoothly, so they are computed on a grid of every second pixel and
    resized (bilinear); edges come from the anti-aliased polygon masks at full resolution.
    """
    h, w = img.shape[:2]
    face_poly = np.concatenate([geo.pts[G['jaw']], geo.forehead])
    box = _roi([geo.head, face_poly] + geo.ears, h, w)
    if box is None:
        return
    x0, y0, x1, y1 = box
    rh, rw = y1 - y0, x1 - x0
    sh, sw = (rh + 1) // 2, (rw + 1) // 2
    gx = ((x0 + 2 * np.arange(sw, dtype=np.float32) + 0.5) - geo.offset[0]) / geo.scale
    gy = ((y0 + 2 * np.arange(sh, dtype=np.float32) + 0.5) - geo.offset[1]) / geo.scale
    cx, cy = np.meshgrid(gx, gy)
    rot = geo.camera.rotation
    _, normal, head_xyz = raycast_ellipsoid(cx, cy, rot)
    normal = normal.astype(np.float32)

    def full(a):   # half-resolution (sh, sw[, c]) -> (rh, rw[, c])
        return cv2.resize(a, (rw, rh), interpolation=cv2.INTER_LINEAR)

    skin = np.array(style['skin'], np.float32)
    if features.skin_texture:
        tex = 1 + 0.05 * _smooth_noise(rng, sh, sw, int(rng.integers(4, 9)))
        # cheek redness: two soft blobs below the eyes, towards the jaw
        red = np.zeros((sh, sw), np.float32)
        for eye, jaw in ((G['right_eye'], 3), (G['left_eye'], 13)):
            c = (geo.pts[eye].mean(0) * 0.5 + geo.pts[jaw] * 0.5 - geo.offset) / geo.scale
            r2 = ((cx - c[0])**2 + (cy - c[1])**2) * (1.0 / 0.12**2)
            red += np.float32(rng.uniform(0, 0.12)) * np.exp(-r2)
        albedo = tex[..., None] * skin * (1 - red[..., None] * np.array([0.35, 0.3, -0.1], np.float32))
    else:
        albedo = np.broadcast_to(skin, (sh, sw, 3)).astype(np.float32)

    if features.shading:
        light = style['light'].astype(np.float32)
        ndl = np.clip(normal @ light, 0, 1)
        half = light + np.array([0.0, 0.0, 1.0], np.float32)
        half /= np.linalg.norm(half)
        spec = np.clip(normal @ half, 0, 1) ** np.float32(style['shininess']) * np.float32(style['specular'])
        shade = np.float32(style['ambient']) + np.float32(1 - style['ambient']) * ndl
        lc = style['light_colour'].astype(np.float32)
        skin_small = albedo * shade[..., None] * lc + (spec[..., None] * 255.0) * lc
    else:
        skin_small = albedo * np.float32(0.9)
    skin_img = full(skin_small)
    if features.skin_texture:
        pores = np.empty((rh, rw), np.float32)
        cv2.setRNGSeed(int(rng.integers(2**31 - 1)))
        cv2.randn(pores, 0.0, 0.025)
        skin_img *= (1 + pores)[..., None]
        if rng.random() < 0.15:     # freckles or moles
            for _ in range(int(rng.integers(3, 25))):
                p = geo.pts[rng.integers(68)] + rng.normal(0, 0.12 * geo.scale, 2) - (x0, y0)
                cv2.circle(skin_img, (int(p[0]), int(p[1])), max(0, int(rng.uniform(0, 0.012) * geo.scale)),
                           tuple(float(v) * 0.7 for v in skin), -1, cv2.LINE_AA)

    roi = img[y0:y1, x0:x1]
    off = (x0, y0)
    if style['long_hair']:
        c_low = geo.pts[8] + (geo.pts[8] - geo.pts[27]) * rng.uniform(0.0, 0.5)
        outline = geo.head
        side = np.array([outline[np.argmin(outline[:, 0])], outline[np.argmax(outline[:, 0])]])
        drop = np.array([[side[0, 0] - 0.05 * geo.scale, c_low[1]], [side[1, 0] + 0.05 * geo.scale, c_low[1]]])
        fill_poly(img, np.array([side[0], side[1], drop[1], drop[0]]), tuple(0.8 * c for c in style['hair']))
    fill_poly(img, _neck_polygon(geo), tuple(float(v) * 0.72 for v in skin))
    head_colour = skin_img
    hair_img = None
    if style['hair_kind'] == 'hair':
        hair = np.array(style['hair'], np.float32)
        hair_shade = 0.5 + 0.5 * np.clip(normal @ style['light'].astype(np.float32), 0, 1) if features.shading \
            else np.full((sh, sw), 0.85, np.float32)
        hx, hy, hz = head_xyz[..., 0], head_xyz[..., 1], head_xyz[..., 2]
        azimuth = np.arctan2(hx, hz + 0.45)               # 0 in front, +-pi at the back
        hairline = -0.3 - 0.8 * np.cos(azimuth) * (1 - 0.3 * np.abs(np.sin(azimuth))) + style['hairline']
        hair_alpha = full(np.clip((hairline - hy) * 8.0, 0, 1).astype(np.float32))[..., None]
        tex = _streaks(rng, rh, rw, rng.uniform(0, np.pi), int(rng.integers(3, 9)) | 1)[..., None]
        hair_img = np.clip(full(hair_shade)[..., None] * hair * (1 + 0.18 * tex), 0, 255)
        head_colour = skin_img + (hair_img - skin_img) * hair_alpha
    head_mask = _mask((rh, rw), [geo.head], off)
    far = _far_cheek_region(geo)
    if far is not None:      # beside the far cheek the silhouette is the face contour, not the head ellipsoid
        head_mask *= 1 - _mask((rh, rw), [far], off)
    _blend(roi, head_colour, head_mask)
    for ear in geo.ears:
        _blend(roi, skin_img * 0.92, _mask((rh, rw), [ear], off))
        inner = ear.mean(0) + (ear - ear.mean(0)) * 0.55
        _blend(roi, skin_img * 0.7, _mask((rh, rw), [inner], off) * 0.7)
    _blend(roi, skin_img, _mask((rh, rw), [face_poly], off))
    if style['fringe'] and hair_img is not None:
        line = geo.forehead * 0.7 + geo.pts[G['right_brow'] + G['left_brow']].mean(0) * 0.3
        line = geo.forehead + (line - geo.forehead) * rng.uniform(0.3, 0.9)
        _blend(roi, hair_img, _mask((rh, rw), [np.concatenate([geo.forehead, line[::-1]])], off))


def _far_cheek_region(geo: FaceGeometry, min_turn: float = 0.05) -> Optional[np.ndarray]:
    """The image region beyond the far-side contour (from the jaw top down to the chin, extended away from the
    face), where the head ellipsoid must not be painted; None for a frontal face."""
    r20 = float(geo.camera.rotation[2, 0])
    if abs(r20) < min_turn:
        return None
    pts = geo.pts
    side = list(range(16, 7, -1)) if r20 < 0 else list(range(0, 9))   # far side: x > 0 turns away when r20 < 0
    contour = pts[side]
    u = pts[16] - pts[0]
    u = u / (np.linalg.norm(u) + 1e-9) * (1 if r20 < 0 else -1)
    far = 4.0 * float(np.ptp(pts, 0).max())
    return np.concatenate([contour, [contour[-1] + u * far, contour[0] + u * far]])


def _neck_polygon(geo: FaceGeometry) -> np.ndarray:
    pts = geo.pts
    down = (pts[8] - pts[27]) / (np.linalg.norm(pts[8] - pts[27]) + 1e-9)
    width = np.linalg.norm(pts[12] - pts[4])
    return np.array([pts[4], pts[12], pts[12] + down * width * 1.6, pts[4] + down * width * 1.6])


# ------------------------------------------------------------------------------------------------ parts
def _draw_eye3d(img: np.ndarray, eye: np.ndarray, style: Dict, rng: np.random.Generator, lid_colour,
                gaze: np.ndarray) -> None:
    """Eye white in the eye polygon, iris with a dark limbus, pupil and catchlight, lash line and lid crease."""
    h, w = img.shape[:2]
    box = _roi([eye], h, w, pad=3)
    if box is None:
        return
    x0, y0, x1, y1 = box
    roi = img[y0:y1, x0:x1]
    local = eye - (x0, y0)
    width = float(np.linalg.norm(local[3] - local[0]))
    opening = float(np.linalg.norm(local[[1, 2]].mean(0) - local[[5, 4]].mean(0)))
    mask = _mask(roi.shape[:2], [local])[..., None]
    centre = local[[0, 3]].mean(0) + np.array([gaze[0] * width, gaze[1] * opening])
    r_iris = max(0.24 * width, 0.5)
    yy, xx = np.ogrid[0:roi.shape[0], 0:roi.shape[1]]
    d = (np.sqrt((xx - centre[0])**2 + (yy - centre[1])**2) / r_iris).astype(np.float32)[..., None]
    out = roi.astype(np.float32)
    out += (np.array(style['sclera'], np.float32) * np.float32(rng.uniform(0.85, 1.0)) - out) * mask
    edge = max(r_iris, 1.0)
    iris_a = np.clip((1.0 - d) * edge, 0, 1) * mask
    radial = 0.75 + 1.4 * d * (1 - d) - 0.25 * (d > 0.8)
    out += (np.array(style['iris'], np.float32) * radial - out) * iris_a
    out += (12.0 - out) * (np.clip((0.42 - d) * edge * 2, 0, 1) * mask)
    g = np.sqrt((xx - centre[0] + 0.35 * r_iris)**2 + (yy - centre[1] + 0.35 * r_iris)**2)
    glint = (np.clip(1.2 - g / max(0.16 * r_iris, 0.4), 0, 1) * 0.8).astype(np.float32)[..., None] * mask
    out += (250.0 - out) * glint
    roi[...] = np.clip(out, 0, 255).astype(np.uint8)
    thick = max(1, int(round(width * 0.09)))
    polyline(roi, local[[0, 1, 2, 3]], lid_colour, thick)
    polyline(roi, local[[3, 4, 5, 0]], tuple(0.6 * a + 0.4 * b for a, b in zip(lid_colour, style['skin'])), 1)
    crease = local[[0, 1, 2, 3]] + np.array([0.0, -0.45 * max(opening, 1.0)])
    polyline(roi, crease, tuple(0.8 * c for c in style['skin']), 1)


def _nose_shadow(img: np.ndarray, pts: np.ndarray, style: Dict) -> None:
    """A soft shadow beside the nose bridge on the side away from the light."""
    lx = float(style['light'][0])
    side = 31 if lx > 0 else 35           # light from the image right: shadow on the image-left side
    poly = np.concatenate([pts[27:31], [pts[side]], [pts[27] * 0.5 + pts[side] * 0.5 + (pts[side] - pts[30]) * 0.3]])
    h, w = img.shape[:2]
    box = _roi([poly], h, w, pad=3)
    if box is None:
        return
    x0, y0, x1, y1 = box
    roi = img[y0:y1, x0:x1]
    m = cv2.GaussianBlur(_mask(roi.shape[:2], [poly], (x0, y0)), (0, 0), 1.2)
    roi[...] = np.clip(roi * (1 - 0.35 * abs(lx) * m[..., None]), 0, 255).astype(np.uint8)


def _draw_nose3d(img: np.ndarray, pts: np.ndarray, style: Dict, half: float, u: np.ndarray) -> None:
    """Nose of a shaded face: a faint highlight on the bridge's lit side, the shaded underside of the tip along
    the nose base (31-35) and the nostrils; the bridge itself is carried by the shading and the shadow."""
    skin = np.array(style['skin']) * (style['ambient'] + 0.6 * (1 - style['ambient']))
    lx = float(style['light'][0])
    bridge = pts[G['nose_bridge']] + u * np.sign(lx) * 0.03 * half
    polyline(img, bridge[1:], tuple(float(v) for v in np.clip(skin * 1.15, 0, 255)), max(1, int(0.035 * half)))
    base = pts[G['nose_base']]
    tip = pts[30]
    fill_poly(img, np.concatenate([base, [tip + (base[-1] - tip) * 0.3, tip, tip + (base[0] - tip) * 0.3]]),
              tuple(float(v) for v in skin * 0.85))
    ang = float(np.degrees(np.arctan2(u[1], u[0])))
    for a, b in ((31, 32), (35, 34)):
        centre = pts[a] * 0.55 + pts[b] * 0.45 + (tip - pts[33]) * 0.15
        axes = (max(1.0, 0.06 * half), max(0.6, 0.03 * half))
        cv2.ellipse(img, tuple(int(v) for v in np.round(centre * 16)), tuple(int(v * 16) for v in axes), ang, 0,
                    360, tuple(float(v) for v in skin * 0.3), -1, cv2.LINE_AA, 4)
    polyline(img, base, tuple(float(v) for v in skin * 0.6), 1)


def _draw_facial_hair(img: np.ndarray, pts: np.ndarray, style: Dict, rng: np.random.Generator) -> None:
    """Stubble (1), moustache (2) or full beard (3), inside the face contour so that the contour edge stays."""
    h, w = img.shape[:2]
    mouth_top = pts[[48, 49, 50, 51, 52, 53, 54]]
    nose = pts[[35, 34, 33, 32, 31]]
    polys = [np.concatenate([mouth_top, nose])]                                     # moustache
    if style['beard'] != 2:
        cheek = pts[2:15] * 0.75 + pts[[31, 31, 31, 31, 31, 33, 33, 33, 35, 35, 35, 35, 35]] * 0.25
        polys.append(np.concatenate([pts[2:15], cheek[::-1]]))
    box = _roi(polys + [pts[G['jaw']]], h, w)
    if box is None:
        return
    x0, y0, x1, y1 = box
    roi = img[y0:y1, x0:x1]
    jaw_region = np.concatenate([pts[G['jaw']], pts[[26, 24, 19, 17]]])
    alpha = _mask(roi.shape[:2], polys, (x0, y0)) * _mask(roi.shape[:2], [jaw_region], (x0, y0))
    lips = _mask(roi.shape[:2], [pts[G['outer_lips']]], (x0, y0))
    alpha = alpha * (1 - lips) * (0.35 if style['beard'] == 1 else rng.uniform(0.6, 0.9))
    tex = _streaks(rng, y1 - y0, x1 - x0, np.pi / 2 + rng.uniform(-0.3, 0.3), 3)[..., None]
    colour = np.array(style['hair'], np.float32) * (1 + 0.3 * tex)
    _blend(roi, colour, alpha.astype(np.float32))


def _draw_glasses(img: np.ndarray, geo: FaceGeometry, style: Dict, rng: np.random.Generator) -> None:
    """Clear glasses: rims in front of the eyes (3-D, projected), bridge, temples; lenses faintly tinted."""
    pts3 = geo.head_pts3
    colour = tuple(float(v) for v in rng.uniform(10, 90, 3)) if rng.random() < 0.7 else \
        tuple(float(v) for v in rng.uniform(120, 220, 3))
    thick = max(1, int(round(0.025 * geo.scale)))
    t = np.linspace(0, 2 * np.pi, 20, endpoint=False)
    rims = []
    for eye in (G['right_eye'], G['left_eye']):
        c = pts3[eye].mean(0) + np.array([0.0, 0.03, 0.12])
        rx, ry = rng.uniform(0.2, 0.26), rng.uniform(0.13, 0.19)
        if style['glasses'] == 1:       # rounded rectangles
            ring = np.stack([np.sign(np.cos(t)) * np.abs(np.cos(t))**0.5 * rx,
                             np.sign(np.sin(t)) * np.abs(np.sin(t))**0.5 * ry, np.zeros_like(t)], 1)
        else:
            ring = np.stack([np.cos(t) * rx, np.sin(t) * ry, np.zeros_like(t)], 1)
        rims.append(geo.project(ring + c))
    h, w = img.shape[:2]
    box = _roi(rims, h, w)
    if box is not None and rng.random() < 0.6:
        x0, y0, x1, y1 = box
        roi = img[y0:y1, x0:x1]
        tint = np.array(rng.uniform(150, 255, 3), np.float32)
        _blend(roi, np.broadcast_to(tint, roi.shape).astype(np.float32),
               _mask(roi.shape[:2], rims, (x0, y0)) * np.float32(rng.uniform(0.05, 0.2)))
    for r in rims:
        polyline(img, r, colour, thick, closed=True)
    inner = [rims[0][np.argmax(rims[0][:, 0])], rims[1][np.argmin(rims[1][:, 0])]]
    polyline(img, np.array(inner), colour, thick)
    for rim, side in ((rims[0], -1), (rims[1], 1)):
        end = geo.project(np.array([[side * 1.0, -0.3, -0.45]]))[0]
        start = rim[np.argmin(rim[:, 0])] if side < 0 else rim[np.argmax(rim[:, 0])]
        if ear_faces_camera(side, geo.camera.rotation, margin=0.0):
            polyline(img, np.array([start, end]), colour, thick)


def render_face3d(img: np.ndarray, geo: FaceGeometry, style: Dict, features: RenderFeatures,
                  rng: np.random.Generator) -> None:
    """Paint the posed face ``geo`` onto the background ``img`` in place (see the module docstring)."""
    pts = geo.pts
    _, u, v, half = flat.face_frame(pts)
    _paint_head(img, geo, style, features, rng)
    flat._draw_brows(img, pts, style, half, v)
    lid = tuple(0.3 * c for c in style['brow'])
    for eye in (G['right_eye'], G['left_eye']):
        if features.eye_detail:
            _draw_eye3d(img, pts[eye], style, rng, lid, style['gaze'])
        else:
            flat._draw_eye(img, pts[eye], style, rng, lid)
    if features.shading:
        _nose_shadow(img, pts, style)
        _draw_nose3d(img, pts, style, half, u)
    else:
        flat._draw_nose(img, pts, style, half, u)
    if style['beard']:
        _draw_facial_hair(img, pts, style, rng)
    flat._draw_mouth(img, pts, style)
    if style['glasses']:
        _draw_glasses(img, geo, style, rng)
