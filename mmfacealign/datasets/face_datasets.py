# Copyright (c) mmfacealign contributors. All rights reserved.
"""Face-landmark datasets that keep what MMPose's face datasets drop: occlusion flags and subset tags.

MMPose's ``Face300WDataset`` maps visibility ``v`` to ``min(1, v)``, so COFW-style occlusion labels (``v = 1``
occluded, ``v = 2`` visible) are lost, and any extra annotation field is ignored. The datasets here add to each
sample:

* ``keypoints_occluded`` ``(1, K)`` float32: 1 where the landmark is occluded, from the annotation's
  ``occluded`` list when present, else from ``v == 1``.
* ``subset``: the annotation's ``subset`` tag (a string or list of strings), e.g. ``'masked'``; else the dataset's
  ``subset_tag`` constructor argument; ``None`` if neither is given. ``subset_tag`` tags a whole annotation file,
  so that benchmarks split over several files (300W common / challenge, 300VW test_1/2/3, the SynthFace test
  splits) are evaluated per subset in one run with a ``ConcatDataset`` (see ``docs/evaluation.md``).

Add ``'keypoints_occluded'`` and ``'subset'`` to ``PackPoseInputs(meta_keys=...)`` to carry them to the metric
(``configs/_base_/data/synthface_128x128.py`` does).

They also fail early, naming what is wrong: a missing data root or annotation file (with the command that
generates SynthFace), and an annotation whose keypoint count does not match the dataset (file and annotation id).
"""
import os.path as osp
from typing import Optional, Sequence, Union

import numpy as np
from mmpose.datasets.datasets.face import Face300WDataset
from mmpose.registry import DATASETS

METAINFO_DIR = osp.join(osp.dirname(osp.abspath(__file__)), 'metainfo')
SYNTHFACE_HINT = 'python tools/misc/generate_synthface.py --out-dir data/synthface'


class FaceLandmarkDatasetMixin:
    """Path checks, keypoint-count checks and occlusion/subset fields for face datasets.

    Place it before an MMPose face dataset class: ``class X(FaceLandmarkDatasetMixin, Face300WDataset)``.
    ``generate_hint`` is the command printed when data is missing.

    Args:
        subset_tag (str | list of str, optional): subset tag(s) given to every sample whose annotation has no
            ``subset`` field of its own. Default None.
        *args, **kwargs: the MMPose dataset's arguments.
    """
    generate_hint: Optional[str] = None

    def __init__(self, *args, subset_tag: Union[str, Sequence[str], None] = None, **kwargs):
        if subset_tag is not None:
            tags = [subset_tag] if isinstance(subset_tag, str) else subset_tag
            if not isinstance(tags, (list, tuple)) or not tags or not all(isinstance(t, str) and t for t in tags):
                raise TypeError(f'{type(self).__name__}: subset_tag must be a non-empty string or a list of '
                                f'strings, got {subset_tag!r}')
            subset_tag = subset_tag if isinstance(subset_tag, str) else list(subset_tag)
        # set before the parent constructor, which loads the annotations (unless lazy_init)
        self.subset_tag = subset_tag
        super().__init__(*args, **kwargs)

    def _missing(self, what: str, path: str) -> FileNotFoundError:
        hint = f'; generate it with `{self.generate_hint}`' if self.generate_hint else ''
        return FileNotFoundError(f'{type(self).__name__}: {what} {path!r} does not exist{hint}')

    def _load_annotations(self):
        if self.data_root and not osp.isdir(self.data_root):
            raise self._missing('data root', self.data_root)
        if not osp.isfile(self.ann_file):
            raise self._missing('annotation file', self.ann_file)
        return super()._load_annotations()

    def parse_data_info(self, raw_data_info: dict) -> Optional[dict]:
        ann = raw_data_info['raw_ann_info']
        num_kpts = self.metainfo['num_keypoints']
        flat = ann.get('keypoints', [])
        if len(flat) != 3 * num_kpts:
            raise ValueError(
                f'{self.ann_file}: annotation id {ann.get("id")} (image id {ann.get("image_id")}) has '
                f'{len(flat) / 3:g} keypoints, but {self.metainfo["dataset_name"]} has {num_kpts}')
        data_info = super().parse_data_info(raw_data_info)
        if data_info is None:
            return None
        vis = np.asarray(flat, dtype=np.float32).reshape(1, -1, 3)[..., 2]
        occluded = ann.get('occluded')
        if occluded is not None:
            if len(occluded) != num_kpts:
                raise ValueError(f'{self.ann_file}: annotation id {ann.get("id")} has {len(occluded)} '
                                 f'occlusion flags, expected {num_kpts}')
            data_info['keypoints_occluded'] = np.asarray(occluded, dtype=np.float32).reshape(1, -1)
        else:
            data_info['keypoints_occluded'] = (vis == 1).astype(np.float32)
        subset = ann.get('subset')
        data_info['subset'] = self.subset_tag if subset is None else subset
        return data_info


@DATASETS.register_module()
class SynthFaceDataset(FaceLandmarkDatasetMixin, Face300WDataset):
    """SynthFace, the procedural 68-point dataset of ``mmfacealign.datasets.synthface``.

    Annotations follow ``Face300WDataset`` (``center``, ``scale`` x 200, ``keypoints``), with ``v = 1`` for
    occluded points and the extra ``occluded`` and ``subset`` fields. Layout::

        data/synthface/annotations/synthface_{train,test,test_occluded,test_masked}.json
        data/synthface/images/{train,test,test_occluded,test_masked}/*.png

    Example:
        >>> dataset = SynthFaceDataset(data_root='data/synthface/',
        ...     ann_file='annotations/synthface_test.json', data_prefix=dict(img='images/'), test_mode=True)
    """
    METAINFO: dict = dict(from_file=osp.join(METAINFO_DIR, 'synthface.py'))
    generate_hint = SYNTHFACE_HINT
