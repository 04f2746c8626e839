# Copyright (c) mmfacealign contributors. All rights reserved.
"""SynthFace: a procedural 68-point face-landmark dataset with occlusion flags (see ``generator.py``)."""
from .generator import SPLITS, SynthFaceConfig, generate_sample, read_meta, write_synthface
from .occluders import OCCLUDER_KINDS, Occluder, occluder_mask, occlusion_flags, sample_occluder
from .shape_model import PointDistributionModel, load_pdm
from .video import CATEGORIES as VIDEO_CATEGORIES
from .video import SynthFaceVideoConfig, generate_video, write_synthface_video

__all__ = [
    'SPLITS', 'SynthFaceConfig', 'generate_sample', 'read_meta', 'write_synthface', 'OCCLUDER_KINDS',
    'Occluder', 'occluder_mask', 'occlusion_flags', 'sample_occluder', 'PointDistributionModel', 'load_pdm',
    'VIDEO_CATEGORIES', 'SynthFaceVideoConfig', 'generate_video', 'write_synthface_video'
]
