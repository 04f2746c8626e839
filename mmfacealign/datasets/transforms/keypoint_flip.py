# Copyright (c) mmfacealign contributors. All rights reserved.
"""Per-landmark flags that follow the landmarks when a flip reorders them.

mmfacealign's face datasets carry per-landmark arrays beside ``keypoints`` (``keypoints_occluded`` (1, K): the
occlusion flag of each landmark, recorded by SynthFace and COFW and written by occlusion transforms). MMPose's
``RandomFlip`` mirrors the image and swaps each symmetric landmark pair by ``flip_indices`` in ``keypoints`` and
``keypoints_visible`` only, so after a flip such a flag would belong to the mirrored landmark. The
:class:`RandomFlip` here is MMPose's, unchanged, plus the same permutation on every key of
:data:`KEYPOINT_ALIGNED_KEYS` present in the results. It is registered in MMPose's ``TRANSFORMS`` under MMPose's
own name ``'RandomFlip'`` (importing mmfacealign replaces the entry with this subclass), so every config,
MMPose's included, keeps its flags right without editing; without such keys it behaves exactly as MMPose's.

A transform of ours that reorders or selects landmarks calls :func:`reorder_keypoint_aligned` the same way.
"""
from typing import Sequence

import numpy as np
from mmpose.datasets.transforms import RandomFlip as MMPoseRandomFlip
from mmpose.registry import TRANSFORMS

#: Results keys holding one value per landmark along axis 1 (``(N, K)`` or ``(N, K, ...)``) that must follow
#: the landmarks whenever a transform reorders them.
KEYPOINT_ALIGNED_KEYS = ('keypoints_occluded', )


def reorder_keypoint_aligned(results: dict, indices: Sequence[int], keys: Sequence[str] = KEYPOINT_ALIGNED_KEYS,
                             transform: str = 'transform') -> dict:
    """Permute (or select) axis 1 of every per-landmark array in ``keys`` by ``indices``, as the keypoints were.

    Args:
        results (dict): Transform results; keys absent or ``None`` are skipped.
        indices (sequence of int): New landmark ``k`` takes old landmark ``indices[k]``.
        keys: The per-landmark keys. Default :data:`KEYPOINT_ALIGNED_KEYS`.
        transform (str): Name for the error message.

    Returns:
        dict: ``results``, modified in place.
    """
    for key in keys:
        value = results.get(key)
        if value is None:
            continue
        value = np.asarray(value)
        if value.ndim < 2 or value.shape[1] != len(indices):
            raise ValueError(f'{transform}: results[{key!r}] has shape {value.shape}, expected (N, {len(indices)}, '
                             f'...) to follow the {len(indices)} landmarks')
        results[key] = value.take(np.asarray(indices, dtype=np.int64), axis=1)
    return results


@TRANSFORMS.register_module(name='RandomFlip', force=True)
class RandomFlip(MMPoseRandomFlip):
    """MMPose's ``RandomFlip`` that also swaps the per-landmark flags (:data:`KEYPOINT_ALIGNED_KEYS`).

    Same arguments and behaviour as :class:`mmpose.datasets.transforms.RandomFlip`; after a horizontal or vertical
    flip (the directions in which MMPose swaps landmark pairs) the flags are permuted by ``flip_indices``.

    Modified keys (beyond MMPose's): ``keypoints_occluded``.
    """

    def transform(self, results: dict) -> dict:
        results = super().transform(results)
        if results.get('flip') and results.get('flip_direction') in ('horizontal', 'vertical'):
            reorder_keypoint_aligned(results, results['flip_indices'], transform=type(self).__name__)
        return results
