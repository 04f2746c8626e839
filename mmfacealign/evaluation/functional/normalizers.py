# Copyright (c) mmfacealign contributors. All rights reserved.
"""NME normalisers: the per-image distance that a face-alignment error is divided by.

Kinds (``norm_mode``), for one image with ground-truth landmarks ``g`` (K, 2) and face box ``(x1, y1, x2, y2)``
(``w = x2 - x1``, ``h = y2 - y1``):

=================  =====================================================================================
``inter_ocular``   ``||g[i] - g[j]||``, the outer eye corners ``(i, j)`` (e.g. 300W 36, 45; WFLW 60, 72)
``inter_pupil``    ``||mean(g[A]) - mean(g[B])||``, the eye centres as the mean of each eye's points ``A``,
                   ``B`` (300W 36-41 / 42-47); a dataset that annotates the pupils uses them (WFLW 96 / 97,
                   COFW 16 / 17), as the official evaluation code does
``bbox_size``      ``sqrt(w * h)`` of the ground-truth box
``bbox_width``     ``w``
``bbox_diagonal``  ``sqrt(w^2 + h^2)``
``box_size``       the annotation's own ``box_size`` field (AFLW; the sample must carry it)
=================  =====================================================================================

``DATASET_NORMALIZERS`` holds the defaults per MMPose ``dataset_name`` and keypoint count (``'auto'`` picks
``default``). Boxes are those of the dataset: MMPose's 300W/WFLW/AFLW/300VW datasets build a square box of side
``scale * 200`` around ``center``; COFW uses the annotation's ``bbox``.
"""
from typing import Dict, Optional, Sequence, Tuple

import numpy as np

from ...models.utils.landmark_groups import EYE_CENTRES, OUTER_EYE_CORNERS

NORM_MODES = ('inter_ocular', 'inter_pupil', 'bbox_size', 'bbox_width', 'bbox_diagonal', 'box_size')
KEYPOINT_NORM_MODES = ('inter_ocular', 'inter_pupil')
BBOX_NORM_MODES = ('bbox_size', 'bbox_width', 'bbox_diagonal')

def _spec(num_keypoints: int) -> dict:
    """A layout's keypoint normalisers, from the one table (``models/utils/landmark_groups.py``)."""
    spec = dict(default='inter_ocular', inter_ocular=OUTER_EYE_CORNERS[num_keypoints])
    if num_keypoints in EYE_CENTRES:
        spec['inter_pupil'] = EYE_CENTRES[num_keypoints]
    return spec


_IBUG68 = _spec(68)

#: ``{dataset_name: {num_keypoints: spec}}``; ``spec['default']`` is the normaliser ``'auto'`` picks,
#: ``spec['inter_ocular']`` a pair of indices, ``spec['inter_pupil']`` a pair of index groups.
DATASET_NORMALIZERS: Dict[str, Dict[int, dict]] = {
    '300w': {68: _IBUG68},
    '300vw': {68: _IBUG68},
    '300wlp': {68: _IBUG68},
    'coco_wholebody_face': {68: _IBUG68},
    'synthface': {68: _IBUG68},
    'wflw': {98: _spec(98)},
    'cofw': {
        29: _spec(29),
        # COFW-68 (Ghiasi & Fowlkes' re-annotation of the COFW test set in the iBUG layout)
        68: _IBUG68,
    },
    'aflw': {19: dict(default='box_size')},
    'lapa': {106: _spec(106)},
}


def get_norm_spec(dataset_name: Optional[str], num_keypoints: int) -> dict:
    """The normaliser defaults of a dataset.

    Args:
        dataset_name (str | None): MMPose ``dataset_name`` (``dataset_meta['dataset_name']``).
        num_keypoints (int): K of the predictions, which selects e.g. COFW-29 or COFW-68.

    Returns:
        dict: ``default`` and, where defined, ``inter_ocular`` / ``inter_pupil`` indices.

    Raises:
        ValueError: the dataset (or its keypoint count) has no defaults.
    """
    known = ', '.join(f'{name} ({"/".join(map(str, specs))} points)' for name, specs in DATASET_NORMALIZERS.items())
    if dataset_name not in DATASET_NORMALIZERS:
        raise ValueError(
            f'no default NME normaliser for dataset {dataset_name!r}; known: {known}. Give the metric an explicit '
            "norm_mode ('bbox_size', 'bbox_width', 'bbox_diagonal', 'box_size', or 'inter_ocular'/'inter_pupil' "
            'with norm_indices)')
    specs = DATASET_NORMALIZERS[dataset_name]
    if num_keypoints not in specs:
        raise ValueError(f'no default NME normaliser for {dataset_name!r} with {num_keypoints} keypoints (defaults '
                       f'exist for {sorted(specs)} keypoints); give the metric norm_mode and norm_indices')
    return specs[num_keypoints]


def resolve_norm(norm_mode: str,
                 dataset_name: Optional[str],
                 num_keypoints: int,
                 norm_indices: Optional[Sequence] = None) -> Tuple[str, Optional[tuple]]:
    """Turn ``(norm_mode, norm_indices)`` into a concrete normaliser.

    Args:
        norm_mode (str): ``'auto'`` or one of ``NORM_MODES``.
        dataset_name (str | None): used for the defaults.
        num_keypoints (int): K, to check the indices.
        norm_indices (sequence, optional): ``(i, j)`` for ``inter_ocular``; ``(group_a, group_b)`` (two index
            lists, or two ints) for ``inter_pupil``. ``None`` takes the dataset default.

    Returns:
        tuple: ``(mode, indices)``; ``indices`` is ``(i, j)`` for ``inter_ocular``, ``((..), (..))`` for
        ``inter_pupil`` and ``None`` for box-based modes.
    """
    if norm_mode == 'auto':
        if norm_indices is not None:
            raise ValueError("norm_indices needs an explicit norm_mode ('inter_ocular' or 'inter_pupil'), "
                             "not 'auto'")
        norm_mode = get_norm_spec(dataset_name, num_keypoints)['default']
    if norm_mode not in NORM_MODES:
        raise ValueError(f"unknown norm_mode {norm_mode!r}; expected 'auto' or one of {NORM_MODES}")
    if norm_mode not in KEYPOINT_NORM_MODES:
        if norm_indices is not None:
            raise ValueError(f'norm_indices is only used by {KEYPOINT_NORM_MODES}, not {norm_mode!r}')
        return norm_mode, None
    if norm_indices is None:
        spec = get_norm_spec(dataset_name, num_keypoints)
        if norm_mode not in spec:
            raise ValueError(f'dataset {dataset_name!r} ({num_keypoints} points) has no default {norm_mode} '
                           'landmarks; give norm_indices')
        norm_indices = spec[norm_mode]
    if len(norm_indices) != 2:
        raise ValueError(f'norm_indices for {norm_mode} must be a pair, got {norm_indices!r}')
    if norm_mode == 'inter_ocular':
        indices = tuple(int(i) for i in norm_indices)
        groups = [(i, ) for i in indices]
    else:
        groups = [tuple(int(i) for i in np.atleast_1d(g)) for g in norm_indices]
        indices = tuple(groups)
    for group in groups:
        if len(group) == 0:
            raise ValueError(f'norm_indices for {norm_mode} has an empty group: {norm_indices!r}')
        bad = [i for i in group if not 0 <= i < num_keypoints]
        if bad:
            raise ValueError(f'norm_indices {norm_indices!r} for {norm_mode} refer to landmarks {bad}, outside '
                             f'0..{num_keypoints - 1} of dataset {dataset_name!r}')
    return norm_mode, indices


def inter_ocular_distance(gt: np.ndarray, i: int, j: int) -> np.ndarray:
    """``||gt[:, i] - gt[:, j]||``.

    Args:
        gt (np.ndarray): ``(N, K, 2)`` ground-truth landmarks.
        i, j (int): landmark indices (outer eye corners).

    Returns:
        np.ndarray: ``(N,)`` distances.
    """
    return np.linalg.norm(gt[:, i] - gt[:, j], axis=-1)


def inter_pupil_distance(gt: np.ndarray, group_a: Sequence[int], group_b: Sequence[int]) -> np.ndarray:
    """``||mean(gt[:, A]) - mean(gt[:, B])||``, the distance between two eye centres.

    Args:
        gt (np.ndarray): ``(N, K, 2)`` ground-truth landmarks.
        group_a, group_b (sequence of int): the points of each eye (a single pupil point is a group of one).

    Returns:
        np.ndarray: ``(N,)`` distances.
    """
    return np.linalg.norm(gt[:, list(group_a)].mean(axis=1) - gt[:, list(group_b)].mean(axis=1), axis=-1)


def bbox_normalizer(bboxes: np.ndarray, mode: str) -> np.ndarray:
    """Box-based normalisers.

    Args:
        bboxes (np.ndarray): ``(N, 4)`` boxes ``(x1, y1, x2, y2)``.
        mode (str): ``'bbox_size'`` = ``sqrt(w*h)``, ``'bbox_width'`` = ``w``, ``'bbox_diagonal'`` =
            ``sqrt(w^2 + h^2)``.

    Returns:
        np.ndarray: ``(N,)``.
    """
    bboxes = np.asarray(bboxes, dtype=np.float64).reshape(-1, 4)
    w = bboxes[:, 2] - bboxes[:, 0]
    h = bboxes[:, 3] - bboxes[:, 1]
    if mode == 'bbox_size':
        return np.sqrt(np.clip(w * h, 0, None))
    if mode == 'bbox_width':
        return w
    if mode == 'bbox_diagonal':
        return np.sqrt(w**2 + h**2)
    raise ValueError(f'unknown box normaliser {mode!r}; expected one of {BBOX_NORM_MODES}')


def compute_normalizers(mode: str,
                        gt: np.ndarray,
                        indices: Optional[tuple] = None,
                        bboxes: Optional[np.ndarray] = None,
                        box_size: Optional[np.ndarray] = None) -> np.ndarray:
    """Per-image normalisers for a resolved mode (see :func:`resolve_norm`).

    Args:
        mode (str): one of ``NORM_MODES``.
        gt (np.ndarray): ``(N, K, 2)`` ground-truth landmarks.
        indices (tuple, optional): from :func:`resolve_norm` for the keypoint modes.
        bboxes (np.ndarray, optional): ``(N, 4)`` xyxy boxes for the box modes.
        box_size (np.ndarray, optional): ``(N,)`` annotated box sizes for ``'box_size'``.

    Returns:
        np.ndarray: ``(N,)`` float64 normalisers (not checked for zero here; the metric does that, naming the
        samples).
    """
    gt = np.asarray(gt, dtype=np.float64)
    if mode == 'inter_ocular':
        return inter_ocular_distance(gt, *indices)
    if mode == 'inter_pupil':
        return inter_pupil_distance(gt, *indices)
    if mode in BBOX_NORM_MODES:
        if bboxes is None:
            raise ValueError(f'norm_mode {mode!r} needs the ground-truth boxes (gt_instances.bboxes)')
        return bbox_normalizer(bboxes, mode)
    if mode == 'box_size':
        if box_size is None:
            raise ValueError("norm_mode 'box_size' needs the annotation's box_size")
        return np.asarray(box_size, dtype=np.float64).reshape(-1)
    raise ValueError(f'unknown norm_mode {mode!r}; expected one of {NORM_MODES}')

