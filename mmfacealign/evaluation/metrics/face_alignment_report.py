# Copyright (c) mmfacealign contributors. All rights reserved.
"""The report of ``FaceAlignmentMetric``: the table it logs and the per-image / CED json files it writes.

The module sits beside the metric in ``evaluation/metrics`` rather than in ``evaluation/functional``: the
functional modules are pure array maths (NME, normalisers, CED) re-exported by ``mmfacealign.evaluation``, while
this one formats one metric's results, reads the runner's log directory and writes files. Nothing here computes
a metric value except the CED grid of the file; every function takes one :class:`EvalResult`.

Notation: ``N`` images, ``K`` landmarks per image.
"""
import json
import logging
import os.path as osp
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from mmengine.logging import MMLogger, print_log

from mmfacealign.utils.io import dump_json_atomic

from ..functional import ced_curve

# name of the all-images curve of the CED file (written whatever the subsets are)
FULL_CURVE = 'full'
# how many hardest landmarks the log table lists
NUM_HARDEST = 5


@dataclass(frozen=True)
class EvalResult:
    """One evaluation of ``FaceAlignmentMetric``, as the report needs it.

    Attributes:
        samples (list[dict]): the per-sample dicts of ``FaceAlignmentMetric.process``, in order; the report reads
            ``id``, ``img_path``, ``subset`` (tuple of str) and ``occluded`` ((K,) bool or None).
        nme (np.ndarray): (N,) per-image NME.
        errors (np.ndarray): (N, K) normalised point errors.
        mask (np.ndarray): (N, K) bool, the labelled points.
        normalizers (np.ndarray): (N,) per-image normaliser ``d_n`` in pixels.
        landmark_nme (np.ndarray): (K,) per-landmark NME, NaN where a landmark is never labelled.
        subsets (OrderedDict[str, np.ndarray]): reported subset name -> indices of its images (int, (N_s,)).
        dataset_name (str | None): the dataset whose normaliser applies.
        norm_mode (str): the resolved normaliser (``'inter_ocular'``, ``'bbox_size'``, ...).
        norm_indices (sequence | None): the landmarks of the normaliser, None for the box normalisers.
        fr_thresholds (list[float]): the ``FR@t`` thresholds.
        auc_thresholds (list[float]): the ``AUC@t`` thresholds.
        occluded (np.ndarray | None): (N, K) bool occlusion flags (False for samples without flags), or None when
            ``NME_visible`` / ``NME_occluded`` are not reported.
        flagged (np.ndarray | None): (N, 1) bool, whether a sample carries occlusion flags; None with
            ``occluded``.
        occ_prob (np.ndarray | None): (N, K) predicted occlusion probabilities (``pred_instances
            .keypoints_occluded``), NaN for samples without them; None when no sample has them.
        metrics (OrderedDict[str, float]): the metric keys and values, without the metric's ``prefix`` (the
            metric computes them from the fields above, then stores them with ``dataclasses.replace``).
    """
    samples: List[dict]
    nme: np.ndarray
    errors: np.ndarray
    mask: np.ndarray
    normalizers: np.ndarray
    landmark_nme: np.ndarray
    subsets: 'OrderedDict[str, np.ndarray]'
    dataset_name: Optional[str]
    norm_mode: str
    norm_indices: Optional[Sequence]
    fr_thresholds: List[float]
    auc_thresholds: List[float]
    occluded: Optional[np.ndarray] = None
    flagged: Optional[np.ndarray] = None
    occ_prob: Optional[np.ndarray] = None
    metrics: 'OrderedDict[str, float]' = field(default_factory=OrderedDict)

    @property
    def num_images(self) -> int:
        """``N``."""
        return len(self.samples)

    @property
    def reports_occlusion(self) -> bool:
        """Whether ``NME_visible`` / ``NME_occluded`` are columns of the report."""
        return self.occluded is not None


# ------------------------------------------------------------------------------------------- small helpers
def format_threshold(t: float) -> str:
    """A threshold as it appears in the metric keys (``%g``): ``0.1 -> '0.1'``, ``0.080 -> '0.08'``."""
    return f'{float(t):g}'


def list_samples(names: Sequence[str], idx, limit: int = 5) -> str:
    """The names of the samples ``idx`` for an error message, ``'; '``-joined, at most ``limit`` of them.

    Args:
        names (Sequence[str]): (N,) sample names.
        idx (iterable of int): the indices to list.
        limit (int): how many names to show; the rest are counted (``'; ... (3 more)'``).
    """
    idx = list(idx)
    shown = '; '.join(names[i] for i in idx[:limit])
    return shown + (f'; ... ({len(idx) - limit} more)' if len(idx) > limit else '')


def jsonable(x):
    """A sample id as json: numpy / torch scalars become python numbers, arrays become lists."""
    if x is None or isinstance(x, (bool, int, float, str)):
        return x
    if hasattr(x, 'detach'):
        x = x.detach().cpu().numpy()
    arr = np.asarray(x)
    return arr.item() if arr.size == 1 else arr.tolist()


def default_outfile_prefix(metric_prefix: Optional[str] = None) -> Optional[str]:
    """``<log dir>/face_alignment[_<metric_prefix>]`` of the current runner, or None without a log file.

    A Runner creates its MMLogger last, with ``log_file = <work_dir>/<timestamp>/<timestamp>.log``; the files go
    beside that log.
    """
    log_file = getattr(MMLogger.get_current_instance(), 'log_file', None)
    if not log_file:
        return None
    log_dir = osp.dirname(osp.abspath(log_file))
    return osp.join(log_dir, 'face_alignment' + (f'_{metric_prefix}' if metric_prefix else ''))


# ------------------------------------------------------------------------------------------- log table
def format_report(result: EvalResult) -> str:
    """The multi-line text the metric logs: a header, one row per subset, the hardest landmarks.

    The columns are ``NME``, ``FR@t``, ``AUC@t`` (and ``NME_visible``, ``NME_occluded`` when the result reports
    occlusion); a key missing from ``result.metrics`` prints as ``-``.
    """
    indices = result.norm_indices
    n = result.num_images
    head = (f'FaceAlignmentMetric: {n} images, dataset {result.dataset_name!r}, normaliser {result.norm_mode}'
            + (f' {list(indices)}' if indices is not None else ''))
    rows = [('all', n, '')] + [(s, len(i), f'{s}/') for s, i in result.subsets.items()]
    cols = (['NME'] + [f'FR@{format_threshold(t)}' for t in result.fr_thresholds]
            + [f'AUC@{format_threshold(t)}' for t in result.auc_thresholds])
    if result.reports_occlusion:
        cols += ['NME_visible', 'NME_occluded']
    width = max(8, max(len(r[0]) for r in rows))
    lines = [head, f'{"subset":<{width}} {"images":>7} ' + ' '.join(f'{c:>12}' for c in cols)]
    for label, count, p in rows:
        vals = []
        for c in cols:
            v = result.metrics.get(p + c)
            vals.append(f'{"-":>12}' if v is None else f'{v:>12.4f}')
        lines.append(f'{label:<{width}} {count:>7d} ' + ' '.join(vals))
    landmark_nme = result.landmark_nme
    finite = np.flatnonzero(np.isfinite(landmark_nme))
    worst = finite[np.argsort(landmark_nme[finite])[::-1][:NUM_HARDEST]]
    lines.append('hardest landmarks (NME): ' + ', '.join(f'{k} ({landmark_nme[k]:.4f})' for k in worst))
    if result.reports_occlusion and not (result.occluded & result.mask & result.flagged).any():
        lines.append('no labelled landmark is flagged occluded: NME_occluded is not reported')
    return '\n'.join(lines)


# ------------------------------------------------------------------------------------------- files
def _file_header(result: EvalResult) -> dict:
    """The keys both files start with: ``dataset_name``, ``norm_mode``, ``norm_indices`` (json lists)."""
    indices = result.norm_indices
    return dict(dataset_name=result.dataset_name, norm_mode=result.norm_mode,
                norm_indices=None if indices is None else json.loads(json.dumps(indices)))


def per_image_record(result: EvalResult) -> dict:
    """The content of ``<prefix>.per_image.json``: the header, ``num_images`` and one entry per image.

    An image entry holds ``id``, ``img_path``, ``subset`` (list of tags), ``normalizer``, ``nme``,
    ``landmark_errors`` (K values rounded to 7 decimals, None for unlabelled points) and, when the sample carries
    occlusion flags, ``occluded`` (K ints).
    """
    images = []
    for i, r in enumerate(result.samples):
        item = dict(
            id=jsonable(r['id']),
            img_path=r['img_path'],
            subset=list(r['subset']),
            normalizer=float(result.normalizers[i]),
            nme=float(result.nme[i]),
            landmark_errors=[round(float(v), 7) if m else None for v, m in zip(result.errors[i], result.mask[i])])
        if r['occluded'] is not None:
            item['occluded'] = [int(v) for v in r['occluded']]
        images.append(item)
    return dict(_file_header(result), num_images=result.num_images, images=images)


def ced_record(result: EvalResult, ced_points: int) -> dict:
    """The content of ``<prefix>.ced.json``: the header, thresholds, metrics, per-landmark NME and CED curves.

    Args:
        result (EvalResult): the evaluation.
        ced_points (int): the grid size of each curve, ``x = linspace(0, max threshold, ced_points)``.

    Returns:
        dict: ``curves`` maps ``'full'`` (all images) and each subset to ``num_images``, ``errors`` (its sorted
        per-image NMEs), ``x`` and ``y`` (the CED on the grid, each ``ced_points`` long).
    """
    max_t = max(result.fr_thresholds + result.auc_thresholds)
    curves = OrderedDict()
    for sub_name, idx in [(FULL_CURVE, np.arange(result.num_images))] + list(result.subsets.items()):
        e = result.nme[idx]
        x, y = ced_curve(e, max_t, ced_points)
        curves[sub_name] = dict(num_images=int(len(idx)), errors=np.sort(e).tolist(), x=x.tolist(), y=y.tolist())
    return dict(_file_header(result), fr_thresholds=result.fr_thresholds, auc_thresholds=result.auc_thresholds,
                metrics=dict(result.metrics), num_images=result.num_images,
                per_landmark_nme=[float(v) if np.isfinite(v) else None for v in result.landmark_nme], curves=curves)


def write_report_files(result: EvalResult, outfile_prefix: Optional[str],
                       ced_points: int) -> Optional[Tuple[str, str]]:
    """Write ``<outfile_prefix>.per_image.json`` and ``<outfile_prefix>.ced.json`` (atomically) and log their paths.

    Args:
        result (EvalResult): the evaluation.
        outfile_prefix (str | None): the path prefix; None writes nothing and logs a note.
        ced_points (int): see :func:`ced_record`.

    Returns:
        tuple[str, str] | None: the two paths written, or None.
    """
    if outfile_prefix is None:
        print_log('FaceAlignmentMetric: no outfile_prefix and no runner log directory: per-image errors and the '
                  'CED curve are not written', logger='current', level=logging.INFO)
        return None
    records: Dict[str, dict] = OrderedDict(per_image=per_image_record(result), ced=ced_record(result, ced_points))
    paths = []
    for suffix, obj in records.items():
        path = f'{outfile_prefix}.{suffix}.json'
        dump_json_atomic(obj, path)
        paths.append(path)
    print_log(f'FaceAlignmentMetric: wrote {paths[0]} and {paths[1]}', logger='current', level=logging.INFO)
    return paths[0], paths[1]
