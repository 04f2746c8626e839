# Copyright (c) mmfacealign contributors. All rights reserved.
"""Random-rectangle occlusion, the training augmentation of SCDF.

SCDF (Lin et al., TIP 2021), training details; ``method_facts.md`` A.8 (official ``RandomOcclude``): with
probability 0.5, paint one rectangle of area 0.2 x the crop area, aspect ratio ``U(0.4, 2.5)``, centre uniform
over the crop, filled with a uniformly random RGB colour. It runs on the 256 x 256 crop, i.e. after
``TopdownAffine`` in an MMPose pipeline.
"""
from typing import Optional, Sequence, Tuple, Union

import numpy as np
from mmcv.transforms import BaseTransform
from mmcv.transforms.utils import cache_randomness
from mmpose.registry import TRANSFORMS


@TRANSFORMS.register_module()
class RandomRectangleOcclusion(BaseTransform):
    """Paint one random rectangle on the (cropped) image.

    The rectangle has area ``area_ratio * H * W`` and aspect ``w / h ~ U(aspect_range)``; its centre is uniform
    over the image and it is clipped at the borders (as in the official code, so a rectangle near a border covers
    less than ``area_ratio``).

    Labels: landmark coordinates and ``keypoints_visible`` are left unchanged, so the loss still supervises the
    covered landmarks (the point of the augmentation: learn to infer them from the face structure). If the
    results carry ``keypoints_occluded`` (mmfacealign face datasets, ``(1, K)``) and ``transformed_keypoints``
    (written by ``TopdownAffine``), the landmarks inside the rectangle are marked occluded there, so occlusion-aware
    metrics and visualisations see them. The painted box is stored as ``occlusion_bbox`` ``(x1, y1, x2, y2)``
    (or ``None`` when not applied).

    Required keys: ``img``. Modified keys: ``img``, ``keypoints_occluded`` (if present). Added keys:
    ``occlusion_bbox``.

    Args:
        prob (float): Probability of applying. Default 0.5 (A.8).
        area_ratio (float): Rectangle area / image area. Default 0.2 (A.8).
        aspect_range (tuple): Range of the width / height ratio. Default (0.4, 2.5) (A.8).
        color (str | number | sequence): ``'random'`` (default, uniform integer in [0, 255] per channel) or a
            fixed colour: one value for every channel, or one value per channel. A 3-value colour on a
            single-channel (grayscale) image paints the mean of the three values, on a 4-channel (e.g. BGRA) image
            the three values and an opaque 255; any other channel-count mismatch is an error naming the counts.
    """

    def __init__(self, prob: float = 0.5, area_ratio: float = 0.2, aspect_range: Tuple[float, float] = (0.4, 2.5),
                 color: Union[str, float, Sequence[float]] = 'random'):
        if not 0. <= prob <= 1.:
            raise ValueError(f'RandomRectangleOcclusion: prob must be in [0, 1], got {prob}')
        if not 0. < area_ratio <= 1.:
            raise ValueError(f'RandomRectangleOcclusion: area_ratio must be in (0, 1], got {area_ratio}')
        if len(aspect_range) != 2 or not 0 < aspect_range[0] <= aspect_range[1]:
            raise ValueError(f'RandomRectangleOcclusion: aspect_range must be (low, high) with 0 < low <= high, '
                             f'got {aspect_range}')
        if isinstance(color, str) and color != 'random':
            raise ValueError(f"RandomRectangleOcclusion: color must be 'random' or a per-channel value, got {color!r}")
        self.prob = prob
        self.area_ratio = area_ratio
        self.aspect_range = tuple(aspect_range)
        self.color = color

    @cache_randomness
    def _sample(self, height: int, width: int, channels: int) -> Optional[Tuple[Tuple[int, int, int, int],
                                                                                  np.ndarray]]:
        if np.random.rand() >= self.prob:
            return None
        area = self.area_ratio * height * width
        aspect = np.random.uniform(*self.aspect_range)
        rect_w, rect_h = np.sqrt(area * aspect), np.sqrt(area / aspect)
        cx, cy = np.random.uniform(0, width), np.random.uniform(0, height)
        x1, x2 = int(round(max(0., cx - rect_w / 2))), int(round(min(float(width), cx + rect_w / 2)))
        y1, y2 = int(round(max(0., cy - rect_h / 2))), int(round(min(float(height), cy + rect_h / 2)))
        if isinstance(self.color, str):          # 'random'
            color = np.random.randint(0, 256, size=channels)
        else:
            color = self._fixed_color(channels)
        return (x1, y1, x2, y2), color

    def _fixed_color(self, channels: int) -> np.ndarray:
        color = np.asarray(self.color, dtype=np.float64).reshape(-1)
        if color.size == 1 or color.size == channels:
            return np.broadcast_to(color, (channels, )).copy()
        if channels == 1:
            return color.mean(keepdims=True)
        if color.size == 3 and channels == 4:
            return np.append(color, 255.)
        raise ValueError(f'RandomRectangleOcclusion: color has {color.size} values but the image has {channels} '
                         f'channels')

    def transform(self, results: dict) -> dict:
        img = results['img']
        height, width = img.shape[:2]
        channels = img.shape[2] if img.ndim == 3 else 1
        sample = self._sample(height, width, channels)
        if sample is None:
            results['occlusion_bbox'] = None
            return results
        (x1, y1, x2, y2), color = sample
        img = img.copy()
        if img.ndim == 3:
            img[y1:y2, x1:x2] = color.astype(img.dtype)
        else:
            img[y1:y2, x1:x2] = color[0]
        results['img'] = img
        results['occlusion_bbox'] = (x1, y1, x2, y2)
        if 'keypoints_occluded' in results and results.get('transformed_keypoints') is not None:
            kpts = np.asarray(results['transformed_keypoints'])[..., :2]
            inside = (kpts[..., 0] >= x1) & (kpts[..., 0] < x2) & (kpts[..., 1] >= y1) & (kpts[..., 1] < y2)
            occluded = np.array(results['keypoints_occluded'], dtype=np.float32, copy=True)
            occluded[inside.reshape(occluded.shape)] = 1.
            results['keypoints_occluded'] = occluded
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(prob={self.prob}, area_ratio={self.area_ratio}, '
                f'aspect_range={self.aspect_range}, color={self.color!r})')
