# Copyright (c) mmfacealign contributors. All rights reserved.
"""Video inference with SRN: :class:`SRNTracker` and :func:`track_video` (SRN Eq. 13)."""
from .tracker import SRNTracker, TrackLossRule, box_iou, landmark_box, outside_share, track_video

__all__ = ['SRNTracker', 'TrackLossRule', 'box_iou', 'landmark_box', 'outside_share', 'track_video']
