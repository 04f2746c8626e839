# Copyright (c) mmfacealign contributors. All rights reserved.
"""Procedural face masks over 68-point faces: the Masked-300W protocol of SRN.

SRN (Zhu et al., Pattern Recognition 2022), Sec. 4.2 and Table 2: "Masked 300W" places a mask on every 300W test
face (following SAAT, ICCV 2021) and is used for testing only. SAAT's mask images are not available here,
so a procedural mask (our substitute) serves the same protocol: SynthFace's mask occluder (the same geometry
and painting code, :mod:`mmfacealign.datasets.synthface.occluders`), drawn from the face's own landmarks, from jaw
point 1 over the nose bridge to jaw point 15 and down round the chin, so it covers the nose bottom, the mouth and
the lower jaw. Shape (how far it bulges past the jaw), colour (four base colours with jitter) and texture (plain
with pleats, or a printed pattern) vary; with ``seed`` set, each image's mask is a function of the seed and the
image id alone, so a converted test set is reproducible.

``tools/dataset_converters/mask_faces.py`` writes a masked copy of a dataset with this transform.
"""
import zlib
from typing import Optional

import numpy as np
from mmcv.transforms import BaseTransform
from mmpose.registry import TRANSFORMS

from ..synthface.occluders import _texture, draw_occluder, occluder_mask, occlusion_flags, sample_occluder
from ..synthface.renderer import fill_poly


def draw_face_mask(img: np.ndarray, pts: np.ndarray, rng: np.random.Generator, texture_prob: float = 0.5):
    """Draw a mask on ``img`` (H, W, 3) uint8 in place for the 68 landmarks ``pts`` (68, 2); return the covered
    landmarks (68,) bool and the mask polygon (P, 2)."""
    occ = sample_occluder('mask', rng, pts)
    draw_occluder(img, occ, rng)
    poly = occ.polygons[0]
    if rng.uniform() < texture_prob:                   # a printed pattern over part of the plain mask
        h, w = img.shape[:2]
        x0, y0 = np.clip(np.floor(poly.min(0)).astype(int) - 1, 0, [w, h])
        x1, y1 = np.clip(np.ceil(poly.max(0)).astype(int) + 2, 0, [w, h])
        if x1 > x0 and y1 > y0:
            cover = np.zeros((y1 - y0, x1 - x0), np.uint8)
            fill_poly(cover, poly - (x0, y0), 255)
            alpha = (cover.astype(np.float32) / 255. * rng.uniform(0.3, 0.7))[..., None]
            roi = img[y0:y1, x0:x1]
            roi[...] = (roi * (1 - alpha) + _texture(rng, y1 - y0, x1 - x0) * alpha).astype(np.uint8)
    flags = occlusion_flags(occluder_mask([occ], *img.shape[:2]), pts)
    return flags, poly


@TRANSFORMS.register_module()
class FaceMaskOcclusion(BaseTransform):
    """Draw a face mask on the original image of a 68-point face and flag the landmarks it covers.

    Put it after ``LoadImage`` and before ``GetBBoxCenterScale`` / ``TopdownAffine`` (it works on the original image
    and ``keypoints``). Coordinates and ``keypoints_visible`` are unchanged; ``keypoints_occluded`` (1, 68) gets 1 on
    the covered landmarks (created, all 0 elsewhere, when the dataset gave no occlusion labels), so the metric
    reports NME_occluded / NME_visible. Added key: ``mask_polygon``.

    Args:
        prob (float): Probability of applying. Default 1 (the Masked-300W protocol: every face).
        seed (int, optional): Per-image seeding: the mask depends on ``(seed, img_id or img_path)`` only. Default
            None: NumPy's global generator (random augmentation).
        texture_prob (float): Probability of a printed pattern. Default 0.5.
    """

    def __init__(self, prob: float = 1., seed: Optional[int] = None, texture_prob: float = 0.5):
        if not 0. <= prob <= 1. or not 0. <= texture_prob <= 1.:
            raise ValueError(f'FaceMaskOcclusion: prob and texture_prob must be in [0, 1], got {prob}, '
                             f'{texture_prob}')
        self.prob, self.seed, self.texture_prob = prob, seed, texture_prob

    def _rng(self, results: dict) -> np.random.Generator:
        if self.seed is None:
            return np.random.default_rng(np.random.randint(0, 2**31 - 1))
        key = results.get('img_id', results.get('img_path', ''))
        return np.random.default_rng([self.seed, zlib.crc32(str(key).encode())])

    def transform(self, results: dict) -> dict:
        kpts = np.asarray(results['keypoints'], dtype=np.float64)
        if kpts.shape[-2] != 68:
            raise ValueError(f'FaceMaskOcclusion: needs the 68-point iBUG layout, got {kpts.shape[-2]} keypoints '
                             f"(image {results.get('img_path', '?')})")
        rng = self._rng(results)
        if rng.uniform() >= self.prob:
            results['mask_polygon'] = None
            return results
        img = np.ascontiguousarray(results['img']).copy()
        if img.ndim != 3 or img.shape[2] != 3:
            raise ValueError(f'FaceMaskOcclusion: expected an (H, W, 3) image, got {img.shape} '
                             f"(image {results.get('img_path', '?')})")
        flags, poly = draw_face_mask(img, kpts.reshape(-1, 68, 2)[0], rng, self.texture_prob)
        results['img'] = img
        results['mask_polygon'] = poly
        if results.get('keypoints_occluded') is None:            # e.g. 300W jsons without occlusion labels
            results['keypoints_occluded'] = np.zeros((1, 68), np.float32)
        occluded = np.array(results['keypoints_occluded'], dtype=np.float32, copy=True).reshape(1, -1)
        occluded[0, flags] = 1.
        results['keypoints_occluded'] = occluded
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(prob={self.prob}, seed={self.seed}, texture_prob={self.texture_prob})'
