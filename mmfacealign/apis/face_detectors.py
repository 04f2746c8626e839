# Copyright (c) mmfacealign contributors. All rights reserved.
"""Offline face detectors whose weights ship inside registry packages (nothing is downloaded at run time).

=========  =============================================================  =====================================
name       what                                                           package
=========  =============================================================  =====================================
``mtcnn``  MTCNN (P/R/O-Net cascade, weights inside the wheel)            ``facenet-pytorch==2.6.0``, installed
                                                                          with ``--no-deps`` (its metadata pins
                                                                          old torch/numpy; it runs with ours)
``haar``   OpenCV's frontal-face Haar cascade                             ``opencv-python<5`` (5.x dropped it)
``lbp``    OpenCV's LBP frontal-face cascade run by scikit-image          ``scikit-image``
=========  =============================================================  =====================================

``default`` is :data:`DEFAULT_DETECTOR` (MTCNN: the only one that found both faces of the real photos with no
false positive, see ``python tools/analysis_tools/compare_face_detectors.py`` and README "Image demo").

Every detector takes a BGR ``uint8`` image ``(H, W, 3)`` (as ``mmcv.imread`` / ``cv2.imread`` give) and returns
``(F, 4)`` float32 ``x1, y1, x2, y2`` boxes, largest first (``(0, 4)`` when no face is found). A detector whose
package is missing raises :class:`DetectorUnavailable` (an ``ImportError``) naming the package to install.
"""
import os.path as osp
from typing import Callable, Dict, List, Optional, Union

import numpy as np
from mmengine.registry import Registry

DEFAULT_DETECTOR = 'mtcnn'

#: The face detectors by name (an mmengine ``Registry``): ``@FACE_DETECTORS.register_module(name=...)`` adds one,
#: which ``build_detector``, the demo's ``--detector`` and ``box_convention`` then know.
FACE_DETECTORS = Registry('face detector', scope='mmfacealign')


class DetectorUnavailable(ImportError):
    """The detector's package (or its weights) is not installed."""


def detector_names() -> List[str]:
    """The registered detector names, sorted (``'default'`` is :data:`DEFAULT_DETECTOR`)."""
    return sorted(FACE_DETECTORS.module_dict)


def _as_boxes(boxes) -> np.ndarray:
    """``(F, 4)`` float32 xyxy, largest (by area) first."""
    boxes = np.asarray(boxes if boxes is not None else [], dtype=np.float32).reshape(-1, 4)
    if len(boxes) == 0:
        return np.zeros((0, 4), np.float32)
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return boxes[np.argsort(-area, kind='stable')]


def _check_image(img_bgr: np.ndarray) -> np.ndarray:
    img = np.asarray(img_bgr)
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    if img.ndim != 3 or img.shape[2] not in (3, 4):
        raise ValueError(f'expected an image (H, W, 3) BGR, got shape {img.shape}')
    return np.ascontiguousarray(img[..., :3])


class FaceDetector:
    """Base class: ``detector(img_bgr) -> (F, 4)`` float32 xyxy boxes, largest first."""
    name = 'base'

    def __init__(self, min_size: int = 24):
        self.min_size = int(min_size)

    def detect(self, img_bgr: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def __call__(self, img_bgr: np.ndarray) -> np.ndarray:
        boxes = _as_boxes(self.detect(_check_image(img_bgr)))
        if len(boxes):
            keep = np.minimum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]) >= self.min_size
            boxes = boxes[keep]
        return boxes

    def __repr__(self):
        return f'{type(self).__name__}(min_size={self.min_size})'


@FACE_DETECTORS.register_module(name='haar')
class HaarDetector(FaceDetector):
    """OpenCV's ``haarcascade_frontalface_default.xml`` (ships in the opencv-python 4.x wheels)."""

    def __init__(self, min_size: int = 24, scale_factor: float = 1.1, min_neighbors: int = 5):
        super().__init__(min_size)
        import cv2
        if not hasattr(cv2, 'CascadeClassifier') or not hasattr(cv2, 'data'):
            raise DetectorUnavailable("detector 'haar': this OpenCV build has no Haar cascades (opencv-python 5 "
                                      "dropped them); install 'opencv-python<5', choose another detector or pass "
                                      '--bbox')
        path = osp.join(cv2.data.haarcascades, 'haarcascade_frontalface_default.xml')
        self.cascade = cv2.CascadeClassifier(path)
        if self.cascade.empty():
            raise DetectorUnavailable(f"detector 'haar': cannot load {path}")
        self.scale_factor, self.min_neighbors = scale_factor, min_neighbors

    def detect(self, img_bgr):
        import cv2
        gray = cv2.cvtColor(img_bgr, cv2.COLOR_BGR2GRAY)
        found = self.cascade.detectMultiScale(gray, scaleFactor=self.scale_factor, minNeighbors=self.min_neighbors,
                                              minSize=(self.min_size, self.min_size))
        return [[x, y, x + w, y + h] for x, y, w, h in found]


@FACE_DETECTORS.register_module(name='lbp')
class LBPDetector(FaceDetector):
    """OpenCV's LBP frontal-face cascade as shipped and run by scikit-image (``skimage.feature.Cascade``)."""

    def __init__(self, min_size: int = 24, scale_factor: float = 1.2, step_ratio: float = 1.0,
                 min_intersection: float = 0.5):
        super().__init__(min_size)
        try:
            from skimage.data import lbp_frontal_face_cascade_filename
            from skimage.feature import Cascade
        except ImportError as e:
            raise DetectorUnavailable("detector 'lbp' needs scikit-image: pip install scikit-image "
                                      f'(or choose another detector, or pass --bbox) [{e}]') from e
        self.cascade = Cascade(lbp_frontal_face_cascade_filename())
        self.scale_factor, self.step_ratio, self.min_intersection = scale_factor, step_ratio, min_intersection

    def detect(self, img_bgr):
        import cv2
        gray = cv2.cvtColor(img_bgr, cv2.COLOR_BGR2GRAY).astype(np.float64) / 255.0
        h, w = gray.shape
        found = self.cascade.detect_multi_scale(img=gray, scale_factor=self.scale_factor,
                                                step_ratio=self.step_ratio,
                                                min_size=(self.min_size, self.min_size), max_size=(h, w),
                                                min_neighbor_number=4,
                                                intersection_score_threshold=self.min_intersection)
        return [[d['c'], d['r'], d['c'] + d['width'], d['r'] + d['height']] for d in found]


@FACE_DETECTORS.register_module(name='mtcnn')
class MTCNNDetector(FaceDetector):
    """MTCNN from facenet-pytorch (P/R/O-Net weights inside the wheel); boxes scored below ``min_score`` are
    dropped."""

    def __init__(self, min_size: int = 24, min_score: float = 0.9, device: str = 'cpu'):
        super().__init__(min_size)
        try:
            from facenet_pytorch import MTCNN
        except ImportError as e:
            raise DetectorUnavailable("detector 'mtcnn' needs facenet-pytorch: pip install --no-deps "
                                      "facenet-pytorch==2.6.0 (its metadata pins old torch/numpy; it runs with "
                                      "current ones), or choose --detector haar|lbp, or pass --bbox "
                                      f'[{e}]') from e
        self.min_score = float(min_score)
        self.mtcnn = MTCNN(keep_all=True, min_face_size=max(12, int(min_size)), device=device, post_process=False)

    def detect(self, img_bgr):
        import torch
        with torch.no_grad():
            boxes, probs = self.mtcnn.detect(np.ascontiguousarray(img_bgr[..., ::-1]))
        if boxes is None:
            return []
        boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
        probs = np.asarray(probs, np.float32).reshape(-1)
        return boxes[probs >= self.min_score]


_CACHE: Dict[tuple, FaceDetector] = {}


def build_detector(detector: Union[str, FaceDetector, Callable, None] = 'default', **kwargs):
    """A detector by name (``'default'``, ``'mtcnn'``, ``'haar'``, ``'lbp'``; built once per name and
    arguments), or ``detector`` itself when it is already callable."""
    if callable(detector):
        return detector
    name = DEFAULT_DETECTOR if detector in (None, 'default') else detector
    if name not in FACE_DETECTORS.module_dict:
        raise KeyError(f'unknown face detector {detector!r}; choose one of default, {", ".join(detector_names())}')
    key = (name, tuple(sorted(kwargs.items())))
    if key not in _CACHE:
        _CACHE[key] = FACE_DETECTORS.module_dict[name](**kwargs)     # not .build: no scope switch
    return _CACHE[key]


def available_detectors() -> Dict[str, Optional[str]]:
    """``{name: None if it loads, else why not}``."""
    status = {}
    for name in detector_names():
        try:
            build_detector(name)
            status[name] = None
        except DetectorUnavailable as e:
            status[name] = str(e)
    return status


def detect_faces(img_bgr: np.ndarray, min_size: int = 24, detector='default') -> np.ndarray:
    """Face boxes ``(F, 4)`` float32 xyxy in a BGR image, largest first (``(0, 4)`` when none)."""
    return build_detector(detector, min_size=min_size)(img_bgr)
