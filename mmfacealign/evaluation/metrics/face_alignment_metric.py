# Copyright (c) mmfacealign contributors. All rights reserved.
"""``FaceAlignmentMetric``: the NME / FR / AUC report of face-alignment papers, per subset, in one run."""
import json
import logging
import os
import os.path as osp
import warnings
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger, print_log
from mmpose.registry import METRICS

from mmfacealign.utils.io import dump_json_atomic

from ..functional import (NORM_MODES, auc_ced, ced_curve, compute_normalizers, failure_rate, normalized_landmark_errors,
                          per_image_nme, per_landmark_nme, pooled_nme, resolve_norm)

ALL_SAMPLES = '*'
FULL = 'full'


def _to_numpy(x) -> Optional[np.ndarray]:
    if x is None:
        return None
    if hasattr(x, 'detach'):
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def _as_tags(subset) -> tuple:
    """A sample's ``subset`` meta (None, a string, or a list of strings) as a tuple of strings."""
    if subset is None:
        return ()
    if isinstance(subset, str):
        return (subset, )
    if isinstance(subset, np.ndarray):
        subset = subset.tolist()
    if isinstance(subset, (list, tuple)):
        return tuple(str(s) for s in subset)
    raise TypeError(f'a sample\'s "subset" must be a string, a list of strings or None, got {subset!r}')


def _fmt(t: float) -> str:
    return f'{float(t):g}'


@METRICS.register_module()
class FaceAlignmentMetric(BaseMetric):
    """Face-alignment evaluation: NME averaged per image, FR@t, AUC@t, per-landmark NME, NME of occluded and
    visible landmarks, all per subset, plus per-image error and CED files.

    Notation: per image ``n``, ``NME_n = mean_{k labelled} ||p_nk - g_nk|| / d_n`` with the normaliser ``d_n``
    of ``norm_mode`` (see ``mmfacealign.evaluation.functional.normalizers``). Then

    * ``NME = mean_n NME_n`` (a fraction, the scale of MMPose's ``NME``; papers print it x100);
    * ``FR@t = #{NME_n > t} / N``;
    * ``AUC@t = (1/t) * integral_0^t CED(x) dx = mean_n max(0, 1 - NME_n / t)`` (exact, no grid);
    * ``NME_visible`` / ``NME_occluded``: the normalised point errors pooled over the labelled points that are
      visible / occluded (``keypoints_occluded`` meta), when the samples carry occlusion flags;
    * per-landmark NME ``NME_k = mean over images where k is labelled``: written to the CED file, logged (the
      five hardest landmarks), and reported as ``NME_landmark/<k>`` keys with ``per_landmark_keys=True``.

    Keys: ``NME``, ``FR@<t>``, ``AUC@<t>``, ``NME_visible``, ``NME_occluded``, and for each subset ``s``:
    ``s/NME``, ``s/FR@<t>``, ``s/AUC@<t>`` (and ``s/NME_visible``, ``s/NME_occluded`` with occlusion flags).
    ``<t>`` is formatted with ``%g`` (``FR@0.1``, ``AUC@0.08``).

    Inputs per data sample: ``pred_instances.keypoints`` (1, K, 2) and ``gt_instances.keypoints`` (1, K, 2) in
    original-image pixels, ``gt_instances.keypoints_visible`` (1, K) (labelled points; unlabelled ones are left
    out), ``gt_instances.bboxes`` (1, 4) xyxy for the box normalisers, and the meta keys ``keypoints_occluded``
    (1, K), ``subset`` (str, list of str or None) and ``box_size`` (AFLW), which ``PackPoseInputs(meta_keys=...)``
    must list to carry them; ``id`` and ``img_path`` name the samples in messages and files.

    Subsets: a sample belongs to every tag in its ``subset`` meta. The tags come from the annotation's
    ``subset`` field (SynthFace; WFLW attributes via ``tools/dataset_converters/wflw_attributes.py``) or from the
    dataset's ``subset_tag`` argument (one json per subset, joined with ``ConcatDataset``).

    Args:
        norm_mode (str): ``'auto'`` (the dataset default: inter-ocular for 300W, 300VW, WFLW, COFW, SynthFace,
            LaPa; ``box_size`` for AFLW), ``'inter_ocular'``, ``'inter_pupil'``, ``'bbox_size'`` (sqrt(w*h)),
            ``'bbox_width'``, ``'bbox_diagonal'`` or ``'box_size'`` (the annotation's field). Default ``'auto'``.
        norm_indices (sequence, optional): override the landmarks of ``inter_ocular`` (a pair of indices) or
            ``inter_pupil`` (a pair of index lists, one per eye). Default: the dataset's.
        dataset_name (str, optional): the dataset whose defaults apply; default ``dataset_meta['dataset_name']``.
        fr_thresholds (float | sequence of float): thresholds ``t`` of ``FR@t``. Default ``(0.1, )``.
        auc_thresholds (float | sequence of float, optional): thresholds of ``AUC@t``; default = fr_thresholds.
        subsets (str | sequence | dict, optional): the subsets to report. ``None``: every tag found in the
            samples, plus ``'full'`` (all samples) when any tag is found. A sequence of names: each name is a tag,
            except ``'full'``, which means all samples unless some sample is tagged ``'full'``. A dict
            ``{report_name: tag | [tags] | '*'}``: a sample is in the subset if it has any of the tags; ``'*'``
            means all samples (e.g. 300W: ``dict(common='common', challenge='challenge', full='*')``). A subset
            that matches no sample is skipped with a warning that names it and lists the tags found.
        report_occlusion (bool): report ``NME_visible`` / ``NME_occluded`` when samples carry
            ``keypoints_occluded``. Default True.
        per_landmark_keys (bool): also return ``NME_landmark/<k>`` keys. Default False.
        outfile_prefix (str, optional): write ``{outfile_prefix}.per_image.json`` and
            ``{outfile_prefix}.ced.json``. Default None: ``<log dir>/face_alignment[_<prefix>]`` of the current
            runner (the directory of the MMLogger's log file); when there is no log file, nothing is written and
            a note is logged.
        ced_points (int): grid size of the CED curve stored in the CED file (``x = linspace(0, max(t), n)``).
        collect_device (str): ``'cpu'`` or ``'gpu'``, for gathering results across ranks. Default ``'cpu'``.
        prefix (str, optional): prefix of the metric keys (``prefix/NME``). Default None.
        collect_dir (str, optional): temporary directory for ``collect_device='cpu'``.

    Example:
        >>> val_evaluator = dict(type='FaceAlignmentMetric', fr_thresholds=(0.08, 0.1))
    """
    default_prefix: Optional[str] = None

    def __init__(self,
                 norm_mode: str = 'auto',
                 norm_indices: Optional[Sequence] = None,
                 dataset_name: Optional[str] = None,
                 fr_thresholds: Union[float, Sequence[float]] = (0.1, ),
                 auc_thresholds: Union[float, Sequence[float], None] = None,
                 subsets: Union[str, Sequence[str], Dict[str, Union[str, Sequence[str]]], None] = None,
                 report_occlusion: bool = True,
                 per_landmark_keys: bool = False,
                 outfile_prefix: Optional[str] = None,
                 ced_points: int = 1001,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 collect_dir: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix, collect_dir=collect_dir)
        self.norm_mode = norm_mode
        self.norm_indices = norm_indices
        # check the mode early (the dataset defaults are resolved when the dataset is known)
        if norm_mode != 'auto' and norm_mode not in NORM_MODES:
            raise ValueError(f"FaceAlignmentMetric: unknown norm_mode {norm_mode!r}; expected 'auto' or one of "
                             f'{NORM_MODES}')
        self.dataset_name = dataset_name
        self.fr_thresholds = self._thresholds(fr_thresholds, 'fr_thresholds')
        self.auc_thresholds = (self.fr_thresholds if auc_thresholds is None else
                               self._thresholds(auc_thresholds, 'auc_thresholds'))
        self.subsets = self._parse_subsets(subsets)
        self.report_occlusion = report_occlusion
        self.per_landmark_keys = per_landmark_keys
        self.outfile_prefix = outfile_prefix
        if int(ced_points) < 2:
            raise ValueError(f'FaceAlignmentMetric: ced_points must be >= 2, got {ced_points}')
        self.ced_points = int(ced_points)

    # ------------------------------------------------------------------------------------------- arguments
    @staticmethod
    def _thresholds(values, name: str) -> List[float]:
        values = [values] if np.isscalar(values) else list(values)
        if not values:
            raise ValueError(f'FaceAlignmentMetric: {name} is empty')
        out = []
        for v in values:
            v = float(v)
            if not (np.isfinite(v) and v > 0):
                raise ValueError(f'FaceAlignmentMetric: {name} must be positive, got {values}')
            if v not in out:
                out.append(v)
        return out

    @staticmethod
    def _parse_subsets(subsets) -> Optional['OrderedDict[str, Union[str, tuple]]']:
        """``{report name: '*' | tuple of tags}``, or None for "every tag found"."""
        if subsets is None:
            return None
        if isinstance(subsets, str):
            subsets = [subsets]
        out: 'OrderedDict[str, Union[str, tuple]]' = OrderedDict()
        if isinstance(subsets, dict):
            for name, tags in subsets.items():
                if tags == ALL_SAMPLES:
                    out[str(name)] = ALL_SAMPLES
                elif isinstance(tags, str):
                    out[str(name)] = (tags, )
                elif isinstance(tags, (list, tuple)) and tags and all(isinstance(t, str) for t in tags):
                    out[str(name)] = tuple(tags)
                else:
                    raise TypeError(f'FaceAlignmentMetric: subsets[{name!r}] must be a tag, a list of tags or '
                                    f"'{ALL_SAMPLES}', got {tags!r}")
        elif isinstance(subsets, (list, tuple)):
            for name in subsets:
                if not isinstance(name, str):
                    raise TypeError(f'FaceAlignmentMetric: subset names must be strings, got {name!r}')
                out[name] = (name, )
        else:
            raise TypeError(f'FaceAlignmentMetric: subsets must be None, a name, a list of names or a dict, '
                            f'got {type(subsets).__name__}')
        return out

    # ------------------------------------------------------------------------------------------- process
    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        """Keep, per sample, what the metric needs (numpy, so that results gather across ranks).

        Args:
            data_batch: unused.
            data_samples (Sequence[dict]): packed samples with ``pred_instances`` (see the class docstring).
        """
        for ds in data_samples:
            gt_inst = ds['gt_instances']
            name = self._sample_name(ds)
            pred = self._single_instance(_to_numpy(ds['pred_instances']['keypoints']), 'predicted keypoints', name)
            gt = self._single_instance(_to_numpy(gt_inst['keypoints']), 'ground-truth keypoints', name)
            if pred.shape != gt.shape:
                raise ValueError(f'FaceAlignmentMetric: sample {name}: predicted keypoints {pred.shape} and '
                                 f'ground truth {gt.shape} differ in shape')
            vis = _to_numpy(gt_inst.get('keypoints_visible', None))
            if vis is None:
                mask = np.ones(gt.shape[0], dtype=bool)
            else:
                if vis.ndim == 3:
                    vis = vis[..., 0]
                mask = vis.reshape(-1) > 0
            bbox = _to_numpy(gt_inst.get('bboxes', None))
            box_size = ds.get('box_size', gt_inst.get('box_size', None))
            occluded = _to_numpy(ds.get('keypoints_occluded', None))
            if occluded is not None:
                occluded = occluded.reshape(-1) > 0
                if occluded.shape[0] != gt.shape[0]:
                    raise ValueError(f'FaceAlignmentMetric: sample {name}: {occluded.shape[0]} occlusion flags '
                                     f'for {gt.shape[0]} keypoints')
            self.results.append(
                dict(
                    name=name,
                    id=ds.get('id', None),
                    img_path=ds.get('img_path', None),
                    pred=pred.astype(np.float64),
                    gt=gt.astype(np.float64),
                    mask=mask,
                    bbox=None if bbox is None else bbox.reshape(-1)[:4].astype(np.float64),
                    box_size=None if box_size is None else float(np.asarray(box_size).reshape(-1)[0]),
                    occluded=occluded,
                    has_subset='subset' in ds,
                    subset=_as_tags(ds.get('subset', None)),
                ))

    @staticmethod
    def _sample_name(ds: dict) -> str:
        parts = []
        if ds.get('id', None) is not None:
            parts.append(f'id={ds["id"]}')
        if ds.get('img_path', None):
            parts.append(f'img_path={ds["img_path"]}')
        return ' '.join(parts) if parts else '<unnamed sample>'

    @staticmethod
    def _single_instance(x: np.ndarray, what: str, name: str) -> np.ndarray:
        if x.ndim == 3:
            if x.shape[0] != 1:
                raise ValueError(f'FaceAlignmentMetric: sample {name}: {what} hold {x.shape[0]} instances; the '
                                 'metric expects one face per sample (top-down)')
            x = x[0]
        if x.ndim != 2 or x.shape[1] < 2:
            raise ValueError(f'FaceAlignmentMetric: sample {name}: {what} must be (1, K, 2), got {x.shape}')
        return x[:, :2]

    # ------------------------------------------------------------------------------------------- compute
    def compute_metrics(self, results: list) -> Dict[str, float]:
        """NME, FR, AUC (overall and per subset), occluded / visible NME; writes the per-image and CED files.

        Args:
            results (list): the gathered per-sample dicts of :meth:`process`.

        Returns:
            dict: metric name -> float.
        """
        logger: MMLogger = MMLogger.get_current_instance()
        if not results:
            raise ValueError('FaceAlignmentMetric: no samples to evaluate')
        num_kpts = {r['gt'].shape[0] for r in results}
        if len(num_kpts) != 1:
            raise ValueError(f'FaceAlignmentMetric: samples have different keypoint counts {sorted(num_kpts)}')
        K = num_kpts.pop()
        names = [r['name'] for r in results]
        pred = np.stack([r['pred'] for r in results])
        gt = np.stack([r['gt'] for r in results])
        mask = np.stack([r['mask'] for r in results])

        for what, arr in (('predicted', pred), ('ground-truth', gt)):
            # an image is bad if any labelled point is not finite
            bad = np.flatnonzero(~(np.isfinite(arr).all(axis=-1) | ~mask).all(axis=1))
            if bad.size:
                raise ValueError(f'FaceAlignmentMetric: {what} keypoints are NaN or infinite for {bad.size} '
                                 f'sample(s): {self._list(names, bad)}')
        empty = np.flatnonzero(~mask.any(axis=1))
        if empty.size:
            raise ValueError(f'FaceAlignmentMetric: {empty.size} sample(s) have no labelled keypoint '
                             f'(keypoints_visible all 0), so their NME is undefined: {self._list(names, empty)}')

        dataset_name = self.dataset_name
        if dataset_name is None and self.dataset_meta:
            dataset_name = self.dataset_meta.get('dataset_name')
        try:
            mode, indices = resolve_norm(self.norm_mode, dataset_name, K, self.norm_indices)
        except ValueError as e:
            hint = ('' if dataset_name is not None else
                    ' (no dataset_name: the metric has no dataset_meta; pass FaceAlignmentMetric(dataset_name=...))')
            raise ValueError(f'FaceAlignmentMetric: {e}{hint}') from None
        normalizers = self._normalizers(mode, indices, results, gt, mask, names)

        errors = normalized_landmark_errors(pred, gt, normalizers)
        nme = per_image_nme(errors, mask)

        occ_avail = self.report_occlusion and any(r['occluded'] is not None for r in results)
        if occ_avail:
            missing = [i for i, r in enumerate(results) if r['occluded'] is None]
            if missing:
                print_log(f'FaceAlignmentMetric: {len(missing)} sample(s) carry no keypoints_occluded and are left '
                          f'out of NME_visible / NME_occluded: {self._list(names, missing)}', logger='current',
                          level=logging.WARNING)
            occluded = np.stack([
                r['occluded'] if r['occluded'] is not None else np.zeros(K, dtype=bool) for r in results])
            flagged = np.array([r['occluded'] is not None for r in results])[:, None]
        else:
            occluded = flagged = None

        all_idx = np.arange(len(results))
        metrics: 'OrderedDict[str, float]' = OrderedDict()
        metrics.update(self._summary(nme, errors, mask, occluded, flagged, all_idx, ''))

        landmark_nme = per_landmark_nme(errors, mask)
        if self.per_landmark_keys:
            for k, v in enumerate(landmark_nme):
                if np.isfinite(v):
                    metrics[f'NME_landmark/{k}'] = float(v)

        subsets = self._select_subsets(results, dataset_name)
        for sub_name, idx in subsets.items():
            metrics.update(self._summary(nme, errors, mask, occluded, flagged, idx, f'{sub_name}/'))

        self._log_report(logger, metrics, subsets, len(results), landmark_nme, mode, indices, dataset_name,
                         occ_avail, occluded, mask, flagged)
        self._write_files(results, nme, errors, mask, normalizers, landmark_nme, subsets, metrics, mode, indices,
                          dataset_name)
        return dict(metrics)

    @staticmethod
    def _list(names: List[str], idx, limit: int = 5) -> str:
        idx = list(idx)
        shown = '; '.join(names[i] for i in idx[:limit])
        return shown + (f'; ... ({len(idx) - limit} more)' if len(idx) > limit else '')

    def _normalizers(self, mode, indices, results, gt, mask, names) -> np.ndarray:
        """Per-image normalisers, checked: the points they use must be labelled, the value finite and > 0."""
        bboxes = box_size = None
        if mode in ('inter_ocular', 'inter_pupil'):
            used = sorted({int(i) for group in ([indices] if mode == 'inter_ocular' else indices)
                           for i in np.atleast_1d(group)})
            unlabelled = np.flatnonzero(~mask[:, used].all(axis=1))
            if unlabelled.size:
                raise ValueError(f'FaceAlignmentMetric: the {mode} normaliser uses landmarks {used}, which are not '
                                 f'all labelled in {unlabelled.size} sample(s): {self._list(names, unlabelled)}')
        elif mode == 'box_size':
            lacking = [i for i, r in enumerate(results) if r['box_size'] is None]
            if lacking:
                raise ValueError(
                    f"FaceAlignmentMetric: norm_mode 'box_size' needs each sample's annotated box_size, missing in "
                    f'{len(lacking)} sample(s): {self._list(names, lacking)}. Add \'box_size\' to '
                    'PackPoseInputs(meta_keys=...) (AFLWDataset fills it in test_mode)')
            box_size = np.array([r['box_size'] for r in results])
        else:
            lacking = [i for i, r in enumerate(results) if r['bbox'] is None or r['bbox'].size < 4]
            if lacking:
                raise ValueError(f'FaceAlignmentMetric: norm_mode {mode!r} needs gt_instances.bboxes, missing in '
                                 f'{len(lacking)} sample(s): {self._list(names, lacking)}')
            bboxes = np.stack([r['bbox'] for r in results])
        d = compute_normalizers(mode, gt, indices, bboxes=bboxes, box_size=box_size)
        bad = np.flatnonzero(~(np.isfinite(d) & (d > 0)))
        if bad.size:
            what = {
                'inter_ocular': f'the eye corners {indices} coincide',
                'inter_pupil': 'the eye centres coincide',
                'box_size': 'the annotated box_size is not positive',
            }.get(mode, 'the ground-truth box is degenerate')
            detail = '; '.join(f'{names[i]} ({mode} = {d[i]:g})' for i in bad[:5])
            raise ValueError(f'FaceAlignmentMetric: the {mode} normaliser is zero or invalid for {bad.size} '
                             f'sample(s) ({what}): {detail}' + (' ...' if bad.size > 5 else ''))
        return d

    def _summary(self, nme, errors, mask, occluded, flagged, idx, key_prefix: str) -> 'OrderedDict[str, float]':
        out: 'OrderedDict[str, float]' = OrderedDict()
        e = nme[idx]
        out[f'{key_prefix}NME'] = float(e.mean())
        for t in self.fr_thresholds:
            out[f'{key_prefix}FR@{_fmt(t)}'] = failure_rate(e, t)
        for t in self.auc_thresholds:
            out[f'{key_prefix}AUC@{_fmt(t)}'] = auc_ced(e, t)
        if occluded is not None:
            m = mask[idx] & flagged[idx]
            vis = pooled_nme(errors[idx], m & ~occluded[idx])
            occ = pooled_nme(errors[idx], m & occluded[idx])
            if vis is not None:
                out[f'{key_prefix}NME_visible'] = vis
            if occ is not None:
                out[f'{key_prefix}NME_occluded'] = occ
        return out

    def _select_subsets(self, results, dataset_name) -> 'OrderedDict[str, np.ndarray]':
        """``{subset name: indices of its samples}``; unmatched requested subsets are warned about and skipped."""
        tags_per_sample = [set(r['subset']) for r in results]
        found = sorted(set().union(*tags_per_sample))
        if self.subsets is None:
            spec: 'OrderedDict[str, Union[str, tuple]]' = OrderedDict((t, (t, )) for t in found)
            if found and FULL not in spec:
                spec[FULL] = ALL_SAMPLES
        else:
            spec = OrderedDict(
                (n, ALL_SAMPLES if (n == FULL and tags == (FULL, ) and FULL not in found) else tags)
                for n, tags in self.subsets.items())
        out: 'OrderedDict[str, np.ndarray]' = OrderedDict()
        for name, tags in spec.items():
            if tags == ALL_SAMPLES:
                out[name] = np.arange(len(results))
                continue
            idx = np.array([i for i, s in enumerate(tags_per_sample) if s.intersection(tags)], dtype=int)
            if idx.size == 0:
                if not any(r['has_subset'] for r in results):
                    hint = ("no sample carries a 'subset' meta key: add 'subset' to PackPoseInputs(meta_keys=...) "
                            'and tag the data (annotation field "subset" or the dataset\'s subset_tag)')
                else:
                    hint = f'tags found: {found}'
                if dataset_name == 'wflw':
                    hint += ('; WFLW attribute tags are written into the test json by '
                             'tools/dataset_converters/wflw_attributes.py')
                msg = (f'FaceAlignmentMetric: subset {name!r} (tags {list(tags)}) matches no sample and is not '
                       f'reported; {hint}')
                print_log(msg, logger='current', level=logging.WARNING)
                warnings.warn(msg, stacklevel=2)
                continue
            out[name] = idx
        return out

    # ------------------------------------------------------------------------------------------- report
    def _log_report(self, logger, metrics, subsets, n, landmark_nme, mode, indices, dataset_name, occ_avail,
                    occluded, mask, flagged) -> None:
        head = (f'FaceAlignmentMetric: {n} images, dataset {dataset_name!r}, normaliser {mode}'
                + (f' {list(indices)}' if indices is not None else ''))
        rows = [('all', n, '')] + [(s, len(i), f'{s}/') for s, i in subsets.items()]
        cols = ['NME'] + [f'FR@{_fmt(t)}' for t in self.fr_thresholds] + [f'AUC@{_fmt(t)}' for t in
                                                                          self.auc_thresholds]
        if occ_avail:
            cols += ['NME_visible', 'NME_occluded']
        width = max(8, max(len(r[0]) for r in rows))
        lines = [head, f'{"subset":<{width}} {"images":>7} ' + ' '.join(f'{c:>12}' for c in cols)]
        for label, count, p in rows:
            vals = []
            for c in cols:
                v = metrics.get(p + c)
                vals.append(f'{"-":>12}' if v is None else f'{v:>12.4f}')
            lines.append(f'{label:<{width}} {count:>7d} ' + ' '.join(vals))
        finite = np.flatnonzero(np.isfinite(landmark_nme))
        worst = finite[np.argsort(landmark_nme[finite])[::-1][:5]]
        lines.append('hardest landmarks (NME): ' + ', '.join(f'{k} ({landmark_nme[k]:.4f})' for k in worst))
        if occ_avail and not (occluded & mask & flagged).any():
            lines.append('no labelled landmark is flagged occluded: NME_occluded is not reported')
        logger.info('\n'.join(lines))

    def _resolve_outfile_prefix(self) -> Optional[str]:
        if self.outfile_prefix is not None:
            return self.outfile_prefix
        # a Runner creates its MMLogger last, with log_file = <work_dir>/<timestamp>/<timestamp>.log
        log_file = getattr(MMLogger.get_current_instance(), 'log_file', None)
        if not log_file:
            return None
        log_dir = osp.dirname(osp.abspath(log_file))
        return osp.join(log_dir, 'face_alignment' + (f'_{self.prefix}' if self.prefix else ''))

    def _write_files(self, results, nme, errors, mask, normalizers, landmark_nme, subsets, metrics, mode, indices,
                     dataset_name) -> None:
        prefix = self._resolve_outfile_prefix()
        if prefix is None:
            print_log('FaceAlignmentMetric: no outfile_prefix and no runner log directory: per-image errors and the '
                      'CED curve are not written', logger='current', level=logging.INFO)
            return
        header = dict(dataset_name=dataset_name, norm_mode=mode,
                      norm_indices=None if indices is None else json.loads(json.dumps(indices)))
        images = []
        for i, r in enumerate(results):
            item = dict(
                id=_jsonable(r['id']),
                img_path=r['img_path'],
                subset=list(r['subset']),
                normalizer=float(normalizers[i]),
                nme=float(nme[i]),
                landmark_errors=[round(float(v), 7) if m else None for v, m in zip(errors[i], mask[i])])
            if r['occluded'] is not None:
                item['occluded'] = [int(v) for v in r['occluded']]
            images.append(item)
        per_image = dict(header, num_images=len(results), images=images)

        max_t = max(self.fr_thresholds + self.auc_thresholds)
        curves = OrderedDict()
        for sub_name, idx in [('full', np.arange(len(results)))] + list(subsets.items()):
            e = nme[idx]
            x, y = ced_curve(e, max_t, self.ced_points)
            curves[sub_name] = dict(num_images=int(len(idx)), errors=np.sort(e).tolist(),
                                    x=x.tolist(), y=y.tolist())
        ced = dict(header, fr_thresholds=self.fr_thresholds, auc_thresholds=self.auc_thresholds,
                   metrics=dict(metrics), num_images=len(results),
                   per_landmark_nme=[float(v) if np.isfinite(v) else None for v in landmark_nme], curves=curves)
        paths = []
        for suffix, obj in (('per_image', per_image), ('ced', ced)):
            path = f'{prefix}.{suffix}.json'
            dump_json_atomic(obj, path)
            paths.append(path)
        print_log(f'FaceAlignmentMetric: wrote {paths[0]} and {paths[1]}', logger='current', level=logging.INFO)


def _jsonable(x):
    """An id as json: numpy scalars and arrays become python numbers and lists."""
    if x is None or isinstance(x, (bool, int, float, str)):
        return x
    arr = _to_numpy(x)
    return arr.item() if arr.size == 1 else arr.tolist()
