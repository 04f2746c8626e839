# Copyright (c) mmfacealign contributors. All rights reserved.
"""Normalised mean error (NME) of face landmarks, averaged per image.

Notation: ``N`` images, ``K`` landmarks, prediction ``p``, ground truth ``g``, labelled-point mask ``m`` (True
where the landmark is annotated), per-image normaliser ``d`` (see ``normalizers.py``).

* normalised landmark error ``e[n, k] = ||p[n, k] - g[n, k]|| / d[n]``
* per-image NME ``NME[n] = sum_k m[n, k] e[n, k] / sum_k m[n, k]``
* dataset NME ``= mean_n NME[n]`` (the face-alignment papers' definition). MMPose's ``keypoint_nme`` instead pools
  all labelled points of all images; the two agree when every image has the same number of labelled points.
* per-landmark NME ``NME_k = sum_n m[n, k] e[n, k] / sum_n m[n, k]``
* NME over a point category ``c`` (e.g. occluded): ``sum_{n,k} c m e / sum_{n,k} c m`` (pooled over points).

:func:`per_face_nme` (numpy, for evaluation and tools) and :func:`per_face_nme_torch` (differentiable, for losses
and rewards) compute the per-image NME, side by side; nothing else in the package re-derives it.
"""
from typing import Optional

import numpy as np
import torch


def normalized_landmark_errors(pred: np.ndarray, gt: np.ndarray, normalizers: np.ndarray) -> np.ndarray:
    """``e[n, k] = ||pred[n, k] - gt[n, k]|| / normalizers[n]``.

    Args:
        pred (np.ndarray): ``(N, K, 2)`` predictions (same pixel space as ``gt``).
        gt (np.ndarray): ``(N, K, 2)`` ground truth.
        normalizers (np.ndarray): ``(N,)`` positive normalisers.

    Returns:
        np.ndarray: ``(N, K)`` float64 normalised errors.

    Raises:
        ValueError: a normaliser is zero, negative or not finite (e.g. coinciding eye corners for the
            inter-ocular distance), naming the images, instead of returning Inf / NaN errors.
    """
    pred = np.asarray(pred, dtype=np.float64)
    gt = np.asarray(gt, dtype=np.float64)
    if pred.shape != gt.shape or pred.ndim != 3:
        raise ValueError(f'pred and gt must both be (N, K, 2), got {pred.shape} and {gt.shape}')
    normalizers = np.asarray(normalizers, dtype=np.float64).reshape(-1)
    if normalizers.shape[0] != pred.shape[0]:
        raise ValueError(f'{normalizers.shape[0]} normalisers for {pred.shape[0]} images')
    bad = np.flatnonzero(~(np.isfinite(normalizers) & (normalizers > 0)))
    if bad.size:
        raise ValueError(f'the NME normaliser is zero, negative or not finite for {bad.size} image(s), indices '
                         f'{bad[:20].tolist()}{" ..." if bad.size > 20 else ""} (values '
                         f'{normalizers[bad[:5]].tolist()}): e.g. coinciding eye corners; fix those annotations or '
                         'choose another norm_mode')
    return np.linalg.norm(pred - gt, axis=-1) / normalizers[:, None]


def per_image_nme(errors: np.ndarray, mask: Optional[np.ndarray] = None) -> np.ndarray:
    """Mean normalised error of each image over its labelled points.

    Args:
        errors (np.ndarray): ``(N, K)`` normalised landmark errors.
        mask (np.ndarray, optional): ``(N, K)`` bool, True for labelled points (default: all).

    Returns:
        np.ndarray: ``(N,)`` ``NME[n] = sum_k m e / sum_k m``.

    Raises:
        ValueError: an image has no labelled point (its NME would be undefined).
    """
    errors = np.asarray(errors, dtype=np.float64)
    mask = np.ones(errors.shape, dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    counts = mask.sum(axis=1)
    if (counts == 0).any():
        raise ValueError(f'images {np.flatnonzero(counts == 0).tolist()} have no labelled landmark')
    return np.where(mask, errors, 0.0).sum(axis=1) / counts


def per_landmark_nme(errors: np.ndarray, mask: Optional[np.ndarray] = None) -> np.ndarray:
    """Mean normalised error of each landmark over the images where it is labelled.

    Args:
        errors (np.ndarray): ``(N, K)`` normalised landmark errors.
        mask (np.ndarray, optional): ``(N, K)`` bool labelled-point mask (default: all).

    Returns:
        np.ndarray: ``(K,)``; a landmark labelled in no image gets NaN (the metric reports it as missing).
    """
    errors = np.asarray(errors, dtype=np.float64)
    mask = np.ones(errors.shape, dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    counts = mask.sum(axis=0)
    sums = np.where(mask, errors, 0.0).sum(axis=0)
    out = np.full(errors.shape[1], np.nan)
    np.divide(sums, counts, out=out, where=counts > 0)
    return out


def pooled_nme(errors: np.ndarray, select: np.ndarray) -> Optional[float]:
    """Mean normalised error over the selected (image, landmark) pairs, e.g. all occluded points.

    Args:
        errors (np.ndarray): ``(N, K)`` normalised landmark errors.
        select (np.ndarray): ``(N, K)`` bool, the points to average (already combined with the labelled mask).

    Returns:
        float | None: ``sum(select * e) / sum(select)``, or None when nothing is selected.
    """
    select = np.asarray(select, dtype=bool)
    if not select.any():
        return None
    return float(np.asarray(errors, dtype=np.float64)[select].mean())


def per_face_nme(pred: np.ndarray, gt: np.ndarray, normalizers: np.ndarray,
                 mask: Optional[np.ndarray] = None) -> np.ndarray:
    """``NME[n]`` (N,) of predictions ``(N, K, 2)`` against ``gt`` with normalisers ``(N,)`` over the labelled
    points ``mask`` ``(N, K)`` (default all): :func:`per_image_nme` of :func:`normalized_landmark_errors`."""
    return per_image_nme(normalized_landmark_errors(pred, gt, normalizers), mask)


def per_face_nme_torch(pred: torch.Tensor, gt: torch.Tensor, normalizers: torch.Tensor,
                       weights: Optional[torch.Tensor] = None) -> torch.Tensor:
    """The torch twin of :func:`per_face_nme`, differentiable in ``pred``.

    Args:
        pred (Tensor): ``(..., K, 2)``, e.g. (B, K, 2) or (B, T, K, 2) for T cascade stages.
        gt (Tensor): broadcastable to ``pred``, in the same units.
        normalizers (Tensor): broadcastable to ``pred.shape[:-2]`` (e.g. (B,) for (B, K, 2), (B, 1) for
            (B, T, K, 2)); callers bound it away from 0.
        weights (Tensor, optional): broadcastable to ``pred.shape[:-1]``: each landmark's weight (e.g. 1 for
            labelled points); the mean is over the weights (at least 1). Default: the plain mean over K.

    Returns:
        Tensor: ``pred.shape[:-2]``.
    """
    dist = (pred - gt).norm(dim=-1)                                                   # (..., K)
    if weights is None:
        per_face = dist.mean(-1)
    else:
        w = weights.to(dist.dtype).expand_as(dist)
        per_face = (dist * w).sum(-1) / w.sum(-1).clamp_min(1)
    return per_face / normalizers
