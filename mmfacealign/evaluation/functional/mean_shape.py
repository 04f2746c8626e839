# Copyright (c) mmfacealign contributors. All rights reserved.
"""The mean-shape reference: the NME of predicting, in every test face's box, the training set's mean shape.

A model that does not beat it has learnt nothing about the face in the box (only where landmarks sit on average).
Shapes are placed by each annotation's ``center`` and ``scale`` (MMPose's top-down box: a square of side
``scale * 200`` around ``center``; SynthFace, 300W, WFLW), or by its COCO ``bbox`` (x, y, w, h: its centre and
``max(w, h)``) where those are absent; the error is normalised per face by
:func:`~mmfacealign.evaluation.functional.normalizers.compute_normalizers` (inter-ocular for 68 points).
"""
import json
from typing import Optional, Tuple

import numpy as np

from .face_nme import normalized_landmark_errors, per_image_nme
from .normalizers import compute_normalizers, resolve_norm


def _faces(ann_file: str) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(N, K, 2) keypoints, (N, 2) box centres and (N, ) box sides of the annotations of a COCO-style json."""
    with open(ann_file, encoding='utf-8') as f:
        anns = json.load(f).get('annotations', [])
    if not anns:
        raise ValueError(f'{ann_file}: no annotations')
    kpts, centres, sides = [], [], []
    for a in anns:
        kpts.append(np.asarray(a['keypoints'], np.float64).reshape(-1, 3)[:, :2])
        if 'center' in a and 'scale' in a:
            centres.append(a['center'])
            sides.append(float(np.max(a['scale'])) * 200)
        elif 'bbox' in a:
            x, y, w, h = a['bbox']
            centres.append([x + w / 2, y + h / 2])
            sides.append(max(w, h))
        else:
            raise KeyError(f"{ann_file}: annotation {a.get('id')} has neither center/scale nor bbox")
    return np.stack(kpts), np.asarray(centres, np.float64), np.asarray(sides, np.float64)


def mean_shape_nme(train_ann_file: str, test_ann_file: str, norm_mode: str = 'inter_ocular',
                   dataset_name: Optional[str] = 'synthface') -> float:
    """Mean NME (a fraction) on ``test_ann_file`` of the training set's mean box-normalised shape.

    Args:
        train_ann_file (str): COCO-style json whose faces give the mean shape, each as (keypoints - centre) / side.
        test_ann_file (str): COCO-style json of the faces to score.
        norm_mode (str): a landmark-based normaliser (``'auto'``, ``'inter_ocular'`` or ``'inter_pupil'``; see
            :func:`resolve_norm`). Defaults to inter-ocular.
        dataset_name (str, optional): selects the normaliser's landmark indices.

    Returns:
        float: the mean over test faces of the per-face NME.
    """
    k, c, s = _faces(train_ann_file)
    mean = ((k - c[:, None]) / s[:, None, None]).mean(0)                    # (K, 2)
    k, c, s = _faces(test_ann_file)
    if k.shape[1] != mean.shape[0]:
        raise ValueError(f'{test_ann_file}: {k.shape[1]} keypoints per face, {train_ann_file} has {mean.shape[0]}')
    pred = c[:, None] + mean[None] * s[:, None, None]                       # (N, K, 2)
    mode, indices = resolve_norm(norm_mode, dataset_name, k.shape[1])
    if mode not in ('inter_ocular', 'inter_pupil'):
        raise ValueError(f'mean_shape_nme: norm_mode {norm_mode!r} needs boxes; use inter_ocular or inter_pupil')
    norms = compute_normalizers(mode, k, indices)
    return float(per_image_nme(normalized_landmark_errors(pred, k, norms)).mean())
