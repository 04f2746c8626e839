# Copyright (c) mmfacealign contributors. All rights reserved.
"""Inter-ocular-normalised L2 loss, FFLD's loss for the coarse shape S0.

FFLD (Yan, Duffner et al., CVIU 2020), Sec. 4.1, Eq. 1: ``L = ||S_GT - S_Pred||_2^2 / d``, the squared error of all
landmark coordinates divided by the inter-ocular distance ``d`` of the ground truth, so faces of any size weigh
alike and large errors on hard examples dominate (the paper's reason for using it on the baseline output).
"""
from typing import Optional, Sequence

from mmpose.registry import MODELS
from torch import Tensor, nn


@MODELS.register_module()
class NormalizedL2Loss(nn.Module):
    """``sum_k ||p_k - g_k||^2 / d`` per face, averaged over the batch (FFLD Eq. 1).

    Args:
        norm_indices (sequence of 2 int, optional): Landmarks whose ground-truth distance is ``d``: the outer eye
            corners, e.g. ``(36, 45)`` for 68 points (300W), ``(60, 72)`` for WFLW, ``(8, 9)`` for COFW. ``None``
            gives ``d = 1``: plain summed squared error, for layouts without eye corners (AFLW-19, whose papers
            normalise by the face box; inside a top-down crop every box has the same size, so ``d`` would be a
            constant anyway).
        use_target_weight (bool): Multiply each landmark's squared error by its weight. Default False (every
            landmark supervised).
        loss_weight (float): Multiplier. Default 1.
        eps (float): Lower bound of ``d``, so a degenerate face (coinciding eye corners) cannot divide by zero.
            Default 1e-6.

    Shapes: ``forward(output (B, K, 2), target (B, K, 2), target_weight (B, K) | (B, K, 1) | None) -> scalar``.
    Units: those of the inputs (FFLD uses input pixels).
    """

    def __init__(self, norm_indices: Optional[Sequence[int]] = None, use_target_weight: bool = False,
                 loss_weight: float = 1., eps: float = 1e-6):
        super().__init__()
        if norm_indices is not None and len(norm_indices) != 2:
            raise ValueError(f'NormalizedL2Loss: norm_indices must be two landmark indices, got {norm_indices}')
        self.norm_indices = tuple(int(i) for i in norm_indices) if norm_indices is not None else None
        self.use_target_weight = use_target_weight
        self.loss_weight = loss_weight
        self.eps = eps

    def normaliser(self, target: Tensor) -> Tensor:
        """``d`` per face, (B,)."""
        if self.norm_indices is None:
            return target.new_ones(target.shape[0])
        a, b = self.norm_indices
        if max(a, b) >= target.shape[1]:
            raise ValueError(f'NormalizedL2Loss: norm_indices {self.norm_indices} out of range for '
                             f'{target.shape[1]} landmarks')
        return (target[:, a] - target[:, b]).norm(dim=-1).clamp_min(self.eps)

    def forward(self, output: Tensor, target: Tensor, target_weight: Optional[Tensor] = None) -> Tensor:
        if output.shape != target.shape or output.ndim != 3:
            raise ValueError(f'NormalizedL2Loss: expected output and target of the same shape (B, K, D), got '
                             f'{tuple(output.shape)} and {tuple(target.shape)}')
        sq = ((output - target) ** 2).sum(dim=-1)                        # (B, K)
        if self.use_target_weight:
            if target_weight is None:
                raise ValueError('NormalizedL2Loss: use_target_weight=True needs target_weight')
            sq = sq * target_weight.reshape(sq.shape)
        loss = sq.sum(dim=1) / self.normaliser(target)
        return loss.mean() * self.loss_weight
