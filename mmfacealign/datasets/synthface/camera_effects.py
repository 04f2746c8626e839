# Copyright (c) mmfacealign contributors. All rights reserved.
"""Camera effects for SynthFace: defocus, motion blur, low light, sensor noise, colour casts and JPEG re-encoding.

Each effect has one switch in :class:`CameraEffects` and its own probability and ranges; lengths are given in
pixels at ``reference_size`` (128) and scaled with the image's shorter side. They are applied in the order of a
camera: optics (defocus: a disk kernel; motion blur: a line kernel of random angle and length), exposure (low
light: gain down, gamma up, extra noise), sensor noise (Gaussian read noise plus signal-dependent shot noise,
``var = read^2 + k * I``), white balance (colour cast: gains of the blue and red channels against green), and
compression (JPEG at quality 25-95, ``cv2.imencode`` / ``cv2.imdecode``).

Usage::

    img = apply_camera_effects(img, rng, CameraEffects())                     # all effects, default rates
    img = apply_camera_effects(img, rng, CameraEffects.only('motion_blur'))   # one effect, always applied
    img, info = apply_camera_effects(img, rng, effects, return_info=True)     # info: what was applied

Deterministic: every call draws exactly one ``rng.random(24)`` (whatever is switched on; each effect has its own
slots, so switching one effect off does not change what the others draw), and the noise comes from OpenCV's
generator seeded from those draws. With every switch off (or no effect drawn) the input array is returned as is.
"""
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Optional, Tuple

import cv2
import numpy as np

EFFECTS = ('defocus', 'motion_blur', 'low_light', 'noise', 'colour_cast', 'jpeg')
_NUM_DRAWS = 24


@dataclass(frozen=True)
class CameraEffects:
    """Switches (one per effect), probabilities and ranges. Pixel lengths are at ``reference_size``."""
    defocus: bool = True
    motion_blur: bool = True
    low_light: bool = True
    noise: bool = True
    colour_cast: bool = True
    jpeg: bool = True

    defocus_prob: float = 0.2
    defocus_radius: Tuple[float, float] = (0.6, 2.5)        # disk radius, px
    motion_blur_prob: float = 0.15
    motion_length: Tuple[float, float] = (2.0, 8.0)         # line length, px
    motion_angle: Tuple[float, float] = (0.0, 180.0)        # degrees, image x axis towards y
    low_light_prob: float = 0.12
    low_light_gain: Tuple[float, float] = (0.25, 0.6)
    low_light_gamma: Tuple[float, float] = (1.0, 1.5)
    low_light_noise: Tuple[float, float] = (2.0, 6.0)       # extra read-noise sigma (8-bit levels)
    noise_prob: float = 0.7
    read_noise: Tuple[float, float] = (0.5, 5.0)            # Gaussian sigma, 8-bit levels
    shot_noise: Tuple[float, float] = (0.0, 0.5)            # k in var = read^2 + k * I (I in 8-bit levels)
    colour_cast_prob: float = 0.5
    wb_gain: Tuple[float, float] = (0.78, 1.25)             # blue and red gains against green (log-uniform)
    jpeg_prob: float = 0.5
    jpeg_quality: Tuple[int, int] = (25, 95)
    reference_size: int = 128

    @classmethod
    def none(cls) -> 'CameraEffects':
        """Every switch off (identity)."""
        return cls(**{name: False for name in EFFECTS})

    @classmethod
    def only(cls, *names: str, prob: float = 1.0, **overrides) -> 'CameraEffects':
        """Only the effects ``names`` switched on, each applied with probability ``prob`` (default always)."""
        bad = set(names) - set(EFFECTS)
        if bad:
            raise KeyError(f'unknown camera effect(s) {sorted(bad)}; known: {EFFECTS}')
        kw = {name: name in names for name in EFFECTS}
        kw.update({f'{name}_prob': prob for name in names})
        kw.update(overrides)
        return cls(**kw)

    def replace(self, **changes) -> 'CameraEffects':
        return replace(self, **changes)

    def any_on(self) -> bool:
        return any(getattr(self, name) for name in EFFECTS)


def _lerp(r, u: float) -> float:
    return float(r[0] + u * (r[1] - r[0]))


def _log_lerp(r, u: float) -> float:
    return float(np.exp(np.log(r[0]) + u * (np.log(r[1]) - np.log(r[0]))))


@lru_cache(maxsize=256)
def disk_kernel(radius_q: float) -> np.ndarray:
    """Normalised anti-aliased disk of ``radius_q`` pixels (pixel coverage by 8x8 supersampling), float32."""
    r = max(float(radius_q), 0.5)
    n = int(np.ceil(r - 0.5))
    ss = 8
    g = (np.arange((2 * n + 1) * ss) + 0.5) / ss - (n + 0.5)
    inside = (g[None, :] ** 2 + g[:, None] ** 2) <= r * r
    k = inside.reshape(2 * n + 1, ss, 2 * n + 1, ss).mean((1, 3)).astype(np.float32)
    return k / k.sum()


@lru_cache(maxsize=2048)
def motion_kernel(length_q: float, angle_deg_q: float) -> np.ndarray:
    """Normalised line kernel of ``length_q`` pixels at ``angle_deg_q`` degrees (bilinear splatting of dense
    samples along the segment), float32."""
    length = max(float(length_q), 1.0)
    a = np.radians(angle_deg_q)
    half = length / 2
    n = int(np.ceil(half + 1))
    size = 2 * n + 1
    t = np.linspace(-half, half, max(int(length * 6), 2))
    x, y = n + t * np.cos(a), n + t * np.sin(a)
    x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
    fx, fy = x - x0, y - y0
    k = np.zeros((size, size), np.float64)
    for dx, dy, w in ((0, 0, (1 - fx) * (1 - fy)), (1, 0, fx * (1 - fy)), (0, 1, (1 - fx) * fy), (1, 1, fx * fy)):
        np.add.at(k, (np.clip(y0 + dy, 0, size - 1), np.clip(x0 + dx, 0, size - 1)), w)
    return (k / k.sum()).astype(np.float32)


_TILE = 11      # OpenCV's filter2D switches to a (much slower, here) DFT above about 11x11 taps


def filter_image(img: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Correlate float32 ``img`` with ``kernel`` (odd size, centred), borders reflected (``BORDER_REFLECT_101``).

    Zero rows and columns at the kernel's sides are dropped, and a kernel larger than 11x11 is applied tile by
    tile (each tile's ``filter2D`` on the shifted window of a padded copy, empty tiles skipped): the same sum, but
    several times faster than OpenCV's DFT path for sparse line kernels."""
    kh, kw = kernel.shape
    cy, cx = kh // 2, kw // 2
    ys, xs = np.nonzero(kernel)
    ry, rx = int(np.abs(ys - cy).max()), int(np.abs(xs - cx).max())
    k = kernel[cy - ry:cy + ry + 1, cx - rx:cx + rx + 1]
    if k.shape[0] <= _TILE and k.shape[1] <= _TILE:
        return cv2.filter2D(img, -1, k, borderType=cv2.BORDER_REFLECT_101)
    h, w = img.shape[:2]
    pad = cv2.copyMakeBorder(img, ry, ry, rx, rx, cv2.BORDER_REFLECT_101)
    out = None
    for y0 in range(0, k.shape[0], _TILE):
        for x0 in range(0, k.shape[1], _TILE):
            t = k[y0:y0 + _TILE, x0:x0 + _TILE]
            if not t.any():
                continue
            th, tw = t.shape
            win = pad[y0:y0 + h + th - 1, x0:x0 + w + tw - 1]
            part = cv2.filter2D(win, -1, np.ascontiguousarray(t), anchor=(0, 0),
                                borderType=cv2.BORDER_REFLECT_101)[:h, :w]
            out = part if out is None else cv2.add(out, part)
    return out


def apply_camera_effects(img: np.ndarray, rng: np.random.Generator, effects: Optional[CameraEffects] = None,
                         return_info: bool = False):
    """Apply the switched-on effects of ``effects`` (default ``CameraEffects()``), each with its own probability,
    to the uint8 BGR image ``img`` ``(H, W, 3)``; returns uint8 BGR (``img`` itself when nothing applies), or
    ``(img, info)`` with ``info`` a dict of the applied effects and their parameters."""
    eff = effects if effects is not None else CameraEffects()
    u = rng.random(_NUM_DRAWS)
    info = {}
    h, w = img.shape[:2]
    f = min(h, w) / float(eff.reference_size)
    out = None

    def as_float():
        return img.astype(np.float32) if out is None else out

    # optics ---------------------------------------------------------------------------------- slots 0-5
    if eff.defocus and u[0] < eff.defocus_prob:
        r = round(_lerp(eff.defocus_radius, u[1]) * f * 8) / 8      # 1/8 px steps: cached kernels
        out = filter_image(as_float(), disk_kernel(r))
        info['defocus'] = dict(radius=r)
    if eff.motion_blur and u[2] < eff.motion_blur_prob:
        length = round(_lerp(eff.motion_length, u[3]) * f * 4) / 4
        angle = round(_lerp(eff.motion_angle, u[4]))
        out = filter_image(as_float(), motion_kernel(length, float(angle)))
        info['motion_blur'] = dict(length=length, angle=angle)
    # exposure -------------------------------------------------------------------------------- slots 6-9
    extra_read = 0.0
    if eff.low_light and u[6] < eff.low_light_prob:
        gain, gamma = _lerp(eff.low_light_gain, u[7]), _lerp(eff.low_light_gamma, u[8])
        if out is None:      # straight from uint8: a 256-entry table
            lut = (255.0 * (np.arange(256) * (gain / 255.0)) ** gamma).astype(np.float32)
            out = cv2.LUT(img, lut)
        else:
            x = out * (gain / 255.0)
            np.maximum(x, 0, out=x)
            out = cv2.pow(x, gamma) * 255.0
        extra_read = _lerp(eff.low_light_noise, u[9])
        info['low_light'] = dict(gain=round(gain, 4), gamma=round(gamma, 4), noise=round(extra_read, 3))
    # sensor noise ---------------------------------------------------------------------------- slots 10-13
    read, shot = 0.0, 0.0
    if eff.noise and u[10] < eff.noise_prob:
        read, shot = _lerp(eff.read_noise, u[11]), _lerp(eff.shot_noise, u[12])
        info['noise'] = dict(read=round(read, 3), shot=round(shot, 4))
    if read > 0 or shot > 0 or extra_read > 0:
        x = as_float()
        cv2.setRNGSeed(int(u[13] * (2**31 - 2)) + 1)
        n = np.empty(x.shape, np.float32)
        cv2.randn(n.reshape(x.shape[0], -1), 0.0, 1.0)      # single-channel view: every channel gets noise
        var = read * read + extra_read * extra_read
        if shot > 0:
            sigma = cv2.sqrt(np.maximum(x, 0) * shot + var)
            out = x + n * sigma
        else:
            out = x + n * float(np.sqrt(var))
    # white balance --------------------------------------------------------------------------- slots 14-16
    if eff.colour_cast and u[14] < eff.colour_cast_prob:
        gb, gr = _log_lerp(eff.wb_gain, u[15]), _log_lerp(eff.wb_gain, u[16])
        out = as_float() * np.array([gb, 1.0, gr], np.float32)
        info['colour_cast'] = dict(gain_b=round(gb, 4), gain_r=round(gr, 4))
    res = img if out is None else np.clip(out + 0.5, 0, 255).astype(np.uint8)      # rounded
    # compression ----------------------------------------------------------------------------- slots 17-18
    if eff.jpeg and u[17] < eff.jpeg_prob:
        q = int(round(_lerp(eff.jpeg_quality, u[18])))
        ok, buf = cv2.imencode('.jpg', np.ascontiguousarray(res), [cv2.IMWRITE_JPEG_QUALITY, q])
        if not ok:
            raise RuntimeError('cv2.imencode(.jpg) failed')
        res = cv2.imdecode(buf, cv2.IMREAD_COLOR)
        info['jpeg'] = dict(quality=q)
    return (res, info) if return_info else res


__all__ = ['EFFECTS', 'CameraEffects', 'apply_camera_effects', 'disk_kernel', 'motion_kernel', 'filter_image']
