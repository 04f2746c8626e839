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

Bad data (the same rule for every dataset built on :class:`FaceLandmarkDatasetMixin`): a problem with the *file*
stops with an error naming it, a problem with *one annotation's values* skips that face with a warning.

* **Error** (``FileNotFoundError`` / ``ValueError`` at construction, naming the file and field): a missing data
  root or annotation file (with the command that generates SynthFace); a file that is not JSON; an empty split
  (no images, no annotations, or no usable face left after skipping); an annotation whose keypoint count does not
  match the dataset's metainfo, or that lacks a field the parser needs (file and annotation id).
* **Skipped, with one warning per reason** (``print_log`` at WARNING, naming the annotation file, the annotation
  ids and their images): NaN / Inf / ``null`` keypoint coordinates (any point, labelled or not: a NaN target
  poisons the loss even at weight 0); a non-finite or zero-size box (``scale <= 0``, ``w <= 0`` or ``h <= 0``,
  also a ``bbox`` that lies wholly outside the image, which MMPose clips to nothing); labelled keypoints more than
  one image size outside the image (corrupt coordinates). Keypoints just outside the image are kept: faces cut by
  the border have them in 300W, WFLW and COFW. A skipped test face is not evaluated, hence the warning.
* **Images** are read by MMPose's ``LoadImage`` when a sample is drawn: a missing or undecodable image raises an
  error naming the image path (inside a ``DataLoader`` worker too: PyTorch re-raises it in the main process with
  the worker's message). Training stops rather than silently training on fewer faces; remove the face from the
  annotation file or restore the image.
"""
import json
import logging
import os.path as osp
from collections import defaultdict
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
from mmengine.logging import print_log
from mmpose.datasets.datasets.face import Face300WDataset
from mmpose.registry import DATASETS

from .samplers import seeded_augmentation

METAINFO_DIR = osp.join(osp.dirname(osp.abspath(__file__)), 'metainfo')
SYNTHFACE_HINT = 'python tools/misc/generate_synthface.py --out-dir data/synthface'

#: Reasons an annotation is skipped (the keys of the warnings), see the module docstring.
SKIP_NON_FINITE_KEYPOINTS = 'keypoints are NaN, Inf or null'
SKIP_BAD_BOX = 'the box has zero size or is not finite'
SKIP_FAR_KEYPOINTS = 'labelled keypoints lie more than one image size outside the image'
#: How many annotation ids a warning lists before "and N more".
MAX_IDS_SHOWN = 20


def _skip_reason(data_info: dict, raw_ann: dict, raw_img: dict) -> Optional[str]:
    """Why a parsed face is unusable (one of the ``SKIP_*`` reasons), or None if it is fine.

    Args:
        data_info (dict): MMPose's parsed instance: ``keypoints`` (1, K, 2), ``keypoints_visible`` (1, K),
            ``bbox`` (1, 4) xyxy.
        raw_ann (dict): the json annotation (its ``v`` flags decide which points are labelled).
        raw_img (dict): the json image entry; ``width`` / ``height`` bound the keypoints when present.
    """
    kpts = np.asarray(data_info['keypoints'], dtype=np.float64).reshape(-1, 2)
    if not np.isfinite(kpts).all():
        return SKIP_NON_FINITE_KEYPOINTS
    box = np.asarray(data_info['bbox'], dtype=np.float64).reshape(-1)
    if not np.isfinite(box).all() or box[2] - box[0] <= 0 or box[3] - box[1] <= 0:
        return SKIP_BAD_BOX
    w, h = raw_img.get('width'), raw_img.get('height')
    if w and h:
        vis = np.asarray(raw_ann['keypoints'], dtype=np.float64).reshape(-1, 3)[:, 2]
        labelled = kpts[vis > 0]
        if labelled.size and ((labelled < [-w, -h]) | (labelled > [2 * w, 2 * h])).any():
            return SKIP_FAR_KEYPOINTS
    return None


class FaceLandmarkDatasetMixin:
    """Path checks, keypoint-count checks and occlusion/subset fields for face datasets.

    Place it before an MMPose face dataset class: ``class X(FaceLandmarkDatasetMixin, Face300WDataset)``.
    ``generate_hint`` is the command printed when data is missing.

    Bad data (the module docstring has the full list): a problem with a file (missing, not JSON, an empty split,
    a keypoint count that does not match the metainfo, a missing field) raises, naming the file and the field; a
    face whose values are unusable (NaN keypoints, a zero-size box, keypoints far outside the image) is skipped
    with a warning naming the file and the annotation id (``self.skipped`` keeps them, by reason); a missing or
    undecodable image raises when it is loaded, naming the image path.

    Args:
        subset_tag (str | list of str, optional): subset tag(s) given to every sample whose annotation has no
            ``subset`` field of its own. Default None.
        *args, **kwargs: the MMPose dataset's arguments.
    """
    generate_hint: Optional[str] = None
    #: skipped annotations of the last load, ``{reason: ["id 3 (image a.png)", ...]}``
    skipped: Dict[str, List[str]]

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
        """MMPose's loading, plus: file checks, empty-split errors and the warnings for skipped faces."""
        if self.data_root and not osp.isdir(self.data_root):
            raise self._missing('data root', self.data_root)
        if not osp.isfile(self.ann_file):
            raise self._missing('annotation file', self.ann_file)
        self.skipped = defaultdict(list)
        try:
            instance_list, image_list = super()._load_annotations()
        except json.JSONDecodeError as e:
            raise ValueError(f'{type(self).__name__}: annotation file {self.ann_file!r} is not valid JSON: {e}') \
                from None
        num_anns = len(self.coco.anns)
        if not image_list or not num_anns:
            raise ValueError(f'{type(self).__name__}: annotation file {self.ann_file!r} is an empty split: '
                             f'{len(image_list)} images and {num_anns} annotations')
        for reason, faces in self.skipped.items():
            shown = ', '.join(faces[:MAX_IDS_SHOWN]) + (
                f' and {len(faces) - MAX_IDS_SHOWN} more' if len(faces) > MAX_IDS_SHOWN else '')
            print_log(f'{type(self).__name__}: {self.ann_file}: skipped {len(faces)} of {num_anns} annotations '
                      f'because {reason}: annotation {shown}', logger='current', level=logging.WARNING)
        self.skipped = dict(self.skipped)
        return instance_list, image_list

    def load_data_list(self) -> List[dict]:
        """MMPose's data list; an error naming the file when no face is left (every annotation skipped above or
        dropped by MMPose's ``_is_valid_instance``: crowd, ``num_keypoints == 0``, all keypoints <= 0)."""
        data_list = super().load_data_list()
        if not data_list and not self.bbox_file:
            num_skipped = sum(len(v) for v in getattr(self, 'skipped', {}).values())
            raise ValueError(f'{type(self).__name__}: annotation file {self.ann_file!r} has no usable face '
                             f'({num_skipped} skipped with a warning, the others dropped by MMPose as crowd, with '
                             'num_keypoints == 0 or with all keypoints <= 0)')
        return data_list

    def parse_data_info(self, raw_data_info: dict) -> Optional[dict]:
        ann = raw_data_info['raw_ann_info']
        img = raw_data_info['raw_img_info']
        where = f'{self.ann_file}: annotation id {ann.get("id")} (image {img.get("file_name")!r})'
        num_kpts = self.metainfo['num_keypoints']
        flat = ann.get('keypoints')
        if not isinstance(flat, (list, tuple)):
            raise ValueError(f'{where}: "keypoints" must be a list of 3 x {num_kpts} numbers, got {flat!r}')
        if len(flat) != 3 * num_kpts:
            raise ValueError(
                f'{where} has {len(flat) / 3:g} keypoints, but {self.metainfo["dataset_name"]} has {num_kpts}')
        try:
            data_info = super().parse_data_info(raw_data_info)
        except KeyError as e:
            raise ValueError(f'{where}: field {e} is missing') from None
        except AssertionError as e:                         # MMPose's own field checks (AFLW's box_size)
            raise ValueError(f'{where}: {e}') from None
        except (TypeError, ValueError) as e:
            raise ValueError(f'{where}: a field has the wrong type or shape: {e}') from None
        if data_info is None:
            return None
        reason = _skip_reason(data_info, ann, img)
        if reason is not None:
            if not hasattr(self, 'skipped'):
                self.skipped = defaultdict(list)
            self.skipped[reason].append(f'id {ann.get("id")} (image {img.get("file_name")})')
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

    def prepare_data(self, idx):
        """The pipeline's output for sample ``idx``; a :class:`~mmfacealign.datasets.samplers.SeededIndex` (from
        ``SeededAugmentSampler``) runs the pipeline with ``np.random`` / ``random`` seeded from its ``aug_seed``
        and restored afterwards, so its augmentation depends on (seed, epoch, index) only."""
        with seeded_augmentation(getattr(idx, 'aug_seed', None)):
            return super().prepare_data(int(idx))


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
