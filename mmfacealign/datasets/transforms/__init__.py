# Copyright (c) mmfacealign contributors. All rights reserved.
from .keypoint_flip import KEYPOINT_ALIGNED_KEYS, RandomFlip, reorder_keypoint_aligned
from .occlusion import RandomRectangleOcclusion

__all__ = ['RandomRectangleOcclusion', 'RandomFlip', 'KEYPOINT_ALIGNED_KEYS', 'reorder_keypoint_aligned']
