# Copyright (c) mmfacealign contributors. All rights reserved.
"""Face boxes in the convention our models are trained with: the box around the face's landmarks.

Training crops come from the landmark box: SynthFace (and MMPose's 300W/WFLW/COFW annotations) store the box of
the landmarks' extent, and ``GetBBoxCenterScale`` pads it by 1.25 before ``TopdownAffine`` makes it square. A
face detector's box is another box: MTCNN's, for instance, starts near the brows and is narrower than the jaw.
Handing it to the model unchanged shows the face at a scale and position it never saw in training. So every
detector box is first mapped to the landmark box it predicts (:func:`to_landmark_box`), by a calibration
measured per detector (:data:`CALIBRATIONS`): the mean centre offset and size ratio between the detector's box
and the landmark box of the same face. The spread left after that mapping is what the training pipeline's
``RandomBBoxTransform`` covers (``configs/_base_/data/synthface3d_128x128.py``).

``python tools/analysis_tools/real_photo_check.py --box-stats`` measures the calibration on the real photos that
registry packages ship (landmarks from the dlib peer); ``tools/benchmarks/box_calibration.py`` measures it on
SynthFace renders and writes both to ``docs/box_calibration.json``.

Boxes are ``(N, 4)`` float32 ``x1, y1, x2, y2`` pixels.
"""
from dataclasses import asdict, dataclass
from typing import Dict, Union

import numpy as np

from ..utils.boxes import landmark_box  # noqa: F401  (the box the calibration maps to)


@dataclass(frozen=True)
class BoxCalibration:
    """Landmark box from a detector box ``(x1, y1, x2, y2)`` of width ``w`` and height ``h``.

    The landmark box's centre is the detector box's centre plus ``(dx * w, dy * h)``; its width and height are
    ``sw * w`` and ``sh * h``.
    """
    dx: float = 0.0
    dy: float = 0.0
    sw: float = 1.0
    sh: float = 1.0
    source: str = 'identity'

    def apply(self, boxes) -> np.ndarray:
        b = np.asarray(boxes, np.float32).reshape(-1, 4)
        w, h = b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]
        cx = (b[:, 0] + b[:, 2]) / 2 + self.dx * w
        cy = (b[:, 1] + b[:, 3]) / 2 + self.dy * h
        hw, hh = self.sw * w / 2, self.sh * h / 2
        return np.stack([cx - hw, cy - hh, cx + hw, cy + hh], 1).astype(np.float32)

    def to_dict(self) -> dict:
        return asdict(self)


IDENTITY = BoxCalibration()

# Measured by tools/analysis_tools/real_photo_check.py --box-stats: medians over the real-photo faces that MTCNN
# and the dlib peer both found (docs/box_calibration.json has the figures, their spread, and the same measured on
# SynthFace '3d' renders, which agree). Detectors without a measured calibration keep their boxes as they are.
CALIBRATIONS: Dict[str, BoxCalibration] = {
    'mtcnn': BoxCalibration(dx=0.013, dy=0.131, sw=1.033, sh=0.776,
                            source='median over 25 real-photo faces, dlib 68-point extents (real_photo_check.py)'),
    # fit_calibration over the 83 of SynthFace 3d's 300 test renders where OpenCV's Haar cascade found the face
    # (IoU > 0.3 with the landmark box; 2026-12-04): its box sits 17% of its height above the landmark box's
    # centre. Not measured on real photos.
    'haar': BoxCalibration(dx=-0.013, dy=0.173, sw=0.888, sh=0.877,
                           source='mean over 83 SynthFace 3d test renders (fit_calibration); not real photos'),
}


def fit_calibration(detector_boxes, landmark_boxes, source: str = 'fitted') -> BoxCalibration:
    """The calibration that maps ``detector_boxes`` ``(N, 4)`` onto ``landmark_boxes`` ``(N, 4)`` on average:
    mean relative centre offset and mean (geometric) size ratio per axis."""
    d = np.asarray(detector_boxes, np.float64).reshape(-1, 4)
    lm = np.asarray(landmark_boxes, np.float64).reshape(-1, 4)
    if len(d) == 0 or len(d) != len(lm):
        raise ValueError(f'fit_calibration: need as many detector as landmark boxes (got {len(d)} and {len(lm)})')
    dw, dh = d[:, 2] - d[:, 0], d[:, 3] - d[:, 1]
    lw, lh = lm[:, 2] - lm[:, 0], lm[:, 3] - lm[:, 1]
    dx = ((lm[:, 0] + lm[:, 2]) - (d[:, 0] + d[:, 2])) / 2 / dw
    dy = ((lm[:, 1] + lm[:, 3]) - (d[:, 1] + d[:, 3])) / 2 / dh
    return BoxCalibration(float(dx.mean()), float(dy.mean()), float(np.exp(np.log(lw / dw).mean())),
                          float(np.exp(np.log(lh / dh).mean())), source)


def crop_error(boxes, landmark_boxes) -> Dict[str, np.ndarray]:
    """How far each box's training crop is from the landmark box's: the crop is square with side
    ``max(w, h)`` (times the pipeline's padding), centred on the box. Returns per face the centre offset as a
    share of the landmark crop's side (``dx``, ``dy``) and the side ratio (``scale``)."""
    b = np.asarray(boxes, np.float64).reshape(-1, 4)
    lm = np.asarray(landmark_boxes, np.float64).reshape(-1, 4)
    side_b = np.maximum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1])
    side_l = np.maximum(lm[:, 2] - lm[:, 0], lm[:, 3] - lm[:, 1])
    dx = ((b[:, 0] + b[:, 2]) - (lm[:, 0] + lm[:, 2])) / 2 / side_l
    dy = ((b[:, 1] + b[:, 3]) - (lm[:, 1] + lm[:, 3])) / 2 / side_l
    return dict(dx=dx, dy=dy, scale=side_b / side_l)


def calibration_for(detector: Union[str, BoxCalibration, None]) -> BoxCalibration:
    """The calibration of a detector name of :mod:`mmfacealign.apis.face_detectors` (``'default'`` is
    :data:`~mmfacealign.apis.face_detectors.DEFAULT_DETECTOR`), a :class:`BoxCalibration`, or None (identity:
    the boxes already are landmark boxes)."""
    if detector is None:
        return IDENTITY
    if isinstance(detector, BoxCalibration):
        return detector
    if not isinstance(detector, str):
        return IDENTITY                      # a user's callable detector: its boxes are taken as they are
    from .face_detectors import DEFAULT_DETECTOR, detector_names
    name = DEFAULT_DETECTOR if detector == 'default' else detector
    if name not in detector_names():
        raise ValueError(f'unknown detector {detector!r}; known: default, {", ".join(detector_names())}')
    return CALIBRATIONS.get(name, IDENTITY)


def to_landmark_box(boxes, detector: Union[str, BoxCalibration, None] = 'default') -> np.ndarray:
    """Map ``detector``'s boxes ``(N, 4)`` to the landmark boxes they predict (the models' input convention)."""
    return calibration_for(detector).apply(boxes)
