# Copyright (c) mmfacealign contributors. All rights reserved.
"""Dynamic neighbour weights of SCDF.

SCDF (Lin et al., TIP 2021), abstract and Sec. "dynamic neighbourhood": the method "dynamically adapts the weights of
node neighborhood to eliminate distracted information from noisy nodes, such as occluded landmark point". Per image,
global average pooling of the node-embedding map ``H0`` and two fully connected layers predict one value per non-zero of
the neighbourhood mask ``M``; they replace the 1s of ``M`` (the official code's ``RelationLearner``,
``relation_learner.py``):

    ``GAP -> Linear(C, C/2) -> ReLU -> BatchNorm1d(C/2) -> Linear(C/2, nnz(M))``, scattered onto ``M`` in
    row-major order, then a softmax over each node's neighbours (``-9e15`` outside the mask).

The resulting ``(B, N, N)`` adjacency is shared by every graph convolution of the forward pass (it replaces the
static learnable edge weights of :class:`~mmfacealign.models.layers.SemGraphConv`).

Choices (where the paper's text and the official ``models/geometric/dynamic_gcnet.py`` / ``dynamic_gcnetV2.py``
leave room; our readings):

* Input: the node-embedding map (the paper's ``H0``; the official "V2", ``C = N*n``) by default; the head can feed
  the backbone map instead (official "V1"). This module only needs ``in_channels``.
* The official code transposes the normalised matrix, so node ``i`` aggregates with weights ``A[j, i]`` (whose
  columns do not sum to 1). ``transpose=True`` reproduces that; off by default (rows normalised over each
  node's own neighbourhood, as the paper describes).
* The output size is ``nnz`` of the given mask, so any graph works (the official layer hard-codes 470).
"""
from typing import Optional

from mmpose.registry import MODELS
from torch import Tensor, nn

from .graph_conv import MaskLike, _as_mask, masked_softmax


@MODELS.register_module()
class DynamicAdjacency(nn.Module):
    """Predict a per-sample normalised adjacency from a feature map.

    Args:
        in_channels (int): Channels C of the input map.
        adjacency_mask (array (N, N)): 0/1 neighbourhood mask (with self-loops, as for ``SemGraphConv``).
        hidden_channels (int, optional): Size of the hidden FC layer. Default ``C // 2`` (official
            ``relation_learner.py``).
        transpose (bool): Reproduce the official transpose of the normalised matrix. Default False.

    Shapes:
        ``forward(x (B, C, H, W) or (B, C, L) or (B, C)) -> (B, N, N)``; each row sums to 1 over the mask
        (columns, if ``transpose``). BatchNorm1d needs B > 1 in training.
    """

    def __init__(self, in_channels: int, adjacency_mask: MaskLike, hidden_channels: Optional[int] = None,
                 transpose: bool = False):
        super().__init__()
        mask = _as_mask(adjacency_mask)
        self.register_buffer('mask', mask, persistent=False)
        self.nnz = int(mask.sum())
        self.transpose = transpose
        hidden_channels = hidden_channels or max(1, in_channels // 2)
        self.fc1 = nn.Linear(in_channels, hidden_channels)
        self.relu = nn.ReLU(inplace=True)
        self.bn = nn.BatchNorm1d(hidden_channels)
        self.fc2 = nn.Linear(hidden_channels, self.nnz)

    def edge_weights(self, x: Tensor) -> Tensor:
        """The raw per-sample weights, (B, nnz), one per mask non-zero in row-major order."""
        if x.ndim > 2:
            x = x.flatten(2).mean(dim=2)              # global average pooling
        return self.fc2(self.bn(self.relu(self.fc1(x))))

    def forward(self, x: Tensor) -> Tensor:
        adj = masked_softmax(self.edge_weights(x), self.mask)
        return adj.transpose(1, 2) if self.transpose else adj
