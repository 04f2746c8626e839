# Copyright (c) mmfacealign contributors. All rights reserved.
"""Relative location loss of SCDF.

SCDF (Lin et al., TIP 2021), Sec. "relative location loss": besides the absolute positions, penalise the relative
location of every landmark with respect to its graph neighbours, ``delta_i = p_i - sum_{j in N_i} w_ij p_j`` with
``w_ij = 1 / |N_i|``, i.e. ``Delta = L P`` with the Laplacian-like operator ``L`` of
:meth:`mmfacealign.models.utils.LandmarkGraph.laplacian`, and compare the predicted and ground-truth ``Delta`` with Soft
Wing (omega1 = 2, omega2 = 20, epsilon = 0.5, in input pixels, mean over all elements; the official code's
``LaplacianLoss`` in ``losses/wing_loss.py``). ``N_i`` is, by default, what row ``i`` of the graph's directed listing
names, as in the official code (exactly 3 neighbours per landmark on WFLW's top-3 graph).
"""
from typing import Optional

import torch
from mmpose.registry import MODELS
from torch import Tensor, nn

from ..utils.landmark_graph import GraphLike, build_graph


@MODELS.register_module()
class RelativeLocationLoss(nn.Module):
    """``loss(L @ P_hat, L @ P)`` over the landmark graph.

    Args:
        graph: The landmark graph (built-in name, file path, dict or
            :class:`~mmfacealign.models.utils.LandmarkGraph`; see :func:`~mmfacealign.models.utils.build_graph`).
            ``GCNLandmarkHead`` passes its own graph when the config leaves this out.
        directed (bool): ``True`` (default, the official code): ``N_i`` is row ``i`` of the directed listing,
            including the official absolute-position rows of nodes without out-edges on the hand-designed 68/29
            point graphs. ``False`` (our reading, a switch): neighbourhoods symmetrised, useful for graphs with
            empty rows (see :mod:`mmfacealign.models.utils.landmark_graph`).
        loss (dict): The elementwise comparison, any MMPose-style regression loss called as
            ``loss(pred (B, K, 2), target (B, K, 2), weight (B, K, 1))``. Default: :class:`MeanSoftWingLoss`
            with the SCDF parameters and the element-mean reduction. Its ``use_target_weight`` follows ours when
            left out; a contradicting value is an error (it would be ignored otherwise).
        use_target_weight (bool): Weight the rows of ``L P`` (see below). Default False (the official code
            supervises every row; also the default of MMPose's losses and of ``GCNLandmarkHead``).
        loss_weight (float): Multiplier (the official ``laplace_weight``, 1). Default 1.

    Target weights. Row ``i`` of ``L P`` involves landmark ``i`` and all its neighbours, so its weight is the
    product of their weights: a row touching any unlabelled (weight 0) landmark, e.g. one that left the crop, is
    dropped; with fractional weights the product down-weights it.

    Shapes: ``forward(output (B, K, 2), target (B, K, 2), target_weight (B, K) | (B, K, 1) | None) -> scalar``;
    inputs in pixels of the input image for the paper's Soft Wing parameters.
    """

    def __init__(self, graph: GraphLike = 'wflw98_top3', directed: bool = True,
                 loss: dict = dict(type='MeanSoftWingLoss', omega1=2.0, omega2=20.0, epsilon=0.5),
                 use_target_weight: bool = False, loss_weight: float = 1.):
        super().__init__()
        self.graph = build_graph(graph)
        self.directed = directed
        self.use_target_weight = use_target_weight
        self.loss_weight = loss_weight
        lap = torch.as_tensor(self.graph.laplacian(directed=directed))
        self.register_buffer('laplacian', lap, persistent=False)
        self.register_buffer('support', lap != 0, persistent=False)
        loss = dict(loss)
        inner = loss.setdefault('use_target_weight', use_target_weight)
        if bool(inner) != bool(use_target_weight):
            raise ValueError(f'RelativeLocationLoss: loss.use_target_weight={inner} contradicts '
                             f'use_target_weight={use_target_weight}; set it on RelativeLocationLoss only')
        self.loss_module = MODELS.build(loss)

    def relative_locations(self, coords: Tensor) -> Tensor:
        """``L @ P``: (B, K, 2) -> (B, K, 2)."""
        if coords.ndim != 3 or coords.shape[1] != self.laplacian.shape[0]:
            raise ValueError(f'RelativeLocationLoss: graph {self.graph.name!r} has {self.laplacian.shape[0]} '
                             f'nodes, got coordinates of shape {tuple(coords.shape)}')
        return torch.matmul(self.laplacian.to(coords.dtype), coords)

    def row_weights(self, target_weight: Tensor) -> Tensor:
        """(B, K) point weights -> (B, K) row weights: product over each row's support (i and N_i)."""
        w = target_weight.reshape(target_weight.shape[0], -1)
        expanded = torch.where(self.support, w[:, None, :], torch.ones_like(w)[:, None, :])
        return expanded.prod(dim=-1)

    def forward(self, output: Tensor, target: Tensor, target_weight: Optional[Tensor] = None) -> Tensor:
        pred_rel = self.relative_locations(output)
        gt_rel = self.relative_locations(target)
        if self.use_target_weight:
            if target_weight is None:
                raise ValueError('RelativeLocationLoss: use_target_weight=True needs target_weight')
            loss = self.loss_module(pred_rel, gt_rel, self.row_weights(target_weight).unsqueeze(-1))
        else:
            loss = self.loss_module(pred_rel, gt_rel)
        return loss * self.loss_weight
