# Copyright (c) mmfacealign contributors. All rights reserved.
"""A pose visualizer that overlays ground-truth and predicted landmarks on one image in two colours.

MMPose's ``PoseLocalVisualizer.add_datasample`` draws ground truth and prediction on two copies of the image
side by side, in the dataset's keypoint colours. For face alignment the error is easiest to judge when both
sets share the image: ground truth in ``gt_color``, prediction in ``pred_color``, optionally joined by a line
per landmark (``draw_error_lines``).
"""
from typing import Optional, Sequence

import numpy as np
from mmpose.registry import VISUALIZERS
from mmpose.structures import PoseDataSample
from mmpose.visualization import PoseLocalVisualizer


@VISUALIZERS.register_module()
class FaceAlignmentVisualizer(PoseLocalVisualizer):
    """``PoseLocalVisualizer`` with ground truth and prediction overlaid in two colours.

    Args:
        name: instance name (mmengine's ``ManagerMixin`` requires it).
        gt_color: colour of ground-truth landmarks, RGB tuple (green by default).
        pred_color: colour of predicted landmarks, RGB tuple (red by default).
        point_radius: landmark radius in pixels of the drawn image.
        draw_error_lines: draw a thin line from each ground-truth landmark to its prediction.
        **kwargs: passed to ``PoseLocalVisualizer`` (``name``, ``vis_backends``, ``save_dir``, ...).
    """

    def __init__(self, name: str = 'visualizer', gt_color=(0, 255, 0), pred_color=(255, 0, 0), point_radius: int = 2,
                 draw_error_lines: bool = True, **kwargs):
        super().__init__(name=name, **kwargs)
        self.gt_color = gt_color
        self.pred_color = pred_color
        self.point_radius = point_radius
        self.draw_error_lines = draw_error_lines

    def draw_landmarks(self, image: np.ndarray, gt: Optional[np.ndarray], pred: Optional[np.ndarray]) -> np.ndarray:
        """Draw ``gt`` and ``pred`` ``(K, 2)`` (either may be None) on an RGB image; returns the drawing."""
        self.set_image(image)
        if self.backend == 'opencv':   # OpenCV drawing calls take integer pixel positions
            gt = None if gt is None else np.round(gt).astype(int)
            pred = None if pred is None else np.round(pred).astype(int)
        if gt is not None and pred is not None and self.draw_error_lines:
            for g, p in zip(gt, pred):
                self.draw_lines(np.array([g[0], p[0]]), np.array([g[1], p[1]]), colors=(255, 255, 0), line_widths=1)
        for pts, color in ((gt, self.gt_color), (pred, self.pred_color)):
            for p in ([] if pts is None else pts):   # the OpenCV backend draws one circle per call
                self.draw_circles(p, radius=np.array(self.point_radius), edge_colors=color, face_colors=color)
        return self.get_image()

    def add_datasample(self, name: str, image: np.ndarray, data_sample: PoseDataSample, draw_gt: bool = True,
                       draw_pred: bool = True, draw_heatmap: bool = False, draw_bbox: bool = False,
                       show_kpt_idx: bool = False, skeleton_style: str = 'mmpose', show: bool = False,
                       wait_time: float = 0, out_file: Optional[str] = None, kpt_thr: float = 0.3,
                       step: int = 0) -> None:
        """Same signature as ``PoseLocalVisualizer.add_datasample``; draws every instance of the sample."""
        gt = pred = None
        if draw_gt and 'gt_instances' in data_sample and 'keypoints' in data_sample.gt_instances:
            gt = np.asarray(data_sample.gt_instances.keypoints).reshape(-1, 2)
        if draw_pred and 'pred_instances' in data_sample and 'keypoints' in data_sample.pred_instances:
            pred = np.asarray(data_sample.pred_instances.keypoints).reshape(-1, 2)
        if gt is not None and pred is not None and len(gt) != len(pred):
            gt = None   # ground truth of other instances: draw the prediction only
        drawn = self.draw_landmarks(image, gt, pred)
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
