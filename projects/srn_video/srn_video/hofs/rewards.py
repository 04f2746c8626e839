# Copyright (c) mmfacealign contributors. All rights reserved.
"""HOFS's reward: the NME of the frozen pre-trained SRN on the synthesised frame (SRN Sec. 3.2, Eq. 10).

Zhu et al., Pattern Recognition 2022, Eq. 10 (symbols lost here; the prose: "the point-to-point Euclidean error",
with N landmarks, a normalising factor, predicted and ground-truth landmarks):

.. math::

    r_t = \\frac{1}{N d} \\sum_{k=1}^{N} \\lVert \\hat{x}_k - x_k \\rVert_2,

``d`` the inter-ocular distance of the ground truth (outer eye corners 36/45 for 68 points; configurable). The
frozen model runs on the clip's synthesised frames in order with its RNN hidden state carried from frame to frame
(the tracker's Eq. 13), so the reward of frame t also reflects the occlusions of earlier frames.

A reward model is any callable ``(image (B, 3, H, W), hidden | None) -> (shape (B, N, 2), hidden)`` on normalised
images and coordinates; :func:`srn_reward_fn` makes one from a top-down SRN estimator.
"""
from typing import Callable, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor, nn

from mmfacealign.evaluation.functional import per_face_nme_torch
from mmfacealign.models.losses.normalized_l2_loss import NormalizedL2Loss
from mmfacealign.models.utils.coordinates import normalised_to_pixels

RewardModel = Callable[[Tensor, Optional[Tensor]], Tuple[Tensor, Optional[Tensor]]]


def interocular_nme(pred: Tensor, gt: Tensor, image_size: Sequence[int],
                    norm_indices: Union[str, Sequence[int], None] = 'auto', eps: float = 1e-6) -> Tensor:
    """Per-face NME (Eq. 10), measured in input pixels.

    Args:
        pred, gt (Tensor): (B, N, 2) normalised input coordinates.
        image_size (sequence): Input ``(W, H)``: both axes are turned into pixels before measuring, so a
            non-square input is measured in one unit.
        norm_indices ('auto' | pair | None): The normaliser's landmarks, as
            :class:`~mmfacealign.models.losses.NormalizedL2Loss` (``'auto'``: 36/45 for 68 points, the outer eye
            corners of 98 and 29 points; ``None``: ``d = 1``).
        eps (float): Lower bound of ``d`` (coinciding eye corners give ``error / eps``, not a division by zero).

    Returns:
        Tensor: (B,).
    """
    if pred.shape != gt.shape or pred.ndim != 3:
        raise ValueError(f'interocular_nme: pred and gt must both be (B, N, 2), got {tuple(pred.shape)} and '
                         f'{tuple(gt.shape)}')
    pred_px, gt_px = normalised_to_pixels(pred, image_size), normalised_to_pixels(gt, image_size)
    dist = NormalizedL2Loss(norm_indices=norm_indices, eps=eps).normaliser(gt_px)
    return per_face_nme_torch(pred_px, gt_px, dist)


def srn_reward_fn(model: nn.Module) -> RewardModel:
    """A reward model from a top-down estimator whose head has ``forward_iterations`` (SRNHead): the last cascade
    iteration's shape and the RNN state, without gradient. The model should be a frozen copy in eval mode."""
    head = getattr(model, 'head', None)
    if head is None or not hasattr(head, 'forward_iterations'):
        raise TypeError(f'srn_reward_fn: expected a top-down estimator with an SRN head (.head.forward_iterations), '
                        f'got {type(model).__name__}')

    def reward_model(image: Tensor, hidden: Optional[Tensor]) -> Tuple[Tensor, Tensor]:
        with torch.no_grad():
            shapes, hidden = head.forward_iterations(model.extract_feat(image), hidden=hidden, return_hidden=True)
        return shapes[:, -1], hidden

    return reward_model


def reward_step(reward_model: RewardModel, image: Tensor, hidden: Optional[Tensor], gt: Tensor,
                norm_indices: Union[str, Sequence[int], None] = 'auto') -> Tuple[Tensor, Optional[Tensor]]:
    """Run the frozen model on one frame (hidden carried) and return its NME (B,) and the new hidden state."""
    with torch.no_grad():
        pred, hidden = reward_model(image, hidden)
        if pred.shape != gt.shape:
            raise ValueError(f'HOFS reward model returned shape {tuple(pred.shape)}, expected {tuple(gt.shape)} '
                             '(normalised (B, N, 2) coordinates)')
        nme = interocular_nme(pred.float(), gt.float(), (image.shape[-1], image.shape[-2]), norm_indices)
    return nme, hidden
