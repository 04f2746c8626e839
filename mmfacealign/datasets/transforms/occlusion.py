# Copyright (c) mmfacealign contributors. All rights reserved.
"""Occlusion augmentations on the crop: SCDF's random rectangle and SRN's noise patch on a landmark.

SCDF (Lin et al., TIP 2021), training details; the official code's ``RandomOcclude`` (its ``datasets``): with
probability 0.5, paint one rectangle of area 0.2 x the crop area, aspect ratio ``U(0.4, 2.5)``, centre uniform
over the crop, filled with a uniformly random RGB colour. It runs on the 256 x 256 crop, i.e. after
``TopdownAffine`` in an MMPose pipeline.
"""
from typing import Optional, Sequence, Tuple, Union

import numpy as np
from mmcv.transforms import BaseTransform
from mmcv.transforms.utils import cache_randomness
from mmpose.registry import TRANSFORMS


def flag_landmarks_in_box(results: dict, box: Tuple[int, int, int, int]) -> None:
    """Mark the crop landmarks (``transformed_keypoints``) inside ``box`` ``(x1, y1, x2, y2)`` (half-open) as
    occluded in ``keypoints_occluded`` (created, all 0, when the dataset gave none)."""
    if results.get('transformed_keypoints') is None:
        return
    x1, y1, x2, y2 = box
    kpts = np.asarray(results['transformed_keypoints'])[..., :2]
    inside = (kpts[..., 0] >= x1) & (kpts[..., 0] < x2) & (kpts[..., 1] >= y1) & (kpts[..., 1] < y2)
    if results.get('keypoints_occluded') is None:
        results['keypoints_occluded'] = np.zeros(inside.shape, np.float32)
    occluded = np.array(results['keypoints_occluded'], dtype=np.float32, copy=True)
    occluded[inside.reshape(occluded.shape)] = 1.
    results['keypoints_occluded'] = occluded


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
        prob (float): Probability of applying. Default 0.5 (official).
        area_ratio (float): Rectangle area / image area. Default 0.2 (official).
        aspect_range (tuple): Range of the width / height ratio. Default (0.4, 2.5) (official).
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
        flag_landmarks_in_box(results, (x1, y1, x2, y2))
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(prob={self.prob}, area_ratio={self.area_ratio}, '
                f'aspect_range={self.aspect_range}, color={self.color!r})')


@TRANSFORMS.register_module()
class RandomNoisePatchOcclusion(BaseTransform):
    """SRN's occlusion synthesis: a square patch of uniform noise centred on a random landmark.

    SRN (Zhu et al., Pattern Recognition 2022), Sec. 4.1 and the official training code (``train.py``):
    every training face (``prob=1``) gets a ``48 x 48`` patch of noise ``U[0, 1)`` (here ``U[0, 256)`` in pixel
    values) on the 224 x 224 crop, centred on a random landmark; a centre closer than 50 px to a border is moved
    50 px inwards (the official code's rule: ``+50`` below 50, ``-50`` above 174). Sizes scale with the crop, so
    at 128 x 128 the patch is 27 px and the border rule 29 px. It runs on the crop, after ``TopdownAffine``.

    Official quirk, kept as the default: the landmark index is drawn from ``[0, K - 2]`` (``randint(0, 67)`` for 68
    points), so the last landmark is never chosen; ``include_last=True`` draws from all K.

    Labels: coordinates and ``keypoints_visible`` are unchanged (the covered landmarks are still supervised); with
    ``keypoints_occluded`` and ``transformed_keypoints`` present, the landmarks inside the patch are marked
    occluded. Added keys: ``occlusion_bbox`` ``(x1, y1, x2, y2)`` (clipped to the image; ``None`` when not applied)
    and ``occlusion_landmark`` (the chosen index).

    Args:
        prob (float): Probability of applying. Default 1 (official).
        patch_size (int): Patch side at ``ref_size``. Default 48.
        border (int): Border rule distance at ``ref_size``. Default 50.
        ref_size (int): The crop width the sizes refer to. Default 224.
        include_last (bool): Let the last landmark be chosen. Default False (official).
    """

    def __init__(self, prob: float = 1., patch_size: int = 48, border: int = 50, ref_size: int = 224,
                 include_last: bool = False):
        if not 0. <= prob <= 1.:
            raise ValueError(f'RandomNoisePatchOcclusion: prob must be in [0, 1], got {prob}')
        if patch_size <= 0 or ref_size <= 0 or border < 0:
            raise ValueError(f'RandomNoisePatchOcclusion: patch_size and ref_size must be positive and border >= 0, '
                             f'got {patch_size}, {ref_size}, {border}')
        self.prob, self.patch_size, self.border, self.ref_size = prob, patch_size, border, ref_size
        self.include_last = include_last

    @cache_randomness
    def _sample(self, num_landmarks: int, size: int, channels: int):
        if np.random.rand() >= self.prob:
            return None
        high = num_landmarks if self.include_last else max(num_landmarks - 1, 1)
        return int(np.random.randint(0, high)), np.random.randint(0, 256, size=(size, size, channels))

    def transform(self, results: dict) -> dict:
        img = results['img']
        kpts = results.get('transformed_keypoints')
        if kpts is None:
            raise KeyError('RandomNoisePatchOcclusion needs transformed_keypoints: put it after TopdownAffine in the '
                           'pipeline (it works on the crop)')
        kpts = np.asarray(kpts)[..., :2].reshape(-1, 2)
        height, width = img.shape[:2]
        channels = img.shape[2] if img.ndim == 3 else 1
        scale = width / self.ref_size
        size = max(1, int(round(self.patch_size * scale)))
        sample = self._sample(len(kpts), size, channels)
        if sample is None:
            results['occlusion_bbox'], results['occlusion_landmark'] = None, None
            return results
        index, noise = sample
        border = self.border * scale
        centre = kpts[index].astype(np.float64).copy()
        for axis, extent in ((0, width), (1, height)):
            if centre[axis] < border:
                centre[axis] += border
            elif centre[axis] > extent - border:
                centre[axis] -= border
        x1, y1 = int(round(centre[0] - size / 2)), int(round(centre[1] - size / 2))
        cx1, cy1 = max(x1, 0), max(y1, 0)
        cx2, cy2 = min(x1 + size, width), min(y1 + size, height)
        results['occlusion_landmark'] = index
        if cx2 <= cx1 or cy2 <= cy1:
            results['occlusion_bbox'] = None
            return results
        img = img.copy()
        patch = noise[cy1 - y1:cy2 - y1, cx1 - x1:cx2 - x1].astype(img.dtype)
        img[cy1:cy2, cx1:cx2] = patch if img.ndim == 3 else patch[..., 0]
        results['img'] = img
        results['occlusion_bbox'] = (cx1, cy1, cx2, cy2)
        flag_landmarks_in_box(results, (cx1, cy1, cx2, cy2))
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(prob={self.prob}, patch_size={self.patch_size}, border={self.border}, '
                f'ref_size={self.ref_size}, include_last={self.include_last})')
