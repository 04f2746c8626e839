# Copyright (c) mmfacealign contributors. All rights reserved.
"""SRN's training loss: the inter-ocular-normalised point-to-point error of every cascade iteration, summed.

Zhu et al., Pattern Recognition 2022, Sec. 3.1, Eq. 8 (its symbols were lost from the text here; the official
code's ``normalized_rmse`` in ``models.py``, summed over the iterations in ``train.py``):

.. math::

    L = \\sum_{t=1}^{T} \\frac{1}{B} \\sum_b \\frac{\\sum_k \\lVert x^b_{t,k} - g^b_k \\rVert_2}{N \\, d^b},
    \\qquad d^b = \\lVert g^b_{36} - g^b_{45} \\rVert_2,

not squared and without per-iteration weights.
"""
from typing import Optional, Sequence, Union

from mmpose.registry import MODELS
from torch import Tensor, nn

from ...evaluation.functional.face_nme import per_face_nme_torch
from .normalized_l2_loss import NormalizedL2Loss


@MODELS.register_module()
class CascadeNMELoss(nn.Module):
    """Point-to-point error normalised by the inter-ocular distance, summed over cascade iterations (SRN Eq. 8).

    Args:
        norm_indices ('auto' | sequence of 2 int | None): The normaliser's landmarks, as
            :class:`~mmfacealign.models.losses.NormalizedL2Loss` (``'auto'``: outer eye corners of 68, 98 or 29
            points; ``None``: ``d = 1``).
        use_target_weight (bool): Weight each landmark's error (and average over the weights instead of N).
            Default False (the official code supervises all landmarks).
        loss_weight (float): Multiplier. Default 1.
        eps (float): Lower bound of ``d``. Default 1e-6.

    Shapes: ``forward(outputs (B, T, K, 2), target (B, K, 2), target_weight (B, K) | None) -> scalar``; a (B, K, 2)
    output counts as T = 1. The loss is scale-free, but the two axes must be in the same units (pixels, or
    normalised coordinates of a square input).
    """

    def __init__(self, norm_indices: Union[str, Sequence[int], None] = 'auto', use_target_weight: bool = False,
                 loss_weight: float = 1., eps: float = 1e-6):
        super().__init__()
        # the normaliser (index resolution, checks) is NormalizedL2Loss's
        self.normaliser = NormalizedL2Loss(norm_indices=norm_indices, eps=eps).normaliser
        self.use_target_weight = use_target_weight
        self.loss_weight = loss_weight

    def forward(self, outputs: Tensor, target: Tensor, target_weight: Optional[Tensor] = None) -> Tensor:
        if outputs.ndim == 3:
            outputs = outputs[:, None]
        if outputs.ndim != 4 or outputs.shape[:1] + outputs.shape[2:] != target.shape:
            raise ValueError(f'CascadeNMELoss: expected outputs (B, T, K, 2) and target (B, K, 2), got '
                             f'{tuple(outputs.shape)} and {tuple(target.shape)}')
        weights = None
        if self.use_target_weight:
            if target_weight is None:
                raise ValueError('CascadeNMELoss: use_target_weight=True needs target_weight')
            weights = target_weight.reshape(target.shape[0], 1, target.shape[1])
        per_face = per_face_nme_torch(outputs, target[:, None], self.normaliser(target)[:, None], weights)  # (B, T)
        return per_face.mean(0).sum() * self.loss_weight
