# Copyright (c) mmfacealign contributors. All rights reserved.
"""300VW facts: the official test categories and the frames to leave out.

300VW (Shen et al., "The First Facial Landmark Tracking in-the-Wild Challenge: Benchmark and Results", ICCV
Workshops 2015) has 114 videos; 64 of them form the test set in three categories of rising difficulty:

* category 1 (31 videos): laboratory and naturalistic well-lit conditions;
* category 2 (19 videos): real-world human-computer-interaction conditions (illumination changes);
* category 3 (14 videos): arbitrary conditions (occlusion, expression, illumination, motion).

The video ids below are those of the benchmark, as MMPose's ``tools/dataset_converters/300vw2coco.py`` lists
them (``videos_test_1/2/3``); the other 50 videos are the training set.

Excluded frames: MMPose's converter skips the frames listed in ``tests/data/300vw/broken_frames.npy`` of the
MMPose repository (a pickled ``{video id: [frame numbers]}`` dict), so a json written by it has none of them.
That list could not be retrieved here, so it is not shipped: pass the file to
``FaceVideoClipDataset(exclude_frames=...)`` (download it from the MMPose repository, path above) when the frame
json was made by another converter, or any list of your own. :func:`load_excluded_frames` reads

* ``.json``: ``{"video": [frame, ...], ...}`` or ``[[video, frame], ...]``;
* ``.txt``: one ``video frame`` pair per line (blank and ``#`` lines skipped, comma or white space between);
* ``.npy``: an ``(N, 2)`` integer array of ``(video, frame)``, or a pickled dict as MMPose's file. A pickled
  file can run code when loaded: it is only unpickled when it is not a plain array, so pass only files you trust.

Video ids are compared after :func:`normalise_video_id` (``'007'``, ``7`` and ``'0007'`` are the same video) and
frames by their number in the file name (300VW: ``NNN/imgs/000001.png`` is frame 1, the number of its
``annot/000001.pts``).
"""
import json
import os.path as osp
from typing import Dict, Optional, Set, Union

import numpy as np

#: 300VW test videos per category (1, 2, 3); ids as the benchmark writes them.
VW300_TEST_CATEGORIES: Dict[int, tuple] = {
    1: ('114', '124', '125', '126', '150', '158', '401', '402', '505', '506', '507', '508', '509', '510', '511',
        '514', '515', '518', '519', '520', '521', '522', '524', '525', '537', '538', '540', '541', '546', '547',
        '548'),
    2: ('203', '208', '211', '212', '213', '214', '218', '224', '403', '404', '405', '406', '407', '408', '409',
        '412', '550', '551', '553'),
    3: ('410', '411', '516', '517', '526', '528', '529', '530', '531', '533', '557', '558', '559', '562'),
}


def normalise_video_id(video: Union[str, int]) -> str:
    """A video id as compared across files: an all-digit id without leading zeros (``'007'`` -> ``'7'``), any
    other id unchanged."""
    text = str(video).strip()
    return str(int(text)) if text.isdigit() else text


_CATEGORY_OF = {normalise_video_id(v): k for k, videos in VW300_TEST_CATEGORIES.items() for v in videos}


def vw300_category(video: Union[str, int]) -> Optional[int]:
    """The 300VW test category (1, 2 or 3) of a video id, or None (a training video or not a 300VW id)."""
    return _CATEGORY_OF.get(normalise_video_id(video))


def _bad(path: str, what: str) -> ValueError:
    return ValueError(f'exclude_frames file {path!r}: {what}; expected .json ({{"video": [frames]}} or '
                      f'[[video, frame], ...]), .txt (one "video frame" pair per line) or .npy ((N, 2) ints or '
                      f'a pickled {{video: [frames]}} dict)')


def _from_mapping(mapping: dict, path: str) -> Dict[str, Set[int]]:
    out: Dict[str, Set[int]] = {}
    for video, frames in mapping.items():
        try:
            out.setdefault(normalise_video_id(video), set()).update(int(f) for f in np.ravel(frames))
        except (TypeError, ValueError) as e:
            raise _bad(path, f'frames of video {video!r} are not integers ({e})') from e
    return out


def _from_pairs(pairs, path: str) -> Dict[str, Set[int]]:
    out: Dict[str, Set[int]] = {}
    for i, pair in enumerate(pairs):
        if len(pair) != 2:
            raise _bad(path, f'entry {i} is {pair!r}, not a (video, frame) pair')
        try:
            frame = int(pair[1])
        except (TypeError, ValueError) as e:
            raise _bad(path, f'entry {i}: frame {pair[1]!r} is not an integer') from e
        out.setdefault(normalise_video_id(pair[0]), set()).add(frame)
    return out


def load_excluded_frames(path: str) -> Dict[str, Set[int]]:
    """Read an excluded-frames file (formats in the module docstring) into ``{normalised video id: {frames}}``.

    Raises:
        FileNotFoundError: no such file. ValueError: an unknown extension or content, naming the file.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'exclude_frames file {path!r} does not exist')
    ext = osp.splitext(path)[1].lower()
    if ext == '.json':
        try:
            with open(path, encoding='utf-8') as f:
                data = json.load(f)
        except json.JSONDecodeError as e:
            raise _bad(path, f'not valid json ({e})') from e
        if isinstance(data, dict):
            return _from_mapping(data, path)
        if isinstance(data, list):
            return _from_pairs(data, path)
        raise _bad(path, f'top level is a {type(data).__name__}')
    if ext == '.txt':
        with open(path, encoding='utf-8') as f:
            rows = [line.replace(',', ' ').split() for line in f]
        return _from_pairs([r for r in rows if r and not r[0].startswith('#')], path)
    if ext == '.npy':
        try:
            arr = np.load(path, allow_pickle=False)
        except ValueError:      # an object array: MMPose's pickled {video: [frames]} dict
            arr = np.load(path, allow_pickle=True)
        if arr.dtype == object and arr.shape == ():
            item = arr.item()
            if not isinstance(item, dict):
                raise _bad(path, f'holds a pickled {type(item).__name__}, not a dict')
            return _from_mapping(item, path)
        if arr.ndim != 2 or arr.shape[1] != 2:
            raise _bad(path, f'array of shape {arr.shape}')
        return _from_pairs(arr.tolist(), path)
    raise _bad(path, f'unknown extension {ext!r}')


__all__ = ['VW300_TEST_CATEGORIES', 'normalise_video_id', 'vw300_category', 'load_excluded_frames']
