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
false positive, see ``python -m mmfacealign.apis.face_detectors`` and README "Image demo").

Every detector takes a BGR ``uint8`` image ``(H, W, 3)`` (as ``mmcv.imread`` / ``cv2.imread`` give) and returns
``(F, 4)`` float32 ``x1, y1, x2, y2`` boxes, largest first (``(0, 4)`` when no face is found). A detector whose
package is missing raises :class:`DetectorUnavailable` (an ``ImportError``) naming the package to install.
"""
import os.path as osp
import time
from typing import Callable, Dict, Optional, Union

import numpy as np

from ..utils.boxes import box_iou

DEFAULT_DETECTOR = 'mtcnn'

DETECTORS: Dict[str, Callable[..., 'FaceDetector']] = {}


class DetectorUnavailable(ImportError):
    """The detector's package (or its weights) is not installed."""


def register_detector(name: str):
    def wrap(cls):
        DETECTORS[name] = cls
        cls.name = name
        return cls
    return wrap


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


@register_detector('haar')
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


@register_detector('lbp')
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


@register_detector('mtcnn')
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
    if name not in DETECTORS:
        raise KeyError(f'unknown face detector {detector!r}; choose one of default, {", ".join(sorted(DETECTORS))}')
    key = (name, tuple(sorted(kwargs.items())))
    if key not in _CACHE:
        _CACHE[key] = DETECTORS[name](**kwargs)
    return _CACHE[key]


def available_detectors() -> Dict[str, Optional[str]]:
    """``{name: None if it loads, else why not}``."""
    status = {}
    for name in sorted(DETECTORS):
        try:
            build_detector(name)
            status[name] = None
        except DetectorUnavailable as e:
            status[name] = str(e)
    return status


def detect_faces(img_bgr: np.ndarray, min_size: int = 24, detector='default') -> np.ndarray:
    """Face boxes ``(F, 4)`` float32 xyxy in a BGR image, largest first (``(0, 4)`` when none)."""
    return build_detector(detector, min_size=min_size)(img_bgr)


# ----------------------------------------------------------------------------------------------------------------
# Comparison on the real photos that registry packages ship: python -m mmfacealign.apis.face_detectors

# Hand-set face boxes (xyxy, pixels; forehead to chin, ear to ear) of the sample photos.
ASTRONAUT_FACE = (176.0, 60.0, 268.0, 178.0)          # skimage.data.astronaut(), 512x512
GRACE_HOPPER_FACE = (165.0, 120.0, 355.0, 320.0)      # matplotlib sample_data/grace_hopper.jpg, 512x600


def _rotated(img, box, degrees):
    """``img`` rotated by ``degrees`` about the face centre, and the face box moved with it (same size)."""
    import cv2
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    m = cv2.getRotationMatrix2D((cx, cy), degrees, 1.0)
    return cv2.warpAffine(img, m, img.shape[1::-1], borderMode=cv2.BORDER_REFLECT), box


def sample_images():
    """``[(name, BGR image, [face boxes])]``: astronaut and Grace Hopper as shipped, astronaut with its lower face
    covered (a grey block over mouth and chin) and turned by 30 degrees in the image plane, and two images without
    faces (coffee, a blank grey image). Needs scikit-image and matplotlib (nothing is fetched: the images ship with
    them)."""
    import cv2
    import matplotlib.cbook
    import skimage.data
    hopper = cv2.imread(matplotlib.cbook.get_sample_data('grace_hopper.jpg', asfileobj=False))
    astronaut = skimage.data.astronaut()[..., ::-1].copy()
    occluded = astronaut.copy()
    x1, y1, x2, y2 = map(int, ASTRONAUT_FACE)
    occluded[y1 + (y2 - y1) * 6 // 10:y2, x1:x2] = 110
    return [
        ('astronaut (skimage)', astronaut, [ASTRONAUT_FACE]),
        ('grace_hopper (matplotlib)', hopper, [GRACE_HOPPER_FACE]),
        ('astronaut, lower face covered', occluded, [ASTRONAUT_FACE]),
        ('astronaut, turned 30 degrees', *(lambda im, b: (im, [b]))(*_rotated(astronaut, ASTRONAUT_FACE, 30))),
        ('coffee (skimage, no face)', skimage.data.coffee()[..., ::-1].copy(), []),
        ('blank 480x640 (no face)', np.full((480, 640, 3), 127, np.uint8), []),
    ]


def compare_detectors(names=None, repeats: int = 3, iou_thr: float = 0.5):
    """Hits (a face box matched at IoU >= ``iou_thr``), false positives and median time per image of each
    detector on :func:`sample_images`; rows of dicts (``error`` set for a detector that cannot load)."""
    images = sample_images()
    rows = []
    for name in names or sorted(DETECTORS):
        try:
            det = build_detector(name)
            det(images[0][1])                                   # warm-up (lazy init, torch threads)
        except DetectorUnavailable as e:
            rows.append(dict(detector=name, error=str(e)))
            continue
        hits = faces = fps = 0
        times, per_image = [], []
        for img_name, img, gt in images:
            ts = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                boxes = det(img)
                ts.append(time.perf_counter() - t0)
            times.append(float(np.median(ts)))
            iou = box_iou(boxes, gt) if len(gt) and len(boxes) else np.zeros((len(boxes), len(gt)))
            matched = iou.max(0, initial=0.0) >= iou_thr
            hits += int(matched.sum())
            faces += len(gt)
            fp = int((iou.max(1, initial=0.0) < iou_thr).sum())
            fps += fp
            per_image.append(dict(image=img_name, boxes=boxes.round(1).tolist(),
                                  best_iou=float(iou.max()) if iou.size else None, false_positives=fp))
        rows.append(dict(detector=name, hits=hits, faces=faces, false_positives=fps,
                         ms_per_image=1000 * float(np.mean(times)), per_image=per_image))
    return rows


def comparison_table(rows) -> str:
    lines = ['| detector | faces found (IoU >= 0.5) | false positives | '
             'best IoU: astronaut / Hopper / covered / turned | ms per image (CPU) |', '|---|---|---|---|---|']
    for r in rows:
        if 'error' in r:
            lines.append(f"| {r['detector']} | not available: {r['error']} | | | |")
            continue
        ious = ' / '.join('-' if p['best_iou'] is None else f"{p['best_iou']:.2f}"
                          for p in r['per_image'] if 'no face' not in p['image'])
        lines.append(f"| {r['detector']}{' (default)' if r['detector'] == DEFAULT_DETECTOR else ''} | "
                     f"{r['hits']}/{r['faces']} | {r['false_positives']} | {ious} | {r['ms_per_image']:.1f} |")
    return '\n'.join(lines)


if __name__ == '__main__':
    import argparse
    import json
    import platform

    p = argparse.ArgumentParser(description='Compare the offline face detectors on the sample photos of '
                                            'scikit-image and matplotlib (plus two images without a face).')
    p.add_argument('--detectors', nargs='+', default=None)
    p.add_argument('--repeats', type=int, default=5)
    p.add_argument('--json', help='also write the rows (with every box) here')
    args = p.parse_args()
    result = compare_detectors(args.detectors, repeats=args.repeats)
    import torch
    print(f'{platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads, '
          f'median of {args.repeats} runs per image, '
          f'6 images (4 faces, 2 without)')
    print(comparison_table(result))
    for r in result:
        for img in r.get('per_image', []):
            print(f"  {r['detector']:6s} {img['image']:28s} boxes={img['boxes']}")
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(result, f, indent=1)
