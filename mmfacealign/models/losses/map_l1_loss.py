# Copyright (c) mmfacealign contributors. All rights reserved.
"""L1 sparsity of ODN's occlusion-probability map P.

ODN (Zhu et al., CVPR 2019), Sec. 3.2 and Eq. 3, the ``eta ||P||_1`` term (eta = 1e-6, Sec. 5): the distillation
module's single-channel map is pushed towards sparsity, so that it keeps only the informative (unoccluded) face
regions; its subgradient is ``sign(p)`` (Eq. 9), which autograd's ``abs`` gives (0 at 0).
"""
from mmpose.registry import MODELS
from torch import Tensor, nn


@MODELS.register_module()
class MapL1Loss(nn.Module):
    """``loss_weight * sum |P| / B``: the L1 norm of each image's map, averaged over the batch (ODN Eq. 3).

    Args:
        loss_weight (float): eta. Default 1e-6 (Sec. 5).

    Shapes: ``forward(maps (B, 1, H, W) or (B, ...)) -> scalar``.
    """

    def __init__(self, loss_weight: float = 1e-6):
        super().__init__()
        self.loss_weight = loss_weight

    def forward(self, maps: Tensor) -> Tensor:
        return maps.abs().flatten(1).sum(1).mean() * self.loss_weight
