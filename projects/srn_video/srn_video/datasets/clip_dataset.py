# Copyright (c) mmfacealign contributors. All rights reserved.
"""Clips of consecutive video frames from a frame-level face dataset, and the ``clip_collate`` function.

SRN's video training and tracking (Zhu et al., Pattern Recognition 2022, Sec. 3.2, Eq. 13) run the RNN over
consecutive frames of one video. ``FaceVideoClipDataset`` wraps a frame dataset (``SynthFaceDataset`` on
SynthFace video, ``FaceAlign300VWDataset`` on MMPose's 300VW json) and returns per index a LIST of ``L`` packed
samples, each the usual ``dict(inputs=(3, H, W) uint8 tensor, data_samples=PoseDataSample)``.

Grouping rule: a frame's video is the directory of its image (``dirname(img_path)``; a last component ``imgs``
is skipped, so MMPose's 300VW ``NNN/imgs/000123.png`` is video ``NNN``) and its frame index is the file stem as
an integer (``000123`` -> 123). SynthFace video (``{split}/{video:04d}/{frame:06d}.png``) follows the same rule.

Sampling: a video's frames are sorted by index, the excluded ones dropped, and the rest cut into runs of
consecutive indices (a frame missing from the json or excluded is a gap: no clip spans it). In every run of
``n`` frames, clips of ``clip_len`` frames start at ``0, stride, 2 stride, ...`` while they fit. A run (or a
whole video) shorter than ``clip_len`` gives no clip; so does the tail of a run that no clip reaches, unless
``tail='overlap'`` adds one more clip ending on the run's last frame (its first frames then appear twice).
``num_unsampled_frames`` counts the frames no clip covers. For tracking evaluation use ``stride = clip_len``
(non-overlapping clips, each sampled frame scored once).

Augmentation: the pipeline's random draws (``RandomFlip``, ``RandomBBoxTransform`` and MMPose's other
transforms draw from numpy's global generator, ``truncnorm`` included; Python's ``random`` and torch's generator
are handled too) are the same for all frames of a clip: the generator states are saved once per clip and
restored before each frame, so every frame gets the same flip, box jitter and rotation. They advance as usual
after the clip, so the next clip draws anew.

Meta: every frame's data sample gets ``video_id`` (str: the video directory's name), ``frame_id`` (int),
``clip_index`` (int: the dataset index of its clip) and ``frame_in_clip`` (int, 0 .. L-1) by ``set_metainfo``
after the pipeline, so they need not be in ``PackPoseInputs(meta_keys=...)``; the usual gt and meta keys stay
as the pipeline packs them, so ``FaceAlignmentMetric`` scores every frame.

Categories: a video's category is ``k`` when a frame's ``subset`` holds the tag ``'category{k}'`` (SynthFace
video annotations; 300VW files tagged by ``subset_tag``), else, on 300VW (the inner dataset's ``dataset_name`` is
``'300vw'``, or ``categories_from='300vw'``), the official category of its video id (``vw300.py``); on 300VW
the tag ``'category{k}'`` is then added to each frame's ``subset`` (so the metric reports per category; add
``'subset'`` to ``PackPoseInputs(meta_keys=...)``). ``categories=[1, 3]`` keeps only videos of those categories.

Example (SynthFace video, 8-frame clips every 4 frames, batch of 2 clips = 16 frames)::

    train_dataloader = dict(
        batch_size=2, collate_fn=dict(type='clip_collate'),
        dataset=dict(type='FaceVideoClipDataset', clip_len=8, stride=4,
                     dataset=dict(type='SynthFaceDataset', data_root='data/synthface_video/',
                                  ann_file='annotations/synthface_video_train.json',
                                  data_prefix=dict(img='images/'), pipeline=train_pipeline)))
"""
import copy
import logging
import os.path as osp
import random
import re
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmengine.dataset import BaseDataset, ConcatDataset, pseudo_collate
from mmengine.logging import print_log
from mmengine.registry import FUNCTIONS
from mmpose.registry import DATASETS

from .vw300 import load_excluded_frames, normalise_video_id, vw300_category

_CATEGORY_TAG = re.compile(r'^category(\d+)$')
CATEGORY_SOURCES = ('auto', 'subset', '300vw')
TAIL_MODES = ('drop', 'overlap')


def video_and_frame(img_path: str) -> Tuple[str, str, int]:
    """``(video key, video id, frame index)`` of a frame image path by the grouping rule (module docstring).

    The key is the full video directory (unique across splits), the id its name. Raises ValueError when the
    file stem is not an integer.
    """
    folder = osp.dirname(osp.normpath(img_path))
    if osp.basename(folder) == 'imgs':
        folder = osp.dirname(folder)
    stem = osp.splitext(osp.basename(img_path))[0]
    if not stem.isdigit():
        raise ValueError(f'frame image {img_path!r}: the file name must be the frame index (e.g. 000123.png)')
    return folder, osp.basename(folder), int(stem)


def _tags(subset) -> List[str]:
    if subset is None:
        return []
    if isinstance(subset, str):
        return [subset]
    return [str(s) for s in subset]


def _category_of_tags(tags: Sequence[str]) -> Optional[int]:
    for tag in tags:
        m = _CATEGORY_TAG.match(tag)
        if m:
            return int(m.group(1))
    return None


def _set_test_mode(cfg: dict, test_mode: bool) -> None:
    """Set ``test_mode`` on the frame datasets of a dataset config, in place. A wrapper (mmengine's
    ``ConcatDataset``, ``RepeatDataset``, ...) takes no ``test_mode`` argument: its inner datasets get it."""
    if 'datasets' in cfg:
        for inner in cfg['datasets']:
            _set_test_mode(inner, test_mode)
    elif 'dataset' in cfg and isinstance(cfg['dataset'], dict):
        _set_test_mode(cfg['dataset'], test_mode)
    else:
        cfg['test_mode'] = test_mode


@DATASETS.register_module()
class FaceVideoClipDataset:
    """Clips of ``clip_len`` consecutive frames of one video (see the module docstring for every rule).

    Args:
        dataset (dict | BaseDataset): the frame dataset (config or instance), e.g. ``SynthFaceDataset`` or
            ``FaceAlign300VWDataset``; mmengine's ``ConcatDataset`` of such datasets works too.
        clip_len (int): frames per clip ``L`` (>= 1).
        stride (int): frames between the starts of neighbouring clips of a run (>= 1). Default 1; use
            ``clip_len`` for non-overlapping clips (evaluation).
        categories (sequence of int, optional): keep only videos of these categories (1, 2, 3). Default None
            (all videos, with or without a category).
        exclude_frames (str, optional): a file of ``(video, frame)`` pairs to drop (formats in ``vw300.py``,
            e.g. MMPose's 300VW ``broken_frames.npy``). Default None.
        test_mode (bool, optional): set on the inner dataset config when given; in test mode a frame whose
            pipeline gives None is an error, otherwise another clip is drawn (up to ``max_refetch`` times), as
            mmengine's ``BaseDataset`` does. Default None (the inner dataset's).
        categories_from (str): ``'auto'`` | ``'subset'`` | ``'300vw'``: where a video's category comes from
            (module docstring). Default ``'auto'``.
        tail (str): ``'drop'`` | ``'overlap'``: what happens to a run's frames after its last full clip.
            Default ``'drop'``.
        lazy_init (bool): build the clip index at the first use instead of now, as mmengine's wrappers.
        max_refetch (int): clips to try when a pipeline gives None in training. Default 1000.
    """

    def __init__(self,
                 dataset: Union[dict, BaseDataset],
                 clip_len: int,
                 stride: int = 1,
                 categories: Optional[Sequence[int]] = None,
                 exclude_frames: Optional[str] = None,
                 test_mode: Optional[bool] = None,
                 categories_from: str = 'auto',
                 tail: str = 'drop',
                 lazy_init: bool = False,
                 max_refetch: int = 1000):
        if not isinstance(clip_len, int) or clip_len < 1:
            raise ValueError(f'FaceVideoClipDataset: clip_len must be an integer >= 1, got {clip_len!r}')
        if not isinstance(stride, int) or stride < 1:
            raise ValueError(f'FaceVideoClipDataset: stride must be an integer >= 1, got {stride!r}')
        if categories_from not in CATEGORY_SOURCES:
            raise ValueError(f'FaceVideoClipDataset: categories_from must be one of {CATEGORY_SOURCES}, '
                             f'got {categories_from!r}')
        if tail not in TAIL_MODES:
            raise ValueError(f'FaceVideoClipDataset: tail must be one of {TAIL_MODES}, got {tail!r}')
        if categories is not None:
            categories = [categories] if isinstance(categories, int) else list(categories)
            if not categories or not all(isinstance(c, int) and c >= 1 for c in categories):
                raise ValueError(f'FaceVideoClipDataset: categories must be None or category numbers like '
                                 f'[1, 2, 3], got {categories!r}')
        if isinstance(dataset, dict):
            dataset = copy.deepcopy(dataset)
            if test_mode is not None:
                _set_test_mode(dataset, test_mode)
            dataset = DATASETS.build(dataset)
        elif not isinstance(dataset, (BaseDataset, ConcatDataset)):
            raise TypeError(f'FaceVideoClipDataset: dataset must be a config dict or a dataset, got '
                            f'{type(dataset).__name__}')
        self.dataset = dataset
        self.clip_len, self.stride, self.tail = clip_len, stride, tail
        self.categories = categories
        self.categories_from = categories_from
        self.exclude_frames = exclude_frames
        self.max_refetch = max_refetch
        self._test_mode = test_mode
        self._metainfo = dataset.metainfo
        self.clips: List[dict] = []
        self.num_unsampled_frames = 0
        self._fully_initialized = False
        if not lazy_init:
            self.full_init()

    # ------------------------------------------------------------------------------------------------ meta
    @property
    def metainfo(self) -> dict:
        """The inner dataset's metainfo (a copy)."""
        return copy.deepcopy(self._metainfo)

    @property
    def test_mode(self) -> bool:
        if self._test_mode is not None:
            return self._test_mode
        inner = self.dataset.datasets[0] if isinstance(self.dataset, ConcatDataset) else self.dataset
        return bool(getattr(inner, 'test_mode', False))

    def _source_name(self) -> str:
        """The annotation file(s) of the inner dataset, for error messages."""
        parts = self.dataset.datasets if isinstance(self.dataset, ConcatDataset) else [self.dataset]
        return ', '.join(str(getattr(d, 'ann_file', type(d).__name__)) for d in parts)

    # ------------------------------------------------------------------------------------------------ index
    def full_init(self) -> None:
        """Initialise the inner dataset and build the clip index (once)."""
        if self._fully_initialized:
            return
        self.dataset.full_init()
        excluded = load_excluded_frames(self.exclude_frames) if self.exclude_frames else {}
        use_table = self.categories_from == '300vw' or (
            self.categories_from == 'auto' and self._metainfo.get('dataset_name') == '300vw')

        videos: 'OrderedDict[str, dict]' = OrderedDict()
        for i in range(len(self.dataset)):
            info = self.dataset.get_data_info(i)
            try:
                key, vid, frame = video_and_frame(info['img_path'])
            except ValueError as e:
                raise ValueError(f'FaceVideoClipDataset ({self._source_name()}): {e}') from e
            v = videos.setdefault(key, dict(video_id=vid, frames={}, category=None))
            if frame in v['frames']:
                raise ValueError(f'FaceVideoClipDataset ({self._source_name()}): frame {frame} of video {key!r} '
                                 f'appears twice (one face per frame is expected)')
            v['frames'][frame] = i
            if v['category'] is None and self.categories_from != '300vw':
                v['category'] = _category_of_tags(_tags(info.get('subset')))

        self.clips, self.num_unsampled_frames = [], 0
        self.video_categories: Dict[str, Optional[int]] = {}
        self._tag_videos = set()
        for key, v in videos.items():
            category = v['category']
            if category is None and use_table:
                category = vw300_category(v['video_id'])
                if category is not None:
                    self._tag_videos.add(key)
            self.video_categories[v['video_id']] = category
            if self.categories is not None and category not in self.categories:
                continue
            drop = excluded.get(normalise_video_id(v['video_id']), set())
            frames = sorted(f for f in v['frames'] if f not in drop)
            for run in _runs(frames):
                starts = list(range(0, len(run) - self.clip_len + 1, self.stride))
                if self.tail == 'overlap' and len(run) >= self.clip_len and starts[-1] + self.clip_len < len(run):
                    starts.append(len(run) - self.clip_len)
                covered = set()
                for s in starts:
                    ids = run[s:s + self.clip_len]
                    covered.update(ids)
                    self.clips.append(dict(video_key=key, video_id=v['video_id'], frame_ids=ids,
                                           indices=[v['frames'][f] for f in ids], category=category))
                self.num_unsampled_frames += len(run) - len(covered)
        if not self.clips:
            which = '' if self.categories is None else f' of categories {self.categories}'
            raise ValueError(f'FaceVideoClipDataset: no clip of {self.clip_len} consecutive frames in the videos'
                             f'{which} of {self._source_name()} ({len(videos)} videos'
                             f'{", after exclude_frames " + repr(self.exclude_frames) if self.exclude_frames else ""})')
        if self.num_unsampled_frames:
            print_log(f'FaceVideoClipDataset: {self.num_unsampled_frames} frames of {self._source_name()} are in no '
                      f'clip (runs or tails shorter than clip_len={self.clip_len})', logger='current',
                      level=logging.INFO)
        self._fully_initialized = True

    def _ensure_init(self) -> None:
        if not self._fully_initialized:
            print_log('Please call `full_init()` method manually to accelerate the speed.', logger='current',
                      level=logging.WARNING)
            self.full_init()

    def __len__(self) -> int:
        self._ensure_init()
        return len(self.clips)

    def get_clip_info(self, idx: int) -> dict:
        """``video_key``, ``video_id``, ``frame_ids``, ``indices`` (into the inner dataset), ``category``."""
        self._ensure_init()
        return copy.deepcopy(self.clips[idx])

    # ------------------------------------------------------------------------------------------------ data
    def _frame_source(self, idx: int) -> Tuple[BaseDataset, int]:
        if isinstance(self.dataset, ConcatDataset):
            ds_idx, local = self.dataset._get_ori_dataset_idx(idx)
            return self.dataset.datasets[ds_idx], local
        return self.dataset, idx

    def prepare_clip(self, idx: int) -> Optional[List[dict]]:
        """The packed frames of clip ``idx`` with the same random augmentation, or None if a pipeline gave None."""
        clip = self.clips[idx]
        states = (np.random.get_state(), random.getstate(), torch.get_rng_state())
        out = []
        for j, (inner_idx, frame) in enumerate(zip(clip['indices'], clip['frame_ids'])):
            np.random.set_state(states[0])
            random.setstate(states[1])
            torch.set_rng_state(states[2])
            ds, local = self._frame_source(inner_idx)
            info = ds.get_data_info(local)
            info['dataset'] = ds      # as MMPose's BaseCocoStyleDataset.prepare_data
            if clip['video_key'] in self._tag_videos:
                tags = _tags(info.get('subset'))
                if _category_of_tags(tags) is None:
                    info['subset'] = tags + [f'category{clip["category"]}']
            result = ds.pipeline(info)
            if result is None:
                return None
            result['data_samples'].set_metainfo(dict(
                video_id=clip['video_id'], frame_id=int(frame), clip_index=int(idx), frame_in_clip=j))
            out.append(result)
        return out

    def __getitem__(self, idx: int) -> List[dict]:
        self._ensure_init()
        if self.test_mode:
            clip = self.prepare_clip(idx)
            if clip is None:
                raise RuntimeError(f'FaceVideoClipDataset: the test pipeline gave None for a frame of clip {idx} '
                                   f'({self.clips[idx]["video_id"]}, frames {self.clips[idx]["frame_ids"]})')
            return clip
        for _ in range(self.max_refetch + 1):
            clip = self.prepare_clip(idx)
            if clip is not None:
                return clip
            idx = int(np.random.randint(0, len(self.clips)))
        raise RuntimeError(f'FaceVideoClipDataset: no valid clip after {self.max_refetch} refetches; check the '
                           f'pipeline of {self._source_name()}')


def _runs(frames: Sequence[int]) -> List[List[int]]:
    """Split sorted frame indices into runs of consecutive indices."""
    runs: List[List[int]] = []
    for f in frames:
        if runs and f == runs[-1][-1] + 1:
            runs[-1].append(f)
        else:
            runs.append([f])
    return runs


@FUNCTIONS.register_module()
def clip_collate(data_batch: Sequence[List[dict]]):
    """Flatten ``B`` clips of ``L`` frames into ``B * L`` frames, clip-major (clip 0's frames first, in order),
    then apply mmengine's ``pseudo_collate``: ``inputs`` and ``data_samples`` are lists of ``B * L``."""
    frames = []
    for i, clip in enumerate(data_batch):
        if not isinstance(clip, (list, tuple)):
            raise TypeError(f'clip_collate: batch item {i} is a {type(clip).__name__}, not a clip (list of frames); '
                            f'use it with FaceVideoClipDataset')
        frames.extend(clip)
    return pseudo_collate(frames)


__all__ = ['FaceVideoClipDataset', 'clip_collate', 'video_and_frame']
