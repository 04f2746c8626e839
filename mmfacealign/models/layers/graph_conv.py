# Copyright (c) mmfacealign contributors. All rights reserved.
"""Semantic graph convolution and the graph relational network of SCDF.

SCDF (Lin et al., TIP 2021), Sec. "landmark-graph relational network": per-landmark node features are refined by
graph convolutions that pass features only among neighbouring landmarks; the network ends in one (x, y) per
node. The released code uses a semantic graph convolution in the style of SemGCN (Zhao et al., CVPR 2019), with
separate weights for a node itself and for its neighbours and a learnable weight per edge
(the official code's ``models/gcn_model/sem_graph_conv.py`` and ``sem_gcn.py``):

.. math::

    \\hat A = \\mathrm{softmax}_j(M \\odot e), \\qquad
    h'_i = \\hat A_{ii} W_0 h_i + \\sum_{j \\ne i} \\hat A_{ij} W_1 h_j + b,

where ``M`` is the 0/1 neighbourhood mask (symmetrised graph with self-loops), ``e`` holds one learnable scalar
per non-zero of ``M`` (initialised to 1, so the initial weights are uniform over each neighbourhood) and the
softmax runs over each row with ``-9e15`` outside the mask.

Every layer accepts an optional per-sample adjacency ``(B, N, N)`` that replaces its static ``\\hat A``: this is
how the dynamic neighbour weights of :class:`~mmfacealign.models.layers.DynamicAdjacency` are shared by all
layers of one forward pass.
"""
import math
from typing import Optional, Union

import numpy as np
import torch
import torch.nn.functional as F
from mmpose.registry import MODELS
from torch import Tensor, nn

#: Fill value outside the mask before the softmax (the official value; finite, so a row without any mask entry
#: would give uniform weights rather than NaN).
MASK_FILL = -9e15

MaskLike = Union[np.ndarray, Tensor]

#: Initialisations of the stacked graph-convolution weight, see :func:`init_graph_conv_weight`.
WEIGHT_INITS = ('official', 'per_matrix')


def init_graph_conv_weight(weight: Tensor, mode: str = 'official', gain: float = 1.414) -> Tensor:
    """Xavier-uniform initialisation of the stacked weight ``W`` (2, in, out) of :class:`SemGraphConv`.

    * ``'official'`` (default): one ``xavier_uniform_(W, gain)`` call on the 3-D tensor, as the official
      ``SemGraphConv`` (``sem_graph_conv.py``) does. PyTorch then takes fan_in = ``in * out`` and fan_out =
      ``2 * out`` (its rule for >2-D tensors: ``size(1) * receptive``, ``size(0) * receptive`` with receptive =
      ``out``), so the bound is ``gain * sqrt(6 / (in * out + 2 * out))``: 0.0191 for 256 -> 128.
    * ``'per_matrix'``: each (in, out) matrix on its own, bound ``gain * sqrt(6 / (in + out))``: 0.177 for
      256 -> 128, about 9x larger (the usual Xavier reading, not the released code).

    Returns the (in-place initialised) ``weight``.
    """
    if mode == 'official':
        return nn.init.xavier_uniform_(weight, gain=gain)
    if mode == 'per_matrix':
        with torch.no_grad():
            for w in weight:
                nn.init.xavier_uniform_(w, gain=gain)
        return weight
    raise ValueError(f'init_graph_conv_weight: mode must be one of {WEIGHT_INITS}, got {mode!r}')


def _as_mask(adjacency_mask: MaskLike) -> Tensor:
    mask = torch.as_tensor(np.asarray(adjacency_mask) if not isinstance(adjacency_mask, Tensor)
                           else adjacency_mask)
    if mask.ndim != 2 or mask.shape[0] != mask.shape[1]:
        raise ValueError(f'adjacency_mask must be a square (N, N) matrix, got shape {tuple(mask.shape)}')
    return mask > 0


def masked_softmax(weights: Tensor, mask: Tensor) -> Tensor:
    """Scatter ``weights`` onto the non-zeros of ``mask`` (row-major order) and softmax each row over them.

    Args:
        weights (Tensor): (nnz,) or (B, nnz).
        mask (Tensor): (N, N) bool, ``nnz = mask.sum()``.

    Returns:
        Tensor: (N, N) or (B, N, N); each row sums to 1 over its mask entries and is 0 elsewhere.
    """
    n = mask.shape[0]
    shape = weights.shape[:-1] + (n, n)
    full = weights.new_full(shape, MASK_FILL)
    full[..., mask] = weights
    return F.softmax(full, dim=-1)


class SemGraphConv(nn.Module):
    """Semantic graph convolution (SCDF graph relational layer; the official ``sem_graph_conv.py``).

    Args:
        in_channels (int): Input feature size per node.
        out_channels (int): Output feature size per node.
        adjacency_mask (array (N, N)): 0/1 neighbourhood mask, normally
            :meth:`LandmarkGraph.symmetric_adjacency` (with self-loops; without them the self term is 0).
        bias (bool): Add a bias ``U(-1/sqrt(out), 1/sqrt(out))``. Default True.
        edge_weights (bool): Hold the static learnable edge weights ``e``. Default True; ``False`` for layers
            that always receive an adjacency (dynamic weights), so no parameter goes unused (DDP).
        weight_init (str): How ``W = [W0, W1]`` is initialised (:func:`init_graph_conv_weight`): ``'official'``
            (default) or ``'per_matrix'``.

    Shapes:
        ``forward(x (B, N, in), adj=None) -> (B, N, out)``; ``adj`` is an optional normalised adjacency
        ``(N, N)`` or ``(B, N, N)`` that replaces :meth:`normalised_adjacency`.
    """

    def __init__(self, in_channels: int, out_channels: int, adjacency_mask: MaskLike, bias: bool = True,
                 edge_weights: bool = True, weight_init: str = 'official'):
        super().__init__()
        if weight_init not in WEIGHT_INITS:
            raise ValueError(f'{type(self).__name__}: weight_init must be one of {WEIGHT_INITS}, got {weight_init!r}')
        self.weight_init = weight_init
        self.in_channels = in_channels
        self.out_channels = out_channels
        mask = _as_mask(adjacency_mask)
        self.register_buffer('mask', mask, persistent=False)
        self.register_buffer('off_diagonal', 1 - torch.eye(mask.shape[0]), persistent=False)
        # W[0]: the node itself, W[1]: its neighbours, one stacked (2, in, out) parameter (as the official code)
        self.weight = nn.Parameter(torch.empty(2, in_channels, out_channels))
        # one learnable scalar per mask non-zero (row-major order), initialised to 1
        if edge_weights:
            self.edge_weight = nn.Parameter(torch.ones(int(mask.sum())))
        else:
            self.register_parameter('edge_weight', None)
        if bias:
            self.bias = nn.Parameter(torch.empty(out_channels))
        else:
            self.register_parameter('bias', None)
        self.reset_parameters()

    @property
    def num_nodes(self) -> int:
        return self.mask.shape[0]

    def reset_parameters(self) -> None:
        init_graph_conv_weight(self.weight, self.weight_init)
        if self.edge_weight is not None:
            nn.init.ones_(self.edge_weight)
        if self.bias is not None:
            bound = 1. / math.sqrt(self.out_channels)
            nn.init.uniform_(self.bias, -bound, bound)

    def normalised_adjacency(self) -> Tensor:
        """The static ``softmax_j(M * e)``, (N, N)."""
        if self.edge_weight is None:
            raise RuntimeError(f'{type(self).__name__} was built with edge_weights=False: pass an adjacency')
        return masked_softmax(self.edge_weight, self.mask)

    def forward(self, x: Tensor, adj: Optional[Tensor] = None) -> Tensor:
        if x.ndim != 3 or x.shape[1] != self.num_nodes:
            raise ValueError(f'{type(self).__name__}: expected x of shape (B, {self.num_nodes}, C), '
                             f'got {tuple(x.shape)}')
        if adj is None:
            adj = self.normalised_adjacency()
        # one matmul for both weights: (B, N, in) @ (in, 2 * out) -> self and neighbour features (B, N, out) each
        w = self.weight.permute(1, 0, 2).reshape(self.in_channels, 2 * self.out_channels)
        h_self, h_nbr = torch.matmul(x, w).split(self.out_channels, dim=-1)
        # the self term is a per-node scaling by the diagonal of A; only the off-diagonal part needs a matmul
        diag = torch.diagonal(adj, dim1=-2, dim2=-1).unsqueeze(-1)      # (N, 1) or (B, N, 1)
        out = diag * h_self + torch.matmul(adj * self.off_diagonal.to(adj.dtype), h_nbr)
        if self.bias is not None:
            out = out + self.bias
        return out

    def extra_repr(self) -> str:
        return (f'{self.in_channels}, {self.out_channels}, num_nodes={self.num_nodes}, '
                f'nnz={int(self.mask.sum())}, edge_weights={self.edge_weight is not None}, '
                f'bias={self.bias is not None}')


class GraphConvBlock(nn.Module):
    """``SemGraphConv -> BatchNorm1d (over the feature channels) -> ReLU`` (the official ``_GraphConv``,
    ``sem_gcn.py``).

    Shapes: ``forward(x (B, N, in), adj=None) -> (B, N, out)``.
    """

    def __init__(self, in_channels: int, out_channels: int, adjacency_mask: MaskLike, edge_weights: bool = True,
                 weight_init: str = 'official'):
        super().__init__()
        self.conv = SemGraphConv(in_channels, out_channels, adjacency_mask, edge_weights=edge_weights,
                                 weight_init=weight_init)
        self.bn = nn.BatchNorm1d(out_channels)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: Tensor, adj: Optional[Tensor] = None) -> Tensor:
        x = self.conv(x, adj)
        x = self.bn(x.transpose(1, 2)).transpose(1, 2)
        return self.relu(x)


class ResGraphBlock(nn.Module):
    """``x + block(block(x))`` with two :class:`GraphConvBlock`; no activation after the sum (the official
    ``_ResGraphConv``, ``sem_gcn.py``).

    Shapes: ``forward(x (B, N, C), adj=None) -> (B, N, C)``.
    """

    def __init__(self, channels: int, adjacency_mask: MaskLike, hidden_channels: Optional[int] = None,
                 edge_weights: bool = True, weight_init: str = 'official'):
        super().__init__()
        hidden_channels = hidden_channels or channels
        self.block1 = GraphConvBlock(channels, hidden_channels, adjacency_mask, edge_weights, weight_init)
        self.block2 = GraphConvBlock(hidden_channels, channels, adjacency_mask, edge_weights, weight_init)

    def forward(self, x: Tensor, adj: Optional[Tensor] = None) -> Tensor:
        return x + self.block2(self.block1(x, adj), adj)


@MODELS.register_module()
class SemGCN(nn.Module):
    """The graph relational network of SCDF (the official ``SemGCN``, ``sem_gcn.py``).

    ``GraphConvBlock(in -> hidden)``, ``num_res_blocks`` x :class:`ResGraphBlock`, then a plain
    ``SemGraphConv(hidden -> out)`` (no BN, no ReLU). Defaults (hidden 128, 4 residual blocks, out 2) are the
    released ones: 1 + 2 * 4 + 1 = 10 graph convolutions.

    Args:
        in_channels (int): Node feature size (SCDF: n * H * W = 4 * 8 * 8 = 256).
        adjacency_mask (array (N, N)): 0/1 mask shared by all layers.
        hidden_channels (int): Hidden size. Default 128.
        num_res_blocks (int): Number of residual blocks. Default 4.
        out_channels (int): Output per node. Default 2 (x, y).
        edge_weights (bool): Static learnable edge weights in every layer. Default True; ``False`` when an
            adjacency is always passed (dynamic neighbour weights).
        weight_init (str): Weight initialisation of every layer, ``'official'`` (default) or ``'per_matrix'``
            (:func:`init_graph_conv_weight`).

    Shapes: ``forward(x (B, N, in), adj=None) -> (B, N, out)``; ``adj`` (B, N, N) is passed to every layer.
    """

    def __init__(self, in_channels: int, adjacency_mask: MaskLike, hidden_channels: int = 128,
                 num_res_blocks: int = 4, out_channels: int = 2, edge_weights: bool = True,
                 weight_init: str = 'official'):
        super().__init__()
        if num_res_blocks < 0:
            raise ValueError(f'SemGCN: num_res_blocks must be >= 0, got {num_res_blocks}')
        self.input_layer = GraphConvBlock(in_channels, hidden_channels, adjacency_mask, edge_weights, weight_init)
        self.res_blocks = nn.ModuleList([
            ResGraphBlock(hidden_channels, adjacency_mask, edge_weights=edge_weights, weight_init=weight_init)
            for _ in range(num_res_blocks)
        ])
        self.output_layer = SemGraphConv(hidden_channels, out_channels, adjacency_mask, edge_weights=edge_weights,
                                         weight_init=weight_init)

    def forward(self, x: Tensor, adj: Optional[Tensor] = None) -> Tensor:
        x = self.input_layer(x, adj)
        for block in self.res_blocks:
            x = block(x, adj)
        return self.output_layer(x, adj)
