# Copyright (c) mmfacealign contributors. All rights reserved.
from .pose_balanced import PoseBalancedDataset, normalise_shapes, pose_balanced_repeats

__all__ = ['PoseBalancedDataset', 'pose_balanced_repeats', 'normalise_shapes']
