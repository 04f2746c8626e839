# Copyright (c) mmfacealign contributors. All rights reserved.
"""Pose-based data balancing (PDB), as used in SCDF's training.

SCDF (Lin et al., TIP 2021) trains with the pose-based data balancing of Wing loss (Feng et al., CVPR 2018); the
official code (its ``datasets``) does it so: PCA with one component on the flattened training landmarks, a histogram of
the absolute projections with 9 bins, and every sample of a bin repeated ``round(max_bin_count / bin_count)`` times, so
rare (large-pose) faces appear about as often as frontal ones.

The official code runs the PCA on the landmarks of its pre-cropped faces, i.e. in the frame of each face's crop.
MMPose datasets hold landmarks in original-image pixels, so the default here (``normalise='box'``) maps each face
into the frame of its box first (centre at 0, box size 1, nothing else removed), the same frame the authors'
pre-cropping gives. Removing in-plane rotation as well (``'procrustes'``) is our option, not the official code.

A dataset wrapper built on mmengine's :class:`~mmengine.dataset.ClassBalancedDataset`, whose repeat machinery
(index expansion, ``get_data_info``, lazy init) it reuses; only the repeat factors differ. The repeats are fixed
once from the annotations, so ``DefaultSampler``, ``InfiniteSampler`` and distributed training work unchanged.
Configure it as ``train_dataloader.dataset`` (it is a dataset, not a sampler).
"""
from typing import List, Optional, Union

import numpy as np
from mmengine.dataset import BaseDataset, ClassBalancedDataset
from mmpose.registry import DATASETS

from .samplers import SeededIndex

#: Per-face normalisations before the PCA, see :func:`normalise_shapes`.
NORMALISE_MODES = ('box', 'procrustes', 'centroid', 'none')


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


def normalise_shapes(shapes: np.ndarray, mode: str = 'box', boxes: Optional[np.ndarray] = None,
                     iterations: int = 3) -> np.ndarray:
    """Put every face in a common frame before the PCA. (M, K, 2) -> (M, K, 2).

    * ``'box'`` (default, official): the frame of the face's box, as the authors' pre-cropped faces have:
      ``(p - box centre) / max(box w, box h)``; pose, including in-plane rotation, stays in the shapes.
      Needs ``boxes`` (M, 4) as (x1, y1, x2, y2).
    * ``'procrustes'`` (ours): similarity alignment (translation, scale, rotation) to the mean shape, refined
      ``iterations`` times (generalised Procrustes). The first component then captures out-of-plane pose (yaw)
      rather than the in-plane rotation that the rotation augmentation covers anyway.
    * ``'centroid'``: translation and scale only (centroid, RMS distance to it); in-plane rotation stays.
    * ``'none'``: raw coordinates (original-image pixels in MMPose datasets: face position and size dominate).
    """
    shapes = np.asarray(shapes, dtype=np.float64)
    if mode not in NORMALISE_MODES:
        raise ValueError(f'normalise_shapes: mode must be one of {NORMALISE_MODES}, got {mode!r}')
    if mode == 'none':
        return shapes
    if mode == 'box':
        if boxes is None:
            raise ValueError("normalise_shapes: mode 'box' needs boxes (M, 4) as x1, y1, x2, y2")
        boxes = np.asarray(boxes, dtype=np.float64).reshape(len(shapes), 4)
        centre = (boxes[:, :2] + boxes[:, 2:]) / 2
        size = np.maximum(boxes[:, 2:] - boxes[:, :2], 1e-12).max(axis=1)
        return (shapes - centre[:, None]) / size[:, None, None]
    out = np.stack([_centre_and_scale(s) for s in shapes])
    if mode == 'procrustes':
        ref = out[0]
        for _ in range(iterations):
            out = np.stack([_rotate_onto(s, ref) for s in out])
            ref = _centre_and_scale(out.mean(axis=0))
    return out


@DATASETS.register_module()
class PoseBalancedDataset(ClassBalancedDataset):
    """mmengine's ``ClassBalancedDataset`` with pose-based repeat factors (see the module docstring).

    Args:
        dataset (BaseDataset | dict): The dataset (or its config) to balance; its ``get_data_info(i)`` must hold
            ``keypoints`` ``(1, K, 2)`` and, for ``normalise='box'``, ``bbox`` ``(1, 4)`` (MMPose face datasets do).
        num_bins (int): Histogram bins. Default 9 (official).
        normalise (str): Per-face frame before the PCA, see :func:`normalise_shapes`: ``'box'`` (default,
            official), ``'procrustes'`` (ours), ``'centroid'`` or ``'none'``.
        lazy_init (bool): Defer loading the annotations. Default False.

    Attributes (after ``full_init``): ``repeat_factors`` (M,) int, ``repeat_indices`` (the expanded index list).
    """

    def __init__(self, dataset: Union[BaseDataset, dict], num_bins: int = 9, normalise: str = 'box',
                 lazy_init: bool = False):
        if not isinstance(dataset, (BaseDataset, dict)):
            raise TypeError(f'PoseBalancedDataset: dataset must be a BaseDataset or a config dict, '
                            f'got {type(dataset)}')
        if normalise not in NORMALISE_MODES:
            raise ValueError(f'PoseBalancedDataset: normalise mode must be one of {NORMALISE_MODES}, '
                             f'got {normalise!r}')
        self.num_bins = num_bins
        self.normalise = normalise
        if isinstance(dataset, dict):   # MMPose's registry (mmengine's wrapper would look in its own)
            dataset = DATASETS.build(dataset)
        # oversample_thr is ClassBalancedDataset's category threshold, unused by the pose-based factors
        super().__init__(dataset, oversample_thr=0., lazy_init=lazy_init)

    def _get_repeat_factors(self, dataset: BaseDataset, repeat_thr: float) -> List[float]:
        """Pose-based repeat factor of every sample (replaces the category-frequency rule)."""
        infos = [dataset.get_data_info(i) for i in range(len(dataset))]
        shapes = np.stack([np.asarray(info['keypoints'], dtype=np.float64).reshape(-1, 2) for info in infos])
        boxes = None
        if self.normalise == 'box':
            boxes = np.stack([np.asarray(info['bbox'], dtype=np.float64).reshape(4) for info in infos])
        # integers (>= 1), so the parent's ceil() keeps them as they are
        self.repeat_factors = pose_balanced_repeats(normalise_shapes(shapes, self.normalise, boxes), self.num_bins)
        return self.repeat_factors.tolist()

    def __getitem__(self, idx):
        """The sample at ``idx`` of the expanded index list; an augmentation seed carried by ``idx``
        (:class:`~mmfacealign.datasets.samplers.SeededIndex`) is passed on to the wrapped dataset's index, so each
        repeat of a face gets its own seeded augmentation."""
        aug_seed = getattr(idx, 'aug_seed', None)
        if aug_seed is None:
            return super().__getitem__(idx)
        if not self._fully_initialized:
            self.full_init()
        return self.dataset[SeededIndex(self._get_ori_dataset_idx(int(idx)), aug_seed)]

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(dataset={type(self.dataset).__name__}, num_bins={self.num_bins}, '
                f'normalise={self.normalise!r})')
