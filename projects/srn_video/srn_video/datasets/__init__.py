# Copyright (c) mmfacealign contributors. All rights reserved.
"""Video data: clips of consecutive frames (``FaceVideoClipDataset``, ``clip_collate``) and the 300VW facts."""
from .clip_dataset import FaceVideoClipDataset, clip_collate, video_and_frame
from .vw300 import VW300_TEST_CATEGORIES, load_excluded_frames, normalise_video_id, vw300_category

__all__ = [
    'FaceVideoClipDataset', 'clip_collate', 'video_and_frame', 'VW300_TEST_CATEGORIES', 'load_excluded_frames',
    'normalise_video_id', 'vw300_category'
]
