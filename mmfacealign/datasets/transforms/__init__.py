# Copyright (c) mmfacealign contributors. All rights reserved.
from .face_mask import FaceMaskOcclusion, draw_face_mask
from .grayscale import RandomGrayscale
from .keypoint_flip import KEYPOINT_ALIGNED_KEYS, RandomFlip, reorder_keypoint_aligned
from .occlusion import RandomNoisePatchOcclusion, RandomRectangleOcclusion

__all__ = [
    'RandomRectangleOcclusion', 'RandomNoisePatchOcclusion', 'FaceMaskOcclusion', 'draw_face_mask', 'RandomFlip',
    'KEYPOINT_ALIGNED_KEYS', 'reorder_keypoint_aligned', 'RandomGrayscale'
]
