# Copyright (c) mmfacealign contributors. All rights reserved.
"""The shape every coordinate-regression head of mmfacealign shares, built on MMPose's ``RegressionHead``.

MMPose's :class:`~mmpose.models.heads.RegressionHead` already does what ``TopdownPoseEstimator`` expects of a
regression head: flip test and decoding with the codec in :meth:`predict`, target gathering, ``loss_kpt`` and the
PCK accuracy ``acc_pose`` in :meth:`loss`. Its constructor, though, builds one FC layer from ``in_channels``, which
the heads of SCDF, FFLD, ODN and SRN do not have. :class:`BaseLandmarkRegressionHead` keeps everything of
``RegressionHead`` except that FC layer, so a method's head writes only what differs:

* :meth:`forward` ``feats -> (B, K, 2)``: MMPose's normalised input coordinates (``RegressionLabel`` space), the
  final prediction; :meth:`predict` (flip test, decoding) is ``RegressionHead``'s, unchanged;
* :meth:`loss_terms` ``-> (final prediction, {name: loss})``: the method's named loss terms. The default calls
  :meth:`forward` and ``self.loss_module`` (``loss_kpt``), as ``RegressionHead`` does; :meth:`loss` adds
  ``acc_pose``.

Helpers for heads that compare pixels (losses whose parameters are in input pixels: Soft Wing at the papers'
scale, FFLD's Align Loss) live here too: :meth:`gather_targets`, :meth:`check_input_size`.
"""
from typing import Dict, Optional, Sequence, Tuple

import numpy as np
import torch
from mmpose.evaluation.functional import keypoint_pck_accuracy
from mmpose.models.heads import RegressionHead
from mmpose.models.heads.base_head import BaseHead
from mmpose.registry import KEYPOINT_CODECS, MODELS
from mmpose.utils.tensor_utils import to_numpy
from mmpose.utils.typing import ConfigType, OptConfigType, OptSampleList
from torch import Tensor


class BaseLandmarkRegressionHead(RegressionHead):
    """``RegressionHead`` without its FC layer: the base of mmfacealign's regression heads.

    Subclasses build their layers after ``super().__init__`` and implement :meth:`forward`; they override
    :meth:`loss_terms` when they have more than one loss term.

    Args:
        num_joints (int): Number of landmarks K.
        loss (dict, optional): The main keypoint loss, built into ``self.loss_module`` (``None``: none, for heads
            whose :meth:`loss_terms` builds its own terms).
        decoder (dict, optional): Codec for :meth:`predict`, e.g. ``RegressionLabel``.
        input_size (tuple, optional): Input (w, h) in pixels. Default: the decoder's ``input_size`` (``None`` when
            neither is given; heads that need pixels check it).
        init_cfg (dict, optional): Initialisation config. Default None: each layer keeps its own initialisation
            (``RegressionHead``'s ``Normal(std=0.01)`` on all ``Linear`` layers is *not* applied, because the
            methods specify their own).
    """

    def __init__(self,
                 num_joints: int,
                 loss: OptConfigType = None,
                 decoder: OptConfigType = None,
                 input_size: Optional[Sequence[int]] = None,
                 init_cfg: OptConfigType = None):
        # RegressionHead.__init__ builds an FC layer from in_channels; everything else it sets is set here
        BaseHead.__init__(self, init_cfg)
        self.num_joints = num_joints
        self.loss_module = MODELS.build(loss) if loss is not None else None
        self.decoder = KEYPOINT_CODECS.build(decoder) if decoder is not None else None
        if input_size is None and self.decoder is not None:
            input_size = getattr(self.decoder, 'input_size', None)
        self.input_size = tuple(int(s) for s in input_size) if input_size is not None else None

    @property
    def default_init_cfg(self):
        return None

    def forward(self, feats: Tuple[Tensor]) -> Tensor:
        """Multi-level features -> normalised input coordinates (B, K, 2). Implemented by each head."""
        raise NotImplementedError(f'{type(self).__name__} must implement forward()')

    # ---------------------------------------------------------------------------------------------------- training
    @staticmethod
    def gather_targets(batch_data_samples: OptSampleList) -> Tuple[Tensor, Tensor]:
        """``(keypoint_labels (B, K, 2), keypoint_weights (B, K))`` from the packed samples (one face each)."""
        labels = torch.cat([d.gt_instance_labels.keypoint_labels for d in batch_data_samples])
        weights = torch.cat([d.gt_instance_labels.keypoint_weights for d in batch_data_samples])
        return labels, weights

    def check_input_size(self, batch_data_samples: OptSampleList) -> Tuple[int, int]:
        """The head's input (w, h), after checking it against the data's ``input_size`` (a mismatch would put
        pixel-space losses at the wrong scale)."""
        if self.input_size is None:
            raise ValueError(f'{type(self).__name__}: this head needs input_size (or a decoder with one)')
        size = batch_data_samples[0].metainfo.get('input_size') if batch_data_samples else None
        if size is not None and tuple(int(s) for s in size) != self.input_size:
            raise ValueError(f'{type(self).__name__}: data input_size {tuple(size)} differs from the head '
                             f'input_size {self.input_size} (set the codec/head input_size to the pipeline one)')
        return self.input_size

    def loss_terms(self, feats: Tuple[Tensor], labels: Tensor, weights: Tensor,
                   batch_data_samples: OptSampleList, train_cfg: ConfigType = {}) -> Tuple[Tensor, Dict[str, Tensor]]:
        """The head's named loss terms and its final prediction (for ``acc_pose``).

        Args:
            feats: Multi-level features.
            labels (Tensor): (B, K, 2) normalised target coordinates.
            weights (Tensor): (B, K) target weights (``RegressionLabel``: 0 for points outside the crop).

        Returns:
            (Tensor (B, K, 2), dict): the prediction and ``{'loss_...': scalar}``. Default: ``loss_kpt`` of
            ``self.loss_module`` on :meth:`forward`, as ``RegressionHead``.
        """
        pred = self.forward(feats)
        return pred, dict(loss_kpt=self.loss_module(pred, labels, weights.unsqueeze(-1)))

    def loss(self, inputs: Tuple[Tensor], batch_data_samples: OptSampleList, train_cfg: ConfigType = {}) -> dict:
        """``loss_terms`` plus ``acc_pose`` (PCK@0.05 in normalised coordinates, as ``RegressionHead``)."""
        labels, weights = self.gather_targets(batch_data_samples)
        pred, losses = self.loss_terms(inputs, labels, weights, batch_data_samples, train_cfg)
        losses['acc_pose'] = self.pck_accuracy(pred, labels, weights)
        return losses

    @staticmethod
    def pck_accuracy(pred: Tensor, labels: Tensor, weights: Tensor, thr: float = 0.05) -> Tensor:
        """PCK at ``thr`` of normalised coordinates, the ``acc_pose`` of MMPose's regression heads."""
        _, avg_acc, _ = keypoint_pck_accuracy(
            pred=to_numpy(pred.detach()), gt=to_numpy(labels), mask=to_numpy(weights) > 0, thr=thr,
            norm_factor=np.ones((pred.size(0), 2), dtype=np.float32))
        return torch.tensor(avg_acc, device=labels.device)
