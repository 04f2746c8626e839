# Copyright (c) mmfacealign contributors. All rights reserved.
"""``FaceAlignmentMetric``: the NME / FR / AUC report of face-alignment papers, per subset, in one run."""
import logging
import warnings
from collections import OrderedDict
from dataclasses import replace
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger, print_log
from mmpose.registry import METRICS

from ..functional import (
    NORM_MODES,
    auc_ced,
    average_precision,
    compute_normalizers,
    failure_rate,
    normalized_landmark_errors,
    per_image_nme,
    per_landmark_nme,
    pooled_nme,
    precision_recall_at,
    recall_at_precision,
    resolve_norm,
)
from .face_alignment_report import (
    EvalResult,
    default_outfile_prefix,
    format_report,
    format_threshold,
    list_samples,
    write_report_files,
)

ALL_SAMPLES = '*'
FULL = 'full'


def _to_numpy(x) -> Optional[np.ndarray]:
    """A tensor, array or array-like as a numpy array (None stays None)."""
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

    The logged table and the two files are made by ``face_alignment_report`` (beside this module) from one
    ``EvalResult``; this class parses the arguments, keeps the samples, checks them, computes the normalisers,
    selects the subsets and computes the keys.

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
        """A threshold or a sequence of them as a list of distinct positive floats, in the given order."""
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
            occ_prob = _to_numpy(ds['pred_instances'].get('keypoints_occluded', None))
            if occ_prob is not None:
                occ_prob = occ_prob.reshape(-1).astype(np.float64)
                if occ_prob.shape[0] != gt.shape[0]:
                    raise ValueError(f'FaceAlignmentMetric: sample {name}: {occ_prob.shape[0]} predicted occlusion '
                                     f'probabilities (pred_instances.keypoints_occluded) for {gt.shape[0]} keypoints')
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
                    occ_prob=occ_prob,
                    has_subset='subset' in ds,
                    subset=_as_tags(ds.get('subset', None)),
                ))

    @staticmethod
    def _sample_name(ds: dict) -> str:
        """``'id=<id> img_path=<path>'`` (what the sample has of them) to name it in messages and files."""
        parts = []
        if ds.get('id', None) is not None:
            parts.append(f'id={ds["id"]}')
        if ds.get('img_path', None):
            parts.append(f'img_path={ds["img_path"]}')
        return ' '.join(parts) if parts else '<unnamed sample>'

    @staticmethod
    def _single_instance(x: np.ndarray, what: str, name: str) -> np.ndarray:
        """The (K, 2) keypoints of a sample's one instance, from (1, K, >=2) or (K, >=2); else a ValueError."""
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
        """NME, FR, AUC (overall and per subset), occluded / visible NME; logs the table, writes the files.

        Args:
            results (list): the gathered per-sample dicts of :meth:`process` (N of them, K keypoints each).

        Returns:
            dict: metric name -> float.
        """
        logger: MMLogger = MMLogger.get_current_instance()
        pred, gt, mask = self._stack_samples(results)
        dataset_name = self._dataset_name()
        mode, indices = self._resolve_norm(dataset_name, gt.shape[1])
        normalizers = self._normalizers(mode, indices, results, gt, mask)

        errors = normalized_landmark_errors(pred, gt, normalizers)
        occluded, flagged = self._occlusion_flags(results)
        result = EvalResult(
            samples=results,
            nme=per_image_nme(errors, mask),
            errors=errors,
            mask=mask,
            normalizers=normalizers,
            landmark_nme=per_landmark_nme(errors, mask),
            subsets=self._select_subsets(results, dataset_name),
            dataset_name=dataset_name,
            norm_mode=mode,
            norm_indices=indices,
            fr_thresholds=self.fr_thresholds,
            auc_thresholds=self.auc_thresholds,
            occluded=occluded,
            flagged=flagged,
            occ_prob=self._occlusion_probabilities(results, occluded))
        result = replace(result, metrics=self._metrics(result))

        logger.info(format_report(result))
        write_report_files(result, self._resolve_outfile_prefix(), self.ced_points)
        return dict(result.metrics)

    def _stack_samples(self, results: list) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The samples stacked and checked: one keypoint count, finite labelled points, >= 1 labelled point each.

        Args:
            results (list): N per-sample dicts of :meth:`process`.

        Returns:
            tuple: ``pred`` and ``gt`` (N, K, 2) float64, ``mask`` (N, K) bool (the labelled points).
        """
        if not results:
            raise ValueError('FaceAlignmentMetric: no samples to evaluate')
        num_kpts = {r['gt'].shape[0] for r in results}
        if len(num_kpts) != 1:
            raise ValueError(f'FaceAlignmentMetric: samples have different keypoint counts {sorted(num_kpts)}')
        names = [r['name'] for r in results]
        pred = np.stack([r['pred'] for r in results])
        gt = np.stack([r['gt'] for r in results])
        mask = np.stack([r['mask'] for r in results])

        for what, arr in (('predicted', pred), ('ground-truth', gt)):
            # an image is bad if any labelled point is not finite
            bad = np.flatnonzero(~(np.isfinite(arr).all(axis=-1) | ~mask).all(axis=1))
            if bad.size:
                raise ValueError(f'FaceAlignmentMetric: {what} keypoints are NaN or infinite for {bad.size} '
                                 f'sample(s): {list_samples(names, bad)}')
        empty = np.flatnonzero(~mask.any(axis=1))
        if empty.size:
            raise ValueError(f'FaceAlignmentMetric: {empty.size} sample(s) have no labelled keypoint '
                             f'(keypoints_visible all 0), so their NME is undefined: {list_samples(names, empty)}')
        return pred, gt, mask

    def _dataset_name(self) -> Optional[str]:
        """The ``dataset_name`` argument, else ``dataset_meta['dataset_name']``, else None."""
        if self.dataset_name is None and self.dataset_meta:
            return self.dataset_meta.get('dataset_name')
        return self.dataset_name

    def _resolve_norm(self, dataset_name: Optional[str], num_keypoints: int) -> Tuple[str, Optional[Sequence]]:
        """``(mode, indices)`` of the normaliser: the arguments, with the dataset's defaults for ``'auto'`` / None.

        Args:
            dataset_name (str | None): the dataset (see :meth:`_dataset_name`).
            num_keypoints (int): K, checked against the dataset's landmark indices.
        """
        try:
            return resolve_norm(self.norm_mode, dataset_name, num_keypoints, self.norm_indices)
        except ValueError as e:
            hint = ('' if dataset_name is not None else
                    ' (no dataset_name: the metric has no dataset_meta; pass FaceAlignmentMetric(dataset_name=...))')
            raise ValueError(f'FaceAlignmentMetric: {e}{hint}') from None

    def _normalizers(self, mode: str, indices: Optional[Sequence], results: list, gt: np.ndarray,
                     mask: np.ndarray) -> np.ndarray:
        """Per-image normalisers, checked: the points they use must be labelled, the value finite and > 0.

        Args:
            mode (str): the resolved normaliser (see :meth:`_resolve_norm`).
            indices (sequence | None): its landmarks (None for the box normalisers).
            results (list): N per-sample dicts of :meth:`process` (``bbox`` (4,) xyxy or ``box_size``).
            gt (np.ndarray): (N, K, 2) ground-truth keypoints.
            mask (np.ndarray): (N, K) bool, labelled points.

        Returns:
            np.ndarray: (N,) normalisers ``d_n`` in pixels.
        """
        names = [r['name'] for r in results]
        bboxes = box_size = None
        if mode in ('inter_ocular', 'inter_pupil'):
            used = sorted({int(i) for group in ([indices] if mode == 'inter_ocular' else indices)
                           for i in np.atleast_1d(group)})
            unlabelled = np.flatnonzero(~mask[:, used].all(axis=1))
            if unlabelled.size:
                raise ValueError(f'FaceAlignmentMetric: the {mode} normaliser uses landmarks {used}, which are not '
                                 f'all labelled in {unlabelled.size} sample(s): {list_samples(names, unlabelled)}')
        elif mode == 'box_size':
            lacking = [i for i, r in enumerate(results) if r['box_size'] is None]
            if lacking:
                raise ValueError(
                    f"FaceAlignmentMetric: norm_mode 'box_size' needs each sample's annotated box_size, missing in "
                    f'{len(lacking)} sample(s): {list_samples(names, lacking)}. Add \'box_size\' to '
                    'PackPoseInputs(meta_keys=...) (AFLWDataset fills it in test_mode)')
            box_size = np.array([r['box_size'] for r in results])
        else:
            lacking = [i for i, r in enumerate(results) if r['bbox'] is None or r['bbox'].size < 4]
            if lacking:
                raise ValueError(f'FaceAlignmentMetric: norm_mode {mode!r} needs gt_instances.bboxes, missing in '
                                 f'{len(lacking)} sample(s): {list_samples(names, lacking)}')
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

    def _occlusion_flags(self, results: list) -> Tuple[Optional[np.ndarray], Optional[np.ndarray]]:
        """The occlusion flags, when ``report_occlusion`` is on and any sample carries ``keypoints_occluded``.

        Samples without flags are left out of ``NME_visible`` / ``NME_occluded`` (with a warning naming them).

        Args:
            results (list): N per-sample dicts of :meth:`process`, K keypoints each.

        Returns:
            tuple: ``occluded`` (N, K) bool (all False for samples without flags) and ``flagged`` (N, 1) bool
            (whether a sample has flags), or ``(None, None)``.
        """
        if not (self.report_occlusion and any(r['occluded'] is not None for r in results)):
            return None, None
        missing = [i for i, r in enumerate(results) if r['occluded'] is None]
        if missing:
            names = [r['name'] for r in results]
            print_log(f'FaceAlignmentMetric: {len(missing)} sample(s) carry no keypoints_occluded and are left '
                      f'out of NME_visible / NME_occluded: {list_samples(names, missing)}', logger='current',
                      level=logging.WARNING)
        num_kpts = results[0]['gt'].shape[0]
        occluded = np.stack([r['occluded'] if r['occluded'] is not None else np.zeros(num_kpts, dtype=bool)
                             for r in results])
        flagged = np.array([r['occluded'] is not None for r in results])[:, None]
        return occluded, flagged

    @staticmethod
    def _occlusion_probabilities(results: list, occluded: Optional[np.ndarray]) -> Optional[np.ndarray]:
        """(N, K) predicted occlusion probabilities (NaN for samples without), when the model predicts them and the
        samples carry occlusion flags to score them against; else None."""
        if occluded is None or not any(r['occ_prob'] is not None for r in results):
            return None
        return np.stack([r['occ_prob'] if r['occ_prob'] is not None else np.full(occluded.shape[1], np.nan)
                         for r in results])

    def _metrics(self, result: EvalResult) -> 'OrderedDict[str, float]':
        """All the keys, in order: the overall summary, ``NME_landmark/<k>`` (with ``per_landmark_keys``), then
        each subset's summary (see :meth:`_summary`)."""
        metrics: 'OrderedDict[str, float]' = OrderedDict()
        metrics.update(self._summary(result, np.arange(result.num_images), ''))
        if self.per_landmark_keys:
            for k, v in enumerate(result.landmark_nme):
                if np.isfinite(v):
                    metrics[f'NME_landmark/{k}'] = float(v)
        for sub_name, idx in result.subsets.items():
            metrics.update(self._summary(result, idx, f'{sub_name}/'))
        return metrics

    def _summary(self, result: EvalResult, idx: np.ndarray, key_prefix: str) -> 'OrderedDict[str, float]':
        """``NME``, ``FR@t``, ``AUC@t`` (and ``NME_visible`` / ``NME_occluded``) of some images.

        Args:
            result (EvalResult): the per-image NME (N,), point errors and masks (N, K), occlusion flags.
            idx (np.ndarray): (N_s,) int, the images.
            key_prefix (str): prepended to the keys (``''`` or ``'<subset>/'``).
        """
        out: 'OrderedDict[str, float]' = OrderedDict()
        e = result.nme[idx]
        out[f'{key_prefix}NME'] = float(e.mean())
        for t in self.fr_thresholds:
            out[f'{key_prefix}FR@{format_threshold(t)}'] = failure_rate(e, t)
        for t in self.auc_thresholds:
            out[f'{key_prefix}AUC@{format_threshold(t)}'] = auc_ced(e, t)
        if result.occluded is not None:
            m = result.mask[idx] & result.flagged[idx]
            vis = pooled_nme(result.errors[idx], m & ~result.occluded[idx])
            occ = pooled_nme(result.errors[idx], m & result.occluded[idx])
            if vis is not None:
                out[f'{key_prefix}NME_visible'] = vis
            if occ is not None:
                out[f'{key_prefix}NME_occluded'] = occ
        if result.occ_prob is not None:
            out.update(self._occlusion_prediction(result, idx, key_prefix))
        return out

    @staticmethod
    def _occlusion_prediction(result: EvalResult, idx: np.ndarray, key_prefix: str) -> 'OrderedDict[str, float]':
        """Occlusion-prediction keys of some images (``mmfacealign.evaluation.functional.occlusion_prediction``):
        ``occ_AP``, ``occ_recall@P80`` and its threshold ``occ_threshold@P80`` (COFW's recall at 80% precision),
        ``occ_precision`` / ``occ_recall`` at probability 0.5, and the NME of the landmarks predicted occluded /
        visible (``NME_pred_occluded`` / ``NME_pred_visible``, at 0.5). The points: labelled landmarks of images
        that carry both occlusion flags and predicted probabilities. Keys that need an occluded landmark are left
        out when the images have none, ``occ_precision`` when no landmark is predicted occluded."""
        out: 'OrderedDict[str, float]' = OrderedDict()
        prob = result.occ_prob[idx]
        m = result.mask[idx] & result.flagged[idx] & np.isfinite(prob)
        if not m.any():
            return out
        scores, labels = prob[m], result.occluded[idx][m]
        ap = average_precision(scores, labels)
        if ap is not None:
            out[f'{key_prefix}occ_AP'] = ap
            recall, threshold = recall_at_precision(scores, labels, 0.8)
            out[f'{key_prefix}occ_recall@P80'] = recall
            if np.isfinite(threshold):                  # no threshold when no operating point reaches 80%
                out[f'{key_prefix}occ_threshold@P80'] = threshold
        precision, recall = precision_recall_at(scores, labels, 0.5)
        if np.isfinite(precision):                      # none when nothing is predicted occluded
            out[f'{key_prefix}occ_precision'] = precision
        if np.isfinite(recall):
            out[f'{key_prefix}occ_recall'] = recall
        pred_occ = np.zeros_like(m)
        pred_occ[m] = scores >= 0.5
        for name, sel in (('NME_pred_occluded', m & pred_occ), ('NME_pred_visible', m & ~pred_occ)):
            value = pooled_nme(result.errors[idx], sel)
            if value is not None:
                out[f'{key_prefix}{name}'] = value
        return out

    def _select_subsets(self, results: list, dataset_name: Optional[str]) -> 'OrderedDict[str, np.ndarray]':
        """``{subset name: (N_s,) int indices of its samples}``; unmatched requested subsets are warned about and
        skipped.

        Args:
            results (list): N per-sample dicts of :meth:`process` (``subset`` tags, ``has_subset``).
            dataset_name (str | None): for the hint of the warning.
        """
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

    def _resolve_outfile_prefix(self) -> Optional[str]:
        """``outfile_prefix``, else the runner's log directory (see ``default_outfile_prefix``), else None."""
        if self.outfile_prefix is not None:
            return self.outfile_prefix
        return default_outfile_prefix(self.prefix)
