# Copyright (c) mmfacealign contributors. All rights reserved.
"""When a tracked face counts as lost: :class:`TrackLossRule`, shared by :class:`~mmfacealign.apis.FaceTracker`
and the SRN video tracker (``projects/srn_video``).

Let ``B_t`` be the tight landmark box of frame ``t``'s prediction and ``B_{t-1}`` the box the frame was cropped
from. The prediction is **lost** when any of these holds (``None`` switches a test off):

* a predicted coordinate is not finite;
* ``B_t``'s shorter side is below ``min_size`` pixels;
* more than ``max_outside`` of ``B_t``'s area lies outside the image;
* (tracked frames) ``sqrt(area(B_t) / area(B_{t-1}))`` exceeds ``max_scale_change`` or is below its inverse;
* (tracked frames) ``IoU(B_t, B_{t-1}) < min_iou``;
* **shape plausibility**: :func:`shape_residual` (the RMS distance of the prediction, similarity-aligned onto a
  reference face, in units of the reference's inter-ocular distance) exceeds ``max_shape_residual``; the
  reference is mmfacealign's frontal 68-point template (other layouts: the test is skipped unless a reference
  is given);
* **confidence**: the mean keypoint score is below ``min_score`` (heatmap and SimCC heads; regression heads give
  every score 1, so the test never fires for them);
* **face presence** (models with an occlusion output, ``OcclusionPredictHead``): the mean of the landmarks'
  occlusion probabilities exceeds ``max_occluded``. A crop that has slid off the face reads as "every landmark
  hidden", so this catches the slow drift that the geometric tests cannot see (each frame moves little).

The shape test catches predictions that are not face-shaped (a diverged cascade); it does not catch drift: a
regression model predicts a face-like shape on any crop, background included.
"""
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

from mmfacealign.utils.boxes import box_area, box_iou, landmark_box

_TEMPLATES = {}


def reference_shape(num_keypoints: int) -> Optional[np.ndarray]:
    """The frontal reference face ``(K, 2)`` of a layout: SynthFace's 68-point template for K = 68, else None."""
    if num_keypoints not in _TEMPLATES:
        shape = None
        if num_keypoints == 68:
            from mmfacealign.datasets.synthface.mean_shape import template_shape
            shape = np.asarray(template_shape(), np.float64)
        _TEMPLATES[num_keypoints] = shape
    return _TEMPLATES[num_keypoints]


def shape_residual(keypoints: np.ndarray, reference: np.ndarray) -> float:
    """RMS distance between ``reference`` (K, 2) and ``keypoints`` (K, 2) mapped onto it by the least-squares
    similarity transform (Umeyama), over the reference's inter-ocular distance (outer eye corners). 0 for any
    rotated, scaled, shifted copy of the reference; grows with how far the shape is from a face."""
    from mmfacealign.datasets.synthface.shape_model import similarity_align
    from mmfacealign.models.utils.landmark_groups import outer_eye_corners
    k = np.asarray(keypoints, np.float64).reshape(-1, 2)
    ref = np.asarray(reference, np.float64).reshape(-1, 2)
    if k.shape != ref.shape:
        raise ValueError(f'shape_residual: {len(k)} landmarks against a reference of {len(ref)}')
    i, j = outer_eye_corners(len(ref))
    iod = float(np.linalg.norm(ref[i] - ref[j]))
    aligned = similarity_align(k, ref)
    return float(np.sqrt(((aligned - ref) ** 2).sum(1).mean()) / iod)


def outside_share(box: np.ndarray, image_shape: Sequence[int]) -> float:
    """The share of ``box``'s area outside the image ``(h, w, ...)`` (1 for an empty box)."""
    area = float(box_area(box)[0])
    if area <= 0:
        return 1.0
    h, w = image_shape[:2]
    inside = np.array([max(box[0], 0), max(box[1], 0), min(box[2], w), min(box[3], h)])
    return 1.0 - float(box_area(inside)[0]) / area


@dataclass
class TrackLossRule:
    """When a tracked prediction counts as lost (see the module docstring). ``None`` switches a test off.

    Args:
        max_outside (float, optional): most share of the landmark box's area that may lie outside the image.
            Default 0.5.
        max_scale_change (float, optional): most factor by which the landmark box's size (sqrt of its area) may
            change from the box the frame was cropped from, either way. Default 1.5.
        min_iou (float, optional): least IoU of the landmark box with the box the frame was cropped from.
            Default 0.3.
        min_size (float): least shorter side of the landmark box, in pixels. Default 2.
        max_shape_residual (float, optional): most :func:`shape_residual` against the reference face. Default
            None (off); :class:`~mmfacealign.apis.FaceTracker` sets it (its docstring gives the value and how it
            was chosen).
        min_score (float, optional): least mean keypoint score. Default None (off).
        max_occluded (float, optional): most mean occlusion probability of the landmarks. Default None (off).
    """
    max_outside: Optional[float] = 0.5
    max_scale_change: Optional[float] = 1.5
    min_iou: Optional[float] = 0.3
    min_size: float = 2.0
    max_shape_residual: Optional[float] = None
    min_score: Optional[float] = None
    max_occluded: Optional[float] = None

    def __post_init__(self):
        if self.max_scale_change is not None and self.max_scale_change < 1:
            raise ValueError(f'TrackLossRule: max_scale_change must be >= 1, got {self.max_scale_change}')

    def check(self, keypoints: np.ndarray, image_shape: Sequence[int], prev_box: Optional[np.ndarray] = None,
              scores: Optional[np.ndarray] = None, reference: Optional[np.ndarray] = None,
              occluded: Optional[np.ndarray] = None) -> Optional[str]:
        """Why the prediction ``keypoints`` (N, 2) is lost, or None. ``prev_box`` (the box the frame was cropped
        from) enables the scale and IoU tests; it is None for a new track. ``scores`` (N,) the keypoint scores,
        ``reference`` (N, 2) the reference face of the plausibility test (default :func:`reference_shape`),
        ``occluded`` (N,) the landmarks' occlusion probabilities (a model with an occlusion output)."""
        if not np.isfinite(keypoints).all():
            return 'non-finite prediction'
        box = landmark_box(keypoints)
        if min(box[2] - box[0], box[3] - box[1]) < self.min_size:
            return f'landmark box smaller than {self.min_size} px'
        share = outside_share(box, image_shape)
        if self.max_outside is not None and share > self.max_outside:
            return f'{share:.0%} of the landmark box outside the image (max {self.max_outside:.0%})'
        if self.min_score is not None and scores is not None and len(scores):
            score = float(np.mean(scores))
            if score < self.min_score:
                return f'mean keypoint score {score:.2f} (min {self.min_score})'
        if self.max_occluded is not None and occluded is not None and len(occluded):
            share = float(np.mean(occluded))
            if share > self.max_occluded:
                return f'mean occlusion probability {share:.2f} (max {self.max_occluded}): no face in the crop?'
        if self.max_shape_residual is not None:
            ref = reference if reference is not None else reference_shape(len(keypoints))
            if ref is not None:
                residual = shape_residual(keypoints, ref)
                if residual > self.max_shape_residual:
                    return f'implausible shape: residual {residual:.3f} (max {self.max_shape_residual})'
        if prev_box is None:
            return None
        if self.max_scale_change is not None:
            prev_area = float(box_area(prev_box)[0])
            change = np.sqrt(float(box_area(box)[0]) / prev_area) if prev_area > 0 else np.inf
            if not 1 / self.max_scale_change <= change <= self.max_scale_change:
                return f'box size changed by x{change:.2f} (limit x{self.max_scale_change})'
        if self.min_iou is not None:
            iou = float(box_iou(box, prev_box)[0, 0])
            if iou < self.min_iou:
                return f'IoU {iou:.2f} with the previous box (min {self.min_iou})'
        return None


__all__ = ['TrackLossRule', 'outside_share', 'reference_shape', 'shape_residual']
