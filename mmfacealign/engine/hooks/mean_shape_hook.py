# Copyright (c) mmfacealign contributors. All rights reserved.
"""Set a cascade head's initial shape to the training set's mean shape, before training starts.

SRN (Zhu et al., Pattern Recognition 2022, Sec. 3.1; the official code's ``train.py``) starts its cascade from the mean
shape of the training set placed in the face box. In MMPose's top-down pipeline the face box is the crop, so the mean
shape is the average of the training landmarks in normalised crop coordinates: for each face, ``(p - c) / s + 0.5`` with
the box centre ``c`` and size ``s`` that ``GetBBoxCenterScale`` (its ``padding``) and ``TopdownAffine`` (the aspect
ratio of the input) give. It is computed from the annotations alone (no image is read) and without augmentation, the
same on every rank, and stored in the head's ``mean_shape`` buffer, so checkpoints carry it and testing or resuming does
not recompute it. Augmentation is ignored: box jitter and rotation average out, and a horizontal flip of a roughly
symmetric mean shape is close to the mean shape itself.
"""
from typing import Optional

import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmpose.registry import HOOKS

from ...models.heads.occlusion_head import landmark_head


def _find_padding(cfg) -> Optional[float]:
    """``padding`` of the first ``GetBBoxCenterScale`` in the training pipeline config, if any."""
    def walk(node):
        if isinstance(node, dict):
            if node.get('type') == 'GetBBoxCenterScale':
                return float(node.get('padding', 1.25))
            for value in node.values():
                found = walk(value)
                if found is not None:
                    return found
        elif isinstance(node, (list, tuple)):
            for value in node:
                found = walk(value)
                if found is not None:
                    return found
        return None
    return walk(cfg.get('train_dataloader', {}))


def mean_normalised_shape(dataset, input_size, padding: float = 1.25) -> np.ndarray:
    """The mean landmark positions (K, 2) in normalised crop coordinates over every face of ``dataset``.

    Args:
        dataset: An MMPose dataset (or wrapper) whose ``get_data_info(i)`` gives ``keypoints`` (1, K, 2) and
            ``bbox`` (1, 4, xyxy) or ``bbox_center`` / ``bbox_scale``.
        input_size (tuple): Model input (w, h): the crop's aspect ratio.
        padding (float): ``GetBBoxCenterScale``'s box padding. Default 1.25.
    """
    w, h = (float(s) for s in input_size)
    aspect = w / h
    shapes = []
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        kpts = np.asarray(info['keypoints'], dtype=np.float64).reshape(-1, 2)
        if 'bbox_center' in info and 'bbox_scale' in info:
            # GetBBoxCenterScale pads a given scale too ("The padding will still be applied")
            centre = np.asarray(info['bbox_center'], dtype=np.float64).reshape(2)
            scale = np.asarray(info['bbox_scale'], dtype=np.float64).reshape(2) * padding
        else:
            x1, y1, x2, y2 = np.asarray(info['bbox'], dtype=np.float64).reshape(4)
            centre = np.array([(x1 + x2) / 2, (y1 + y2) / 2])
            scale = np.array([x2 - x1, y2 - y1]) * padding
        bw, bh = scale
        scale = np.array([bw, bw / aspect]) if bw > bh * aspect else np.array([bh * aspect, bh])
        shapes.append((kpts - centre) / scale + 0.5)
    if not shapes:
        raise ValueError('MeanShapeHook: the training dataset is empty')
    if len({s.shape for s in shapes}) != 1:
        raise ValueError('MeanShapeHook: the training faces have different landmark counts '
                         f'{sorted({s.shape[0] for s in shapes})}')
    return np.mean(shapes, axis=0)


@HOOKS.register_module()
class MeanShapeHook(Hook):
    """Before training, set ``model.head``'s mean shape (``set_mean_shape``) from the training annotations, unless
    it is already set (a resumed or fine-tuned checkpoint, or ``head.mean_shape`` in the config).

    Args:
        padding (float, optional): Box padding. Default None: ``GetBBoxCenterScale``'s in the training pipeline
            (1.25 if the pipeline has none).
        force (bool): Recompute even if the head has a mean shape. Default False.
    """

    priority = 'NORMAL'

    def __init__(self, padding: Optional[float] = None, force: bool = False):
        self.padding = padding
        self.force = force

    def before_train(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        head = getattr(model, 'head', None)
        head = landmark_head(head) if head is not None else None        # inside an OcclusionPredictHead
        if head is None or not hasattr(head, 'set_mean_shape'):
            raise TypeError(f'MeanShapeHook: model.head ({type(head).__name__}) has no set_mean_shape(); the hook '
                            'is for cascade heads such as SRNHead')
        if bool(head.mean_shape_ready) and not self.force:
            runner.logger.info('MeanShapeHook: the head already has a mean shape; kept')
            return
        padding = self.padding if self.padding is not None else (_find_padding(runner.cfg) or 1.25)
        if head.input_size is None:
            raise ValueError('MeanShapeHook: the head has no input_size (set model.head.decoder or input_size)')
        shape = mean_normalised_shape(runner.train_dataloader.dataset, head.input_size, padding)
        head.set_mean_shape(torch.as_tensor(shape, dtype=torch.float32))
        runner.logger.info(f'MeanShapeHook: mean shape of {len(runner.train_dataloader.dataset)} training faces '
                           f'(box padding {padding}) set as the initial shape')
