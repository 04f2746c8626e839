# Copyright (c) mmfacealign contributors. All rights reserved.
"""Face alignment on whole images: load a model strictly, find the faces, predict their landmarks, draw, save.

    from mmfacealign.apis import load_aligner, align_faces, draw_faces
    model = load_aligner(CONFIG, CHECKPOINT)                  # any mmfacealign config, or an MMPose face config
    faces = align_faces(model, 'photo.jpg')                   # MTCNN finds the faces (largest first)
    faces = align_faces(model, img_bgr, bboxes=[[x1, y1, x2, y2]])   # or give the boxes
    faces[0]['keypoints']                                     # (K, 2) pixels of the input image
    cv2.imwrite('drawn.jpg', draw_faces(img_bgr, faces))

:func:`load_aligner` loads the checkpoint strictly (:func:`~mmfacealign.apis.inference.load_weights`: a
:class:`~mmfacealign.apis.inference.CheckpointMismatchError` names the missing, unexpected and mis-shaped keys,
where MMPose's ``init_model`` only logs them and runs with random weights). ``backend='onnxruntime'`` returns the
ONNX backend's aligner (``mmfacealign.deployment.ORTFaceAligner``) with the same pre- and post-processing.
"""
import os.path as osp
from typing import List, Optional, Union

import numpy as np

from .face_detectors import build_detector

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp', '.pgm', '.ppm', '.pbm', '.jp2')


class ImageReadError(OSError):
    """An image file that does not exist or cannot be decoded."""


class BackendUnavailable(ImportError):
    """The requested inference backend is not installed or not built yet."""


def read_image(path: str) -> np.ndarray:
    """BGR ``uint8`` image; :class:`ImageReadError` naming the file when it is missing or undecodable."""
    import cv2
    if not osp.isfile(path):
        raise ImageReadError(f'cannot read image {path!r}: no such file')
    img = cv2.imread(path, cv2.IMREAD_COLOR)
    if img is None:
        raise ImageReadError(f'cannot read image {path!r}: not an image OpenCV can decode')
    return img


def load_aligner(config=None, checkpoint: Optional[str] = None, device: str = 'cpu', backend: str = 'pytorch',
                 onnx: Optional[str] = None, strict: bool = True, cfg_options: Optional[dict] = None):
    """The model to pass to :func:`align_faces`.

    Args:
        config: config path or :class:`mmengine.Config` (mmfacealign's, or MMPose's own face models); None (with
            no checkpoint) takes the default real-photo model shipped with mmfacealign
            (:mod:`mmfacealign.apis.default_model`).
        checkpoint: ``.pth`` file (``state_dict`` + ``meta.dataset_meta`` as the runner saves it); None keeps
            random weights (pytorch backend only).
        backend: ``'pytorch'`` or ``'onnxruntime'`` (then ``onnx`` is the exported model).
        strict: raise :class:`~mmfacealign.apis.inference.CheckpointMismatchError` when keys or shapes differ;
            with False mmengine loads the matching parameters and logs the rest
            (:func:`~mmfacealign.apis.inference.load_weights`).
    """
    from .inference import init_model, load_config, load_weights
    if config is None:
        if checkpoint is not None:
            raise ValueError('load_aligner: a checkpoint without its config; pass the config it was trained with')
        from .default_model import default_model
        config, checkpoint = default_model()
    cfg = load_config(config)
    if backend == 'onnxruntime':
        if not onnx:
            raise ValueError("backend 'onnxruntime' needs the exported model (--onnx model.onnx)")
        ORTFaceAligner = ort_backend().ORTFaceAligner
        if not osp.isfile(onnx):
            raise FileNotFoundError(f'ONNX model {onnx!r} not found')
        return ORTFaceAligner(onnx, cfg, cfg_options=cfg_options)
    if backend != 'pytorch':
        raise ValueError(f'unknown backend {backend!r}; choose pytorch or onnxruntime')

    model = init_model(cfg, None, device='cpu', cfg_options=cfg_options)
    if checkpoint is not None:
        load_weights(model, checkpoint, strict=strict,
                     config_name=config if isinstance(config, str) else getattr(cfg, 'filename', None))
    return model.to(device).eval()


def ort_backend():
    """The onnxruntime backend module (``mmfacealign.deployment``, whose ``ORTFaceAligner`` MMPose's
    ``inference_topdown`` runs like a PyTorch model); :class:`BackendUnavailable` when onnxruntime or onnx is
    missing."""
    try:
        import onnxruntime  # noqa: F401

        from .. import deployment
    except ImportError as e:
        raise BackendUnavailable(f'the onnxruntime backend is not available ({e}): install onnxruntime '
                                 '(requirements/runtime.txt), or use --backend pytorch') from e
    return deployment


def _to_numpy(x):
    if hasattr(x, 'detach'):
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def align_faces(model, img: Union[str, np.ndarray], bboxes=None, detector='default', min_face_size: int = 24,
                max_faces: Optional[int] = None, box_convention: Optional[str] = 'auto') -> List[dict]:
    """Landmarks of every face in an image.

    Args:
        model: from :func:`load_aligner` (or ``mmfacealign.apis.init_model``), or an ORT aligner.
        img: image path or BGR ``uint8`` array ``(H, W, 3)``.
        bboxes: ``(F, 4)`` xyxy face boxes in pixels; None runs ``detector``.
        detector: a name of :mod:`mmfacealign.apis.face_detectors` (``'default'``, ``'mtcnn'``, ``'haar'``,
            ``'lbp'``) or a callable ``img_bgr -> (F, 4)`` boxes.
        max_faces: keep the largest ``max_faces`` detected faces.
        box_convention: what the boxes are, so that the model sees each face as in training (the landmark box,
            see :mod:`mmfacealign.apis.box_convention`): ``'auto'`` maps detector boxes by the detector's
            calibration and takes given ``bboxes`` as landmark boxes (a tight box around the face's landmarks);
            a detector name maps given ``bboxes`` by that detector's calibration; None or ``'landmark'`` uses
            every box as it is. Each face's ``bbox`` is the box given or detected; ``model_bbox`` the one used.

    Returns:
        One dict per face (largest detected face first; an empty list when no face is found):
        ``bbox`` (4,) xyxy, ``keypoints`` (K, 2) pixels, ``keypoint_scores`` (K,), ``score`` (mean keypoint score),
        and, from a model with an occlusion output, ``keypoints_occluded`` (K,): each landmark's probability of
        being occluded.
    """
    from .box_convention import to_landmark_box
    if isinstance(img, str):
        img = read_image(img)
    if bboxes is None:
        boxes = build_detector(detector, min_size=min_face_size)(img)
        source = detector
    else:
        boxes = np.asarray(bboxes, np.float32).reshape(-1, 4)
        source = None
    if max_faces is not None:
        boxes = boxes[:max_faces]
    if len(boxes) == 0:
        return []
    if box_convention == 'auto':
        model_boxes = to_landmark_box(boxes, source)
    elif box_convention in (None, 'landmark'):
        model_boxes = boxes
    else:
        model_boxes = to_landmark_box(boxes, box_convention)
    from mmpose.apis import inference_topdown  # PyTorch models and ORTFaceAligner alike
    samples = inference_topdown(model, img, bboxes=model_boxes, bbox_format='xyxy')
    faces = []
    for box, model_box, sample in zip(boxes, model_boxes, samples):
        inst = sample.pred_instances
        kpts = _to_numpy(inst.keypoints).reshape(-1, 2).astype(np.float32)
        scores = _to_numpy(inst.keypoint_scores).reshape(-1).astype(np.float32) if 'keypoint_scores' in inst \
            else np.ones(len(kpts), np.float32)
        face = dict(bbox=np.asarray(box, np.float32), model_bbox=np.asarray(model_box, np.float32),
                    keypoints=kpts, keypoint_scores=scores, score=float(scores.mean()) if len(scores) else 0.0)
        if 'keypoints_occluded' in inst:           # a model with an occlusion output (OcclusionPredictHead)
            face['keypoints_occluded'] = _to_numpy(inst.keypoints_occluded).reshape(-1).astype(np.float32)
        faces.append(face)
    return faces


def faces_to_json(faces: List[dict], image: Optional[str] = None, image_size=None) -> dict:
    """A json-serialisable record: ``{'image', 'image_size': [h, w], 'faces': [{'bbox', 'keypoints', ...}]}``
    (with ``keypoints_occluded``, the occlusion probabilities, when the faces have them)."""
    out = dict(image=image, image_size=None if image_size is None else [int(s) for s in image_size[:2]],
               faces=[])
    for f in faces:
        extra = {} if 'model_bbox' not in f else dict(model_bbox=[round(float(v), 2) for v in f['model_bbox']])
        out['faces'].append(dict(bbox=[round(float(v), 2) for v in f['bbox']], **extra,
                                 score=round(float(f['score']), 4),
                                 keypoints=[[round(float(x), 2), round(float(y), 2)] for x, y in f['keypoints']],
                                 keypoint_scores=[round(float(s), 4) for s in f['keypoint_scores']]))
        if 'keypoints_occluded' in f:
            out['faces'][-1]['keypoints_occluded'] = [round(float(p), 4) for p in f['keypoints_occluded']]
    return out


def draw_faces(img_bgr: np.ndarray, faces: List[dict], draw_bbox: bool = True, *, draw_contours: bool = True,
               dataset_meta: Optional[dict] = None, occluded_thr: float = 0.5, radius: Optional[int] = None,
               line_width: Optional[int] = None) -> np.ndarray:
    """The image with each face's landmarks (red) and box (white) drawn by mmfacealign's
    :class:`~mmfacealign.visualization.FaceAlignmentVisualizer`; BGR in, BGR out.

    Landmarks are joined along the facial contours (``draw_contours``; iBUG-68 and WFLW-98 layouts, or
    ``dataset_meta['skeleton_links']`` when the dataset has a skeleton; other layouts as points only), with the
    point radius and line width scaled to each face (``radius`` / ``line_width`` fix them, in pixels). A face dict
    with ``keypoints_occluded`` (probabilities or booleans ``(K,)``) has the landmarks above ``occluded_thr``
    drawn as hollow magenta rings; without that key every landmark is a filled red disc.
    """
    from mmfacealign.visualization import FaceAlignmentVisualizer
    vis = FaceAlignmentVisualizer.get_instance('mmfacealign_image_inference')
    drawn = np.ascontiguousarray(img_bgr[..., ::-1])
    for f in faces:
        drawn = vis.draw_landmarks(drawn, None, np.asarray(f['keypoints']), pred_occluded=f.get('keypoints_occluded'),
                                   draw_contours=draw_contours, dataset_meta=dataset_meta, occluded_thr=occluded_thr,
                                   radius=radius, line_width=line_width)
        if draw_bbox:
            vis.set_image(drawn)
            vis.draw_bboxes(np.asarray(f['bbox'], np.float32).reshape(-1, 4), edge_colors=(255, 255, 255))
            drawn = vis.get_image()
    return np.ascontiguousarray(drawn[..., ::-1])
