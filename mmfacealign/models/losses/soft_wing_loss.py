# Copyright (c) mmfacealign contributors. All rights reserved.
"""Soft Wing loss with the reduction of the SCDF release.

SCDF (Lin et al., TIP 2021), Sec. "Soft Wing loss": per coordinate, ``|x|`` if ``|x| < omega1``, else
``omega2 * ln(1 + |x| / epsilon) + B`` with ``B = omega1 - omega2 * ln(1 + omega1 / epsilon)``; the paper's
parameters omega1 = 2, omega2 = 20, epsilon = 0.5 are in pixels of the 256 x 256 input (the official code's
``wider_wing_loss`` in ``losses/functional.py``, "WiderWing" in its config).

MMPose's :class:`mmpose.models.losses.SoftWingLoss` implements the same function but reduces by summing over
keypoints K and coordinates D and averaging over the batch; the official code averages over all ``B * K * D``
elements, a factor ``K * D`` (196 for WFLW) smaller. :class:`MeanSoftWingLoss` reuses MMPose's loss and divides
by ``K * D`` so that the paper's learning rate applies unchanged.
"""
from mmpose.models.losses import SoftWingLoss
from mmpose.registry import MODELS
from torch import Tensor


@MODELS.register_module()
class MeanSoftWingLoss(SoftWingLoss):
    """MMPose's ``SoftWingLoss`` with a selectable reduction.

    Args:
        omega1, omega2, epsilon (float): Soft Wing parameters, in the units of the inputs. Defaults 2, 20, 0.5
            (SCDF, in input pixels: give pixel coordinates, see
            :func:`mmfacealign.models.utils.normalised_to_pixels`).
        use_target_weight (bool): Multiply prediction and target by the weights (B, K, 1) first, as MMPose does:
            a zero weight removes the point's loss but still counts in the mean's denominator.
        loss_weight (float): Multiplier. Default 1.
        reduction (str): ``'mean'`` (default, SCDF release): mean over all B*K*D elements. ``'batch_mean'``: MMPose's
            sum over K and D, mean over B (``= K * D * mean``).

    Shapes: ``forward(output (B, K, D), target (B, K, D), target_weight (B, K, 1) | None) -> scalar``.
    """

    def __init__(self, omega1: float = 2.0, omega2: float = 20.0, epsilon: float = 0.5,
                 use_target_weight: bool = False, loss_weight: float = 1., reduction: str = 'mean'):
        super().__init__(omega1=omega1, omega2=omega2, epsilon=epsilon, use_target_weight=use_target_weight,
                         loss_weight=loss_weight)
        if reduction not in ('mean', 'batch_mean'):
            raise ValueError(f"MeanSoftWingLoss: reduction must be 'mean' or 'batch_mean', got {reduction!r}")
        self.reduction = reduction

    def forward(self, output: Tensor, target: Tensor, target_weight: Tensor = None) -> Tensor:
        if output.ndim != 3:
            raise ValueError(f'MeanSoftWingLoss: expected (B, K, D) inputs, got {tuple(output.shape)}')
        loss = super().forward(output, target, target_weight)
        if self.reduction == 'mean':
            loss = loss / (output.shape[1] * output.shape[2])
        return loss
