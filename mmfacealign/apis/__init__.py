# Copyright (c) mmfacealign contributors. All rights reserved.
from .face_detectors import (
    DEFAULT_DETECTOR,
    DETECTORS,
    DetectorUnavailable,
    available_detectors,
    build_detector,
    detect_faces,
)
from .image_inference import (
    BackendUnavailable,
    CheckpointMismatchError,
    ImageReadError,
    align_faces,
    draw_faces,
    faces_to_json,
    load_aligner,
    read_image,
)
from .inference import inference_config, init_model

__all__ = [
    'inference_config', 'init_model', 'DEFAULT_DETECTOR', 'DETECTORS', 'DetectorUnavailable', 'available_detectors',
    'build_detector', 'detect_faces', 'BackendUnavailable', 'CheckpointMismatchError', 'ImageReadError',
    'align_faces', 'draw_faces', 'faces_to_json', 'load_aligner', 'read_image'
]
