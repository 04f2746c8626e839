# Copyright (c) mmfacealign contributors. All rights reserved.
from .ced import auc_ced, auc_trapezoid, ced_curve, ced_values, failure_rate
from .face_nme import (
    normalized_landmark_errors,
    per_face_nme,
    per_face_nme_torch,
    per_image_nme,
    per_landmark_nme,
    pooled_nme,
)
from .mean_shape import mean_shape_nme
from .normalizers import (
    DATASET_NORMALIZERS,
    NORM_MODES,
    bbox_normalizer,
    compute_normalizers,
    get_norm_spec,
    inter_ocular_distance,
    inter_pupil_distance,
    resolve_norm,
)
from .occlusion_prediction import average_precision, precision_recall_at, precision_recall_curve, recall_at_precision

__all__ = [
    'auc_ced', 'auc_trapezoid', 'ced_curve', 'ced_values', 'failure_rate', 'normalized_landmark_errors',
    'per_face_nme', 'per_face_nme_torch',
    'per_image_nme', 'per_landmark_nme', 'mean_shape_nme', 'pooled_nme', 'DATASET_NORMALIZERS', 'NORM_MODES',
    'bbox_normalizer', 'compute_normalizers', 'get_norm_spec', 'inter_ocular_distance', 'inter_pupil_distance',
    'resolve_norm', 'average_precision', 'precision_recall_at', 'precision_recall_curve', 'recall_at_precision'
]
