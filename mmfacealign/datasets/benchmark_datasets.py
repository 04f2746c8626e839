# Copyright (c) mmfacealign contributors. All rights reserved.
"""The face-alignment benchmarks, as MMPose's dataset classes plus occlusion flags and subset tags.

Each class is ``(FaceLandmarkDatasetMixin, <MMPose class>)``: it reads MMPose's annotation files unchanged and
adds to every sample

* ``subset``: the annotation's ``subset`` field (str or list of str; e.g. the WFLW attributes written by
  ``tools/dataset_converters/wflw_attributes.py``), else the ``subset_tag`` constructor argument, else None;
* ``keypoints_occluded`` ``(1, K)``: from an ``occluded`` list in the annotation when present; COFW also reads
  its visibility convention (``v = 1`` occluded, ``v = 2`` visible, as MMPose's ``parse_cofw_dataset.py``
  writes). 300W, WFLW, AFLW and 300VW have no per-landmark occlusion labels (MMPose's WFLW converter writes
  ``v = 1`` for every point), so they get no ``keypoints_occluded`` unless the annotation has ``occluded``.

Subsets split over files are tagged per file and joined with ``ConcatDataset`` (metainfo is identical, so
mmengine accepts it), e.g. 300W common + challenge::

    dataset=dict(type='ConcatDataset', datasets=[
        dict(type='FaceAlign300WDataset', ann_file='annotations/face_landmarks_300w_valid_common.json',
             subset_tag='common', ...),
        dict(type='FaceAlign300WDataset', ann_file='annotations/face_landmarks_300w_valid_challenge.json',
             subset_tag='challenge', ...)])

Add ``'keypoints_occluded'``, ``'subset'`` (and ``'box_size'`` for AFLW) to ``PackPoseInputs(meta_keys=...)``.

Bad data is handled as in ``face_datasets.py`` (its module docstring): file problems raise naming the file and
field, unusable faces are skipped with a warning naming the annotation ids, unreadable images raise on loading.
"""
import os.path as osp
from typing import Optional

import mmpose
from mmpose.datasets.datasets.face import AFLWDataset, COFWDataset, Face300VWDataset, Face300WDataset, WFLWDataset
from mmpose.registry import DATASETS

from .face_datasets import FaceLandmarkDatasetMixin

__all__ = [
    'FaceAlign300WDataset', 'FaceAlignWFLWDataset', 'FaceAlignCOFWDataset', 'FaceAlignAFLWDataset',
    'FaceAlign300VWDataset', 'WFLW_ATTRIBUTES'
]

#: WFLW's six attribute flags, in the order of ``list_98pt_rect_attr_*.txt``, as subset tags.
WFLW_ATTRIBUTES = ('pose', 'expression', 'illumination', 'makeup', 'occlusion', 'blur')

_MMPOSE_DATASET_INFO = osp.join(osp.dirname(osp.abspath(mmpose.__file__)), '.mim', 'configs', '_base_', 'datasets')


def _mmpose_metainfo(basename: str, fallback: dict) -> dict:
    """MMPose's metainfo file by absolute path (MMPose's own classes give a path relative to the working
    directory, which a local ``configs/_base_/datasets/`` would shadow); MMPose's default if not installed."""
    path = osp.join(_MMPOSE_DATASET_INFO, basename)
    return dict(from_file=path) if osp.isfile(path) else dict(fallback)


class _BenchmarkMixin(FaceLandmarkDatasetMixin):
    """Occlusion flags only where the benchmark has them (see the module docstring)."""
    #: whether ``v == 1`` in the annotation means "occluded" (COFW); otherwise only an ``occluded`` list counts
    occlusion_from_visibility: bool = False

    def parse_data_info(self, raw_data_info: dict) -> Optional[dict]:
        data_info = super().parse_data_info(raw_data_info)
        if (data_info is not None and not self.occlusion_from_visibility
                and raw_data_info['raw_ann_info'].get('occluded') is None):
            data_info.pop('keypoints_occluded', None)
        return data_info


@DATASETS.register_module()
class FaceAlign300WDataset(_BenchmarkMixin, Face300WDataset):
    """300W (68 points) with subset tags: ``subset_tag='common'`` / ``'challenge'`` on the files
    ``face_landmarks_300w_valid_{common,challenge}.json`` give the common / challenge / full report in one run.
    Also fits COFW-68 converted by ``tools/dataset_converters/pts2coco.py`` (evaluate with
    ``FaceAlignmentMetric(dataset_name='cofw')``, which picks the 68-point defaults)."""
    METAINFO: dict = _mmpose_metainfo('300w.py', Face300WDataset.METAINFO)


@DATASETS.register_module()
class FaceAlignWFLWDataset(_BenchmarkMixin, WFLWDataset):
    """WFLW (98 points). ``tools/dataset_converters/wflw_attributes.py`` writes the six attribute tags
    (``WFLW_ATTRIBUTES``) into ``face_landmarks_wflw_test.json`` as each annotation's ``subset``."""
    METAINFO: dict = _mmpose_metainfo('wflw.py', WFLWDataset.METAINFO)


@DATASETS.register_module()
class FaceAlignCOFWDataset(_BenchmarkMixin, COFWDataset):
    """COFW (29 points) with its occlusion labels: ``v = 1`` (occluded) -> ``keypoints_occluded = 1``."""
    METAINFO: dict = _mmpose_metainfo('cofw.py', COFWDataset.METAINFO)
    occlusion_from_visibility = True


@DATASETS.register_module()
class FaceAlignAFLWDataset(_BenchmarkMixin, AFLWDataset):
    """AFLW (19 points); in ``test_mode`` MMPose puts the annotation's ``box_size`` (the NME normaliser) in each
    sample: add ``'box_size'`` to ``PackPoseInputs(meta_keys=...)``. Tag ``face_landmarks_aflw_test.json`` and
    ``..._test_frontal.json`` with ``subset_tag='full'`` / ``'frontal'`` to report both."""
    METAINFO: dict = _mmpose_metainfo('aflw.py', AFLWDataset.METAINFO)


@DATASETS.register_module()
class FaceAlign300VWDataset(_BenchmarkMixin, Face300VWDataset):
    """300VW (68 points, frame level); tag ``annotations/test_{1,2,3}.json`` with ``subset_tag='category1'``,
    ``'category2'``, ``'category3'`` to report the three test categories in one run."""
    METAINFO: dict = _mmpose_metainfo('300vw.py', Face300VWDataset.METAINFO)
