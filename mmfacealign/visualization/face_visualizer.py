# Copyright (c) mmfacealign contributors. All rights reserved.
"""A pose visualizer that overlays ground-truth and predicted landmarks on one image in two colours.

MMPose's ``PoseLocalVisualizer.add_datasample`` draws ground truth and prediction on two copies of the image
side by side, in the dataset's keypoint colours. For face alignment the error is easiest to judge when both
sets share the image: ground truth in ``gt_color``, prediction in ``pred_color``, optionally joined by a line
per landmark (``draw_error_lines``). Each set is drawn as ``face_drawing.draw_face_landmarks`` draws a face:
facial contours joined (``draw_contours``), points and lines sized to the face, occluded landmarks (when flags
are given) as hollow rings.
"""
from typing import Optional, Sequence

import numpy as np
from mmpose.registry import VISUALIZERS
from mmpose.structures import PoseDataSample
from mmpose.visualization import PoseLocalVisualizer

from .face_drawing import contour_links, draw_links, draw_points, face_diagonal, marker_sizes, occluded_mask


@VISUALIZERS.register_module()
class FaceAlignmentVisualizer(PoseLocalVisualizer):
    """``PoseLocalVisualizer`` with ground truth and prediction overlaid in two colours.

    Args:
        name: instance name (mmengine's ``ManagerMixin`` requires it).
        gt_color: colour of ground-truth landmarks, RGB tuple (green by default).
        pred_color: colour of predicted landmarks, RGB tuple (red by default).
        point_radius: landmark radius in pixels of the drawn image; None (default) scales it with the face
            (the diagonal of the landmarks' box, see ``face_drawing.marker_sizes``).
        draw_error_lines: draw a thin line from each ground-truth landmark to its prediction.
        draw_contours: join the landmarks along the facial contours (iBUG-68 and WFLW-98 groups, or the dataset
            metainfo's ``skeleton_links``; other layouts are drawn as points).
        line_width: contour width in pixels; None scales it with the face.
        occluded_color: RGB colour of the hollow rings drawn for ground-truth landmarks marked occluded (cyan).
        pred_occluded_color: RGB colour of the rings drawn for landmarks the model predicts occluded (magenta),
            so the two can be told apart where both are drawn; None: ``occluded_color``.
        occluded_thr: a landmark is drawn as occluded when its occlusion probability is above this.
        **kwargs: passed to ``PoseLocalVisualizer`` (``name``, ``vis_backends``, ``save_dir``, ...).
    """

    def __init__(self, name: str = 'visualizer', gt_color=(0, 255, 0), pred_color=(255, 0, 0),
                 point_radius: Optional[int] = None, draw_error_lines: bool = True, draw_contours: bool = True,
                 line_width: Optional[int] = None, occluded_color=(0, 255, 255), occluded_thr: float = 0.5,
                 pred_occluded_color=(255, 0, 255), **kwargs):
        super().__init__(name=name, **kwargs)
        self.gt_color = gt_color
        self.pred_color = pred_color
        self.point_radius = point_radius
        self.draw_error_lines = draw_error_lines
        self.draw_contours = draw_contours
        self.contour_width = line_width
        self.occluded_color = occluded_color
        self.occluded_thr = occluded_thr
        self.pred_occluded_color = occluded_color if pred_occluded_color is None else pred_occluded_color

    def draw_landmarks(self, image: np.ndarray, gt: Optional[np.ndarray], pred: Optional[np.ndarray], *,
                       gt_occluded=None, pred_occluded=None, draw_contours: Optional[bool] = None,
                       dataset_meta: Optional[dict] = None, occluded_thr: Optional[float] = None,
                       radius: Optional[int] = None, line_width: Optional[int] = None,
                       diagonal: Optional[float] = None) -> np.ndarray:
        """Draw ``gt`` and ``pred`` ``(K, 2)`` (either may be None) on an RGB image; returns the drawing.

        Keyword options (None: the visualiser's setting):
            gt_occluded, pred_occluded: occlusion probabilities or booleans ``(K,)`` of either set; landmarks
                above ``occluded_thr`` are drawn as hollow rings, in ``occluded_color`` for the ground truth and
                ``pred_occluded_color`` for the prediction. None: all filled.
            draw_contours: join the landmarks along the facial contours.
            dataset_meta: metainfo whose ``skeleton_links`` give the contours (default: the visualiser's
                ``dataset_meta``, set by the runner; an empty skeleton falls back to the layout's groups).
            radius, line_width: sizes in pixels (default: ``point_radius`` / ``line_width`` of the visualiser,
                or scaled with the face).
            diagonal: the face size the sizes scale with (default: the diagonal of the ground truth's landmark
                box, or of the prediction's without ground truth); both sets share the sizes.
        """
        drawn = np.ascontiguousarray(image, dtype=np.uint8).copy()
        sets = [(None if pts is None else np.asarray(pts, np.float64).reshape(-1, 2), color, occ)
                for pts, color, occ in ((gt, self.gt_color, gt_occluded), (pred, self.pred_color, pred_occluded))]
        if diagonal is None:   # the ground truth's size (a wrong prediction should not change the markers)
            sized = sets[0][0] if gt is not None else sets[1][0]
            diagonal = 0.0 if sized is None else face_diagonal(sized)
        radius = self.point_radius if radius is None else radius
        line_width = self.contour_width if line_width is None else line_width
        radius, line_width = marker_sizes(diagonal, radius, line_width)
        thr = self.occluded_thr if occluded_thr is None else occluded_thr
        contours = self.draw_contours if draw_contours is None else draw_contours
        if dataset_meta is None:
            dataset_meta = getattr(self, 'dataset_meta', None)
        (g, _, _), (p, _, _) = sets
        if g is not None and p is not None and self.draw_error_lines and len(g) == len(p):
            draw_links(drawn, np.concatenate([g, p]), [(k, len(g) + k) for k in range(len(g))],
                       (255, 255, 0), max(1, line_width // 2))
        for pts, color, _ in sets:
            if pts is not None and contours:
                draw_links(drawn, pts, contour_links(len(pts), dataset_meta), color, line_width)
        for (pts, color, occ), ring in zip(sets, (self.occluded_color, self.pred_occluded_color)):
            if pts is not None:
                draw_points(drawn, pts, color, radius, occluded_mask(occ, len(pts), thr), ring, line_width)
        self.set_image(drawn)
        return self.get_image()

    def add_datasample(self, name: str, image: np.ndarray, data_sample: PoseDataSample, draw_gt: bool = True,
                       draw_pred: bool = True, draw_heatmap: bool = False, draw_bbox: bool = False,
                       show_kpt_idx: bool = False, skeleton_style: str = 'mmpose', show: bool = False,
                       wait_time: float = 0, out_file: Optional[str] = None, kpt_thr: float = 0.3,
                       step: int = 0) -> None:
        """Same signature as ``PoseLocalVisualizer.add_datasample``; draws every instance of the sample.

        Occluded landmarks are marked where the sample says which: ``pred_instances.keypoints_occluded`` for
        the prediction, ``gt_instances.keypoints_occluded`` or the metainfo's ``keypoints_occluded`` (as
        mmfacealign's datasets pack it) for the ground truth.
        """
        def instances(container, key):
            if container not in data_sample or key not in data_sample.get(container):
                return None
            return np.asarray(data_sample.get(container).get(key), np.float64)

        gt = instances('gt_instances', 'keypoints') if draw_gt else None
        pred = instances('pred_instances', 'keypoints') if draw_pred else None
        gt = None if gt is None else gt.reshape(-1, gt.shape[-2], 2)
        pred = None if pred is None else pred.reshape(-1, pred.shape[-2], 2)
        if gt is not None and pred is not None and gt.shape != pred.shape:
            gt = None   # ground truth of other instances: draw the prediction only
        gt_occ = instances('gt_instances', 'keypoints_occluded')
        if gt_occ is None and data_sample.metainfo.get('keypoints_occluded') is not None:
            gt_occ = np.asarray(data_sample.metainfo['keypoints_occluded'], np.float64)
        pred_occ = instances('pred_instances', 'keypoints_occluded')
        n = len(gt) if pred is None else len(pred)
        drawn = image
        for i in range(0 if gt is None and pred is None else n):
            g = None if gt is None else gt[i]
            p = None if pred is None else pred[i]
            drawn = self.draw_landmarks(
                drawn, g, p,
                gt_occluded=_instance_flags(gt_occ, i, None if g is None else len(g)),
                pred_occluded=_instance_flags(pred_occ, i, None if p is None else len(p)))
        if draw_bbox and 'pred_instances' in data_sample and 'bboxes' in data_sample.pred_instances:
            self.set_image(drawn)
            self.draw_bboxes(np.asarray(data_sample.pred_instances.bboxes), edge_colors=(255, 255, 255))
            drawn = self.get_image()
        if show:
            self.show(drawn, win_name=name, wait_time=wait_time)
        if out_file is not None:
            from mmcv import imwrite
            imwrite(drawn[..., ::-1], out_file)
        else:
            self.add_image(name, drawn, step)


def _instance_flags(flags, i: int, num_keypoints: Optional[int]):
    """Instance ``i``'s occlusion flags ``(K,)`` from ``(N, K)`` (or ``(K,)``) flags; None if they do not fit."""
    if flags is None or num_keypoints is None:
        return None
    flags = np.asarray(flags).reshape(-1, np.asarray(flags).shape[-1])
    if flags.shape[-1] != num_keypoints or i >= len(flags):
        return None
    return flags[i]


def tile_images(images: Sequence[np.ndarray], cols: int, tile: int = 192, pad: int = 2,
                background: int = 255) -> np.ndarray:
    """Resize images to ``tile x tile`` and arrange them in a grid with ``cols`` columns ``(H, W, 3)``."""
    import cv2
    rows = (len(images) + cols - 1) // cols
    grid = np.full((rows * (tile + pad) + pad, cols * (tile + pad) + pad, 3), background, np.uint8)
    for i, img in enumerate(images):
        r, c = divmod(i, cols)
        y, x = pad + r * (tile + pad), pad + c * (tile + pad)
        grid[y:y + tile, x:x + tile] = cv2.resize(img, (tile, tile), interpolation=cv2.INTER_AREA)
    return grid
