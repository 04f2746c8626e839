# Copyright (c) mmfacealign contributors. All rights reserved.
"""Face boxes: one convention, ``x1, y1, x2, y2`` in pixels (float64), as MMPose's ``bbox`` keys; converters that
write COCO's ``x, y, w, h`` use ``mmpose.structures.bbox.bbox_xyxy2xywh`` on these.

``landmark_box`` is the tight box of a face's landmarks, what SynthFace stores as a face's box and what MMPose's
``GetBBoxCenterScale`` pads by 1.25 in training; the demo, ``align_faces``, the tracker and the real-photo check all
mean this box by the name.
"""
import numpy as np


def landmark_box(keypoints, margin: float = 0.0) -> np.ndarray:
    """The box (4,) xyxy of the landmarks' extent ``(K, 2)`` (non-finite points ignored), enlarged on each side
    by ``margin`` times its size. Raises ``ValueError`` when no landmark is finite."""
    k = np.asarray(keypoints, np.float64).reshape(-1, 2)
    k = k[np.isfinite(k).all(1)]
    if len(k) == 0:
        raise ValueError('landmark_box: no finite landmark')
    lo, hi = k.min(0), k.max(0)
    size = hi - lo
    return np.concatenate([lo - margin * size, hi + margin * size])


def box_area(boxes) -> np.ndarray:
    """Areas (N,) of xyxy boxes (N, 4) (a single box (4,) gives (1,)); empty boxes have area 0."""
    b = np.asarray(boxes, np.float64).reshape(-1, 4)
    return np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None)


def box_iou(a, b) -> np.ndarray:
    """IoU matrix (N, M) of xyxy boxes (N, 4) x (M, 4) (single boxes (4,) count as N = 1); 0 where both are
    empty."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(-1)
    union = box_area(a)[:, None] + box_area(b)[None] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)
