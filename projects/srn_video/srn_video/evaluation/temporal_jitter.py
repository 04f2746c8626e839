# Copyright (c) mmfacealign contributors. All rights reserved.
"""Temporal stability of video landmark predictions: the jitter where the ground truth is still.

Issue 11's video metric beside the per-frame NME of ``FaceAlignmentMetric``. Frames are identified by
``(video_id, frame_id)``; a *pair* is two frames of the same video with consecutive frame ids (``f - 1, f``; a
gap in the ids, e.g. frames the 300VW organisers exclude, breaks the chain). With ``d_t`` the normaliser of the
later frame ``t`` (inter-ocular distance of its ground truth in the metric), a pair is **still** when the mean
normalised ground-truth landmark motion is below ``still_thr``::

    m_t = mean_k ||g_{t,k} - g_{t-1,k}|| / d_t  <  still_thr

and its jitter is the mean normalised prediction displacement ``j_t = mean_k ||p_{t,k} - p_{t-1,k}|| / d_t``.
``jitter`` = mean of ``j_t`` over the still pairs (a fraction of ``d``, the scale of MMPose's ``NME``). With no
still pair the result is NaN and a warning says so (no exception: a validation run must not end in a crash).
"""
import warnings
from collections import defaultdict
from typing import Dict, Hashable, List, Optional, Sequence, Tuple, Union

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger
from mmpose.registry import METRICS

from mmfacealign.evaluation.functional.normalizers import inter_ocular_distance
from mmfacealign.evaluation.metrics.face_alignment_metric import _as_tags, _to_numpy
from mmfacealign.models.utils.landmark_groups import outer_eye_corners

DEFAULT_STILL_THR = 0.02


def still_pairs(pred: np.ndarray, gt: np.ndarray, normaliser: np.ndarray, video_ids: Sequence[Hashable],
                frame_ids: Sequence[int], still_thr: float = DEFAULT_STILL_THR) -> Tuple[np.ndarray, np.ndarray]:
    """The still consecutive-frame pairs and their jitter (see the module docstring).

    Args:
        pred (np.ndarray): (F, N, 2) predicted landmarks, any frame order.
        gt (np.ndarray): (F, N, 2) ground-truth landmarks.
        normaliser (np.ndarray): (F, ) per-frame normaliser ``d`` (used for the later frame of each pair).
        video_ids (sequence): (F, ) video of each frame (any hashable).
        frame_ids (sequence of int): (F, ) frame index within its video.
        still_thr (float): the ground truth is still when ``m_t < still_thr``.

    Returns:
        (np.ndarray (P, ), np.ndarray (P, ) int): the jitter ``j_t`` of each still pair and the index (into the
        inputs) of its later frame ``t``, in input order of ``t``.
    """
    pred = np.asarray(pred, dtype=np.float64)
    gt = np.asarray(gt, dtype=np.float64)
    normaliser = np.asarray(normaliser, dtype=np.float64).reshape(-1)
    f = len(pred)
    if pred.ndim != 3 or pred.shape[-1] != 2 or gt.shape != pred.shape:
        raise ValueError(f'temporal_jitter: pred and gt must both be (F, N, 2), got {pred.shape} and {gt.shape}')
    if not (len(normaliser) == len(video_ids) == len(frame_ids) == f):
        raise ValueError(f'temporal_jitter: {f} frames but {len(normaliser)} normalisers, {len(video_ids)} video ids '
                         f'and {len(frame_ids)} frame ids')
    index: Dict[Tuple[Hashable, int], int] = {}
    for i, key in enumerate(zip(video_ids, (int(x) for x in frame_ids))):
        if key in index:
            raise ValueError(f'temporal_jitter: video {key[0]!r} frame {key[1]} appears twice (inputs {index[key]} '
                             f'and {i}); evaluate each frame once (non-overlapping clips: stride = clip_len)')
        index[key] = i
    later, earlier = [], []
    for (video, frame), i in index.items():
        j = index.get((video, frame - 1))
        if j is not None:
            later.append(i)
            earlier.append(j)
    later_idx = np.asarray(later, dtype=np.int64)
    earlier_idx = np.asarray(earlier, dtype=np.int64)
    d = normaliser[later_idx]
    bad = ~(np.isfinite(d) & (d > 0))
    if bad.any():
        i = int(later_idx[np.argmax(bad)])
        raise ValueError(f'temporal_jitter: normaliser of video {video_ids[i]!r} frame {int(frame_ids[i])} is '
                         f'{normaliser[i]} (must be finite and > 0)')
    gt_motion = np.linalg.norm(gt[later_idx] - gt[earlier_idx], axis=-1).mean(-1) / d if len(d) else d
    still = gt_motion < still_thr
    disp = np.linalg.norm(pred[later_idx] - pred[earlier_idx], axis=-1).mean(-1) / d if len(d) else d
    order = np.argsort(later_idx[still], kind='stable')
    return disp[still][order], later_idx[still][order]


def _mean_or_nan(values: np.ndarray, what: str) -> float:
    if len(values) == 0:
        warnings.warn(f'temporal_jitter: no still consecutive-frame pair {what}; jitter is NaN')
        return float('nan')
    return float(np.mean(values))


def temporal_jitter(pred: np.ndarray, gt: np.ndarray, normaliser: np.ndarray, video_ids: Sequence[Hashable],
                    frame_ids: Sequence[int], still_thr: float = DEFAULT_STILL_THR) -> float:
    """Mean normalised frame-to-frame prediction displacement over the consecutive-frame pairs of one video where
    the ground truth is still (see the module docstring and :func:`still_pairs` for the arguments). NaN, with a
    warning, when there is no still pair."""
    values, _ = still_pairs(pred, gt, normaliser, video_ids, frame_ids, still_thr)
    return _mean_or_nan(values, f'(still_thr={still_thr})')


@METRICS.register_module()
class TemporalJitterMetric(BaseMetric):
    """Jitter of video predictions where the ground truth is still (module docstring), overall and per subset.

    Use it beside ``FaceAlignmentMetric`` (per-frame NME) in the evaluator list, on a video dataset that adds the
    ``video_id`` and ``frame_id`` metainfo to every sample (``FaceVideoClipDataset``; for tracking evaluation use
    non-overlapping clips, ``stride = clip_len``, so that each frame is scored once)::

        val_evaluator = [dict(type='FaceAlignmentMetric', norm_mode='inter_ocular'),
                         dict(type='TemporalJitterMetric', still_thr=0.02)]

    Keys: ``jitter`` and ``jitter_pairs`` (the number of still pairs used); for every tag ``s`` found in the
    samples' ``subset`` meta, ``jitter/s`` and ``jitter_pairs/s`` over the still pairs whose later frame carries
    ``s``. A key with no still pair is NaN (with a warning). The keys do not clash with ``FaceAlignmentMetric``'s.

    Inputs per data sample: ``pred_instances.keypoints`` and ``gt_instances.keypoints`` (1, N, 2) in image pixels,
    the meta keys ``video_id``, ``frame_id`` and (optionally) ``subset``. A frame seen twice (overlapping clips)
    is counted once (the first seen), with a warning.

    Args:
        still_thr (float): the ground truth is still when its mean landmark motion, divided by the later frame's
            normaliser, is below this. Default 0.02 (2% of the inter-ocular distance per frame).
        norm_indices ('auto' | tuple): the two ground-truth landmarks whose distance is the normaliser ``d``.
            Default ``'auto'``: the outer eye corners of the layout, by the number of landmarks
            (``mmfacealign.models.utils.landmark_groups.OUTER_EYE_CORNERS``; (36, 45) for 300VW and SynthFace).
        collect_device (str): ``'cpu'`` or ``'gpu'``, for gathering results across ranks. Default ``'cpu'``.
        prefix (str, optional): prefix of the keys. Default None.
    """
    default_prefix: Optional[str] = None

    def __init__(self, still_thr: float = DEFAULT_STILL_THR, norm_indices: Union[str, Sequence[int]] = 'auto',
                 collect_device: str = 'cpu', prefix: Optional[str] = None):
        super().__init__(collect_device=collect_device, prefix=prefix)
        if not still_thr > 0:
            raise ValueError(f'TemporalJitterMetric: still_thr must be > 0, got {still_thr}')
        if norm_indices != 'auto' and (isinstance(norm_indices, str) or len(norm_indices) != 2):
            raise ValueError("TemporalJitterMetric: norm_indices must be 'auto' or two landmark indices, got "
                             f'{norm_indices!r}')
        self.still_thr = float(still_thr)
        self.norm_indices = norm_indices if norm_indices == 'auto' else tuple(int(i) for i in norm_indices)

    @staticmethod
    def _points(x, what: str, ds: dict) -> np.ndarray:
        x = _to_numpy(x)
        if x.ndim == 3 and x.shape[0] == 1:
            x = x[0]
        if x.ndim != 2 or x.shape[1] < 2:
            raise ValueError(f'TemporalJitterMetric: sample {ds.get("img_path", ds.get("id"))}: {what} must be '
                             f'(1, N, 2) (one face per sample), got {x.shape}')
        return x[:, :2].astype(np.float64)

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for ds in data_samples:
            for key in ('video_id', 'frame_id'):
                if key not in ds:
                    raise KeyError(f'TemporalJitterMetric: sample {ds.get("img_path", ds.get("id"))} has no {key!r} '
                                   'meta; evaluate on a video dataset that adds video_id and frame_id to every '
                                   'sample (FaceVideoClipDataset)')
            self.results.append(dict(
                pred=self._points(ds['pred_instances']['keypoints'], 'predicted keypoints', ds),
                gt=self._points(ds['gt_instances']['keypoints'], 'ground-truth keypoints', ds),
                video_id=str(ds['video_id']), frame_id=int(ds['frame_id']), subset=_as_tags(ds.get('subset'))))

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        kept, seen = [], set()
        for r in results:
            key = (r['video_id'], r['frame_id'])
            if key not in seen:
                seen.add(key)
                kept.append(r)
        if len(kept) < len(results):
            warnings.warn(f'TemporalJitterMetric: {len(results) - len(kept)} frames were evaluated more than once '
                          '(overlapping clips); the first prediction of each is used')
        if not kept:
            warnings.warn('TemporalJitterMetric: no samples; jitter is NaN')
            return dict(jitter=float('nan'), jitter_pairs=0)
        gt = np.stack([r['gt'] for r in kept])
        corners = (outer_eye_corners(gt.shape[1], 'TemporalJitterMetric (norm_indices)')
                   if self.norm_indices == 'auto' else self.norm_indices)
        values, later = still_pairs(
            np.stack([r['pred'] for r in kept]), gt, inter_ocular_distance(gt, *corners),
            [r['video_id'] for r in kept], [r['frame_id'] for r in kept], self.still_thr)
        metrics = dict(jitter=_mean_or_nan(values, f'(still_thr={self.still_thr})'), jitter_pairs=len(values))
        by_tag: Dict[str, List[float]] = defaultdict(list)
        for value, i in zip(values, later):
            for tag in kept[i]['subset']:
                by_tag[tag].append(value)
        for tag in sorted({t for r in kept for t in r['subset']}):
            metrics[f'jitter/{tag}'] = _mean_or_nan(np.asarray(by_tag[tag]), f'in subset {tag!r}')
            metrics[f'jitter_pairs/{tag}'] = len(by_tag[tag])
        MMLogger.get_current_instance().info(
            'TemporalJitterMetric: ' + ', '.join(f'{k}={v:.6g}' for k, v in metrics.items()))
        return metrics
