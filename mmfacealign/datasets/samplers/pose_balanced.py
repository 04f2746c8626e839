# Copyright (c) mmfacealign contributors. All rights reserved.
"""Pose-based data balancing (PDB), as used in SCDF's training.

SCDF (Lin et al., TIP 2021) trains with the pose-based data balancing of Wing loss (Feng et al., CVPR 2018);
``method_facts.md`` A.8: PCA with one component on the flattened training landmarks (each face normalised; by
default aligned to the mean shape by Procrustes analysis, see :func:`normalise_shapes`),
a histogram of the absolute projections with 9 bins, and every sample of a bin repeated
``round(max_bin_count / bin_count)`` times, so rare (large-pose) faces appear about as often as frontal ones.

Implemented as a dataset wrapper rather than a sampler: the repeats are fixed once from the annotations, so the
wrapped dataset is an ordinary finite dataset and ``DefaultSampler``, ``InfiniteSampler`` and distributed
training work unchanged (each epoch sees every repeat once, shuffled), exactly like mmengine's
``ClassBalancedDataset``.
"""
import copy
from typing import List, Union

import numpy as np
from mmengine.dataset import BaseDataset, force_full_init
from mmpose.registry import DATASETS


def pose_balanced_repeats(shapes: np.ndarray, num_bins: int = 9) -> np.ndarray:
    """Repeat count of every sample.

    Args:
        shapes (np.ndarray): (M, K, 2) normalised landmarks.
        num_bins (int): Histogram bins of ``|projection on the first principal component|``. Default 9.

    Returns:
        np.ndarray: (M,) int64, ``round(max(counts) / counts[bin of the sample])`` (>= 1).
    """
    shapes = np.asarray(shapes, dtype=np.float64)
    if shapes.ndim != 3 or shapes.shape[0] < 2:
        raise ValueError(f'pose_balanced_repeats: need (M >= 2, K, 2) shapes, got {shapes.shape}')
    if num_bins < 1:
        raise ValueError(f'pose_balanced_repeats: num_bins must be >= 1, got {num_bins}')
    flat = shapes.reshape(len(shapes), -1)
    centred = flat - flat.mean(axis=0, keepdims=True)
    # first principal axis = first right singular vector of the centred data
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    proj = np.abs(centred @ vt[0])
    edges = np.histogram_bin_edges(proj, bins=num_bins)
    # bins [e_b, e_b+1), the last one closed, as np.histogram; counts from the same assignment
    bins = np.clip(np.digitize(proj, edges[1:-1]), 0, num_bins - 1)
    counts = np.bincount(bins, minlength=num_bins)
    return np.maximum(1, np.round(counts.max() / counts[bins])).astype(np.int64)


def _centre_and_scale(kpts: np.ndarray) -> np.ndarray:
    centred = kpts - kpts.mean(axis=0, keepdims=True)
    return centred / max(np.sqrt((centred ** 2).sum(axis=1).mean()), 1e-12)


def _rotate_onto(shape: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """The rotation (no reflection) of a centred shape (K, 2) that best fits a centred reference."""
    u, _, vt = np.linalg.svd(shape.T @ ref)
    d = np.sign(np.linalg.det(u @ vt)) or 1.
    return shape @ (u @ np.diag([1., d]) @ vt)


def normalise_shapes(shapes: np.ndarray, mode: str = 'procrustes', iterations: int = 3) -> np.ndarray:
    """Remove each face's placement before the PCA. (M, K, 2) -> (M, K, 2).

    * ``'procrustes'``: similarity alignment (translation, scale, rotation) to the mean shape, refined
      ``iterations`` times (generalised Procrustes), as the Wing-loss PDB describes (to our reading: align to the
      mean shape, then PCA). The first component then captures out-of-plane pose (yaw) rather than the in-plane
      rotation that the rotation augmentation covers anyway.
    * ``'centroid'``: translation and scale only (centroid, RMS distance to it); in-plane rotation stays and,
      with rotated training faces, dominates the first component.
    * ``'none'``: raw coordinates.
    """
    shapes = np.asarray(shapes, dtype=np.float64)
    if mode == 'none':
        return shapes
    if mode not in ('procrustes', 'centroid'):
        raise ValueError(f"normalise_shapes: mode must be 'procrustes', 'centroid' or 'none', got {mode!r}")
    out = np.stack([_centre_and_scale(s) for s in shapes])
    if mode == 'procrustes':
        ref = out[0]
        for _ in range(iterations):
            out = np.stack([_rotate_onto(s, ref) for s in out])
            ref = _centre_and_scale(out.mean(axis=0))
    return out


@DATASETS.register_module()
class PoseBalancedDataset:
    """Dataset wrapper that repeats samples for pose-based data balancing (see the module docstring).

    Args:
        dataset (BaseDataset | dict): The dataset (or its config) to balance; its ``get_data_info(i)`` must hold
            ``keypoints`` ``(1, K, 2)`` (MMPose face datasets do).
        num_bins (int): Histogram bins. Default 9 (A.8).
        normalise (str): Per-face normalisation before PCA, see :func:`normalise_shapes`: ``'procrustes'``
            (default), ``'centroid'`` or ``'none'``.
        lazy_init (bool): Defer loading the annotations. Default False.

    Attributes (after ``full_init``): ``repeat_factors`` (M,), ``repeat_indices`` (the expanded index list).
    """

    def __init__(self, dataset: Union[BaseDataset, dict], num_bins: int = 9, normalise: str = 'procrustes',
                 lazy_init: bool = False):
        if isinstance(dataset, dict):
            self.dataset = DATASETS.build(dataset)
        elif isinstance(dataset, BaseDataset):
            self.dataset = dataset
        else:
            raise TypeError(f'PoseBalancedDataset: dataset must be a BaseDataset or a config dict, '
                            f'got {type(dataset)}')
        self.num_bins = num_bins
        self.normalise = normalise
        normalise_shapes(np.ones((1, 2, 2)), normalise)       # validate the mode early
        self._metainfo = self.dataset.metainfo
        self._fully_initialized = False
        if not lazy_init:
            self.full_init()

    @property
    def metainfo(self) -> dict:
        return copy.deepcopy(self._metainfo)

    def full_init(self) -> None:
        if self._fully_initialized:
            return
        self.dataset.full_init()
        shapes = np.stack([
            np.asarray(self.dataset.get_data_info(i)['keypoints'], dtype=np.float64).reshape(-1, 2)
            for i in range(len(self.dataset))
        ])
        self.repeat_factors = pose_balanced_repeats(normalise_shapes(shapes, self.normalise), self.num_bins)
        self.repeat_indices: List[int] = np.repeat(np.arange(len(self.dataset)), self.repeat_factors).tolist()
        self._fully_initialized = True

    @force_full_init
    def _get_ori_dataset_idx(self, idx: int) -> int:
        return self.repeat_indices[idx]

    @force_full_init
    def get_data_info(self, idx: int) -> dict:
        return self.dataset.get_data_info(self._get_ori_dataset_idx(idx))

    def __getitem__(self, idx: int) -> dict:
        if not self._fully_initialized:
            self.full_init()
        return self.dataset[self._get_ori_dataset_idx(idx)]

    @force_full_init
    def __len__(self) -> int:
        return len(self.repeat_indices)

    def __repr__(self) -> str:
        return f'{type(self).__name__}(dataset={type(self.dataset).__name__}, num_bins={self.num_bins})'
