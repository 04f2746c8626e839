# Copyright (c) mmfacealign contributors. All rights reserved.
"""ODN's low-rank learning module: a shared structural matrix M between the hybrid features and the regressor.

ODN (Zhu et al., CVPR 2019), Sec. 3.3, Eq. 1: the prediction is ``S = W_fc^T M^T X`` with X the flattened hybrid
feature vector (d,) and M (d x d) a learned matrix that encodes the correlations between features, so that
features the distillation module suppressed can be recovered from correlated ones; its rank is kept low by the
nuclear-norm term of the loss (:class:`~mmfacealign.models.losses.NuclearNormLoss`).
"""
import torch
from mmpose.registry import MODELS
from torch import Tensor, nn


@MODELS.register_module()
class LowRankModule(nn.Module):
    """``X -> M^T X`` with a learned (d, d) matrix M (ODN Eq. 1).

    Args:
        num_features (int): d, the length of the hybrid feature vector.
        init (str): ``'identity'`` (default, ours: the module starts as a pass-through, so training starts from
            the plain regressor and the nuclear norm from d) or ``'orthogonal'``.

    Shapes: ``forward(x (B, d)) -> (B, d)`` (row vectors: ``x @ M``). ``weight`` is M, the matrix the
    regularisers take.
    """

    def __init__(self, num_features: int, init: str = 'identity'):
        super().__init__()
        if init not in ('identity', 'orthogonal'):
            raise ValueError(f"LowRankModule: init must be 'identity' or 'orthogonal', got {init!r}")
        self.num_features = num_features
        self.weight = nn.Parameter(torch.empty(num_features, num_features))
        if init == 'identity':
            nn.init.eye_(self.weight)
        else:
            nn.init.orthogonal_(self.weight)

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 2 or x.shape[1] != self.num_features:
            raise ValueError(f'LowRankModule: expected (B, {self.num_features}) features (num_features, set by the '
                             f"head's in_features), got {tuple(x.shape)}")
        return x @ self.weight

    def extra_repr(self) -> str:
        return f'num_features={self.num_features}'
