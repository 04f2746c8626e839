# Copyright (c) mmfacealign contributors. All rights reserved.
"""How well a model says which landmarks are occluded: precision-recall of per-landmark occlusion scores.

The positive class is "occluded". Every labelled landmark of every face is one sample (scores pooled over the
faces), as COFW's occlusion results are reported (Burgos-Artizzu et al., "Robust face landmark estimation under
occlusion", ICCV 2013, Sec. 5: precision/recall of the occlusion prediction, summarised as the recall at 80%
precision).

* **Operating points.** A threshold ``t`` predicts "occluded" for every score ``>= t``. The thresholds are the
  distinct scores, so tied scores enter (or leave) together: a curve never separates two points of equal score.
* **Recall at precision p** (the COFW figure, ``p = 0.8``): the highest recall among the operating points whose
  precision is at least ``p``; 0 when no operating point reaches ``p``. The threshold reported with it is the
  largest score that gives that recall (the most conservative one).
* **Average precision**: ``AP = sum_i (R_i - R_{i-1}) P_i`` over the operating points in order of decreasing
  threshold, ``R_0 = 0`` (the step-wise sum of scikit-learn's ``average_precision_score``, no interpolation).
* With no occluded landmark among the samples, recall and AP are undefined: the functions return None.
"""
from typing import Optional, Tuple

import numpy as np


def _check(scores: np.ndarray, labels: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    labels = np.asarray(labels).reshape(-1).astype(bool)
    if scores.shape != labels.shape:
        raise ValueError(f'occlusion scores ({scores.size}) and labels ({labels.size}) differ in number')
    if not np.isfinite(scores).all():
        raise ValueError(f'{int((~np.isfinite(scores)).sum())} occlusion score(s) are NaN or infinite')
    return scores, labels


def precision_recall_curve(scores: np.ndarray, labels: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(precision, recall, thresholds)``, one entry per distinct score, thresholds decreasing.

    Args:
        scores (np.ndarray): (M,) occlusion scores (e.g. probabilities), higher = more likely occluded.
        labels (np.ndarray): (M,) bool, True where the landmark is occluded.

    Returns:
        tuple of np.ndarray: (T,) precision, recall (NaN if no label is True) and thresholds.
    """
    scores, labels = _check(scores, labels)
    if scores.size == 0:
        return np.zeros(0), np.zeros(0), np.zeros(0)
    order = np.argsort(-scores, kind='mergesort')
    s, y = scores[order], labels[order]
    tp, fp = np.cumsum(y), np.cumsum(~y)
    last = np.r_[np.flatnonzero(np.diff(s) != 0), s.size - 1]     # the last point of each group of equal scores
    tp, fp = tp[last].astype(np.float64), fp[last].astype(np.float64)
    positives = float(labels.sum())
    recall = tp / positives if positives > 0 else np.full_like(tp, np.nan)
    return tp / (tp + fp), recall, s[last]


def average_precision(scores: np.ndarray, labels: np.ndarray) -> Optional[float]:
    """Step-wise average precision ``sum_i (R_i - R_{i-1}) P_i``; None without any occluded landmark."""
    precision, recall, _ = precision_recall_curve(scores, labels)
    if recall.size == 0 or not np.isfinite(recall).all():
        return None
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def recall_at_precision(scores: np.ndarray, labels: np.ndarray,
                        min_precision: float = 0.8) -> Optional[Tuple[float, float]]:
    """``(recall, threshold)``: the highest recall at precision ``>= min_precision`` and the largest threshold
    giving it; ``(0.0, inf)`` when no operating point is that precise; None without any occluded landmark."""
    precision, recall, thresholds = precision_recall_curve(scores, labels)
    if recall.size == 0 or not np.isfinite(recall).all():
        return None
    ok = np.flatnonzero(precision >= min_precision)
    if ok.size == 0:
        return 0.0, float('inf')
    best = recall[ok].max()
    first = ok[recall[ok] == best][0]          # thresholds decrease: the first is the largest
    return float(best), float(thresholds[first])


def precision_recall_at(scores: np.ndarray, labels: np.ndarray, threshold: float = 0.5) -> Tuple[float, float]:
    """``(precision, recall)`` predicting "occluded" for scores ``>= threshold``; precision is NaN when nothing is
    predicted occluded (a model that never says "occluded" gets no precision figure), recall NaN when nothing is
    occluded."""
    scores, labels = _check(scores, labels)
    pred = scores >= threshold
    tp = float((pred & labels).sum())
    precision = tp / pred.sum() if pred.any() else float('nan')
    recall = tp / labels.sum() if labels.any() else float('nan')
    return float(precision), float(recall)
