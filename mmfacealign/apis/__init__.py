# Copyright (c) mmfacealign contributors. All rights reserved.
from .face_detectors import (
    DEFAULT_DETECTOR,
    FACE_DETECTORS,
    DetectorUnavailable,
    available_detectors,
    build_detector,
    detect_faces,
    detector_names,
)
from .face_tracker import DEFAULT_RULE, DEFAULT_SMOOTHING, FaceTracker, track_faces
from .image_inference import (
    BackendUnavailable,
    ImageReadError,
    align_faces,
    draw_faces,
    faces_to_json,
    load_aligner,
    read_image,
)
from .inference import (
    EXIT_CHECKPOINT_MISMATCH,
    CheckpointMismatchError,
    inference_config,
    init_model,
    input_size_of,
    load_config,
    load_weights,
)
from .one_euro_filter import OneEuroFilter
from .track_loss_rule import TrackLossRule, shape_residual

__all__ = [
    'inference_config', 'init_model', 'input_size_of', 'load_config', 'load_weights', 'EXIT_CHECKPOINT_MISMATCH',
    'DEFAULT_DETECTOR', 'FACE_DETECTORS', 'detector_names', 'DetectorUnavailable', 'available_detectors',
    'build_detector', 'detect_faces', 'BackendUnavailable', 'CheckpointMismatchError', 'ImageReadError',
    'align_faces', 'draw_faces', 'faces_to_json', 'load_aligner', 'read_image', 'FaceTracker', 'track_faces',
    'DEFAULT_RULE', 'DEFAULT_SMOOTHING', 'OneEuroFilter', 'TrackLossRule', 'shape_residual'
]
