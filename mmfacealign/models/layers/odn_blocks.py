# Copyright (c) mmfacealign contributors. All rights reserved.
"""ODN's geometry-aware and distillation modules.

ODN: Zhu, Shi, Zheng, Sadiq, "Robust Facial Landmark Detection via Occlusion-adaptive Deep Networks", CVPR 2019 (no
public code: this follows the paper's text). Both take a feature map (C, H, W) (in ODN the 512 x 7 x 7 input of
ResNet-18's last residual unit) and return one of the same size; the paper gives the layer types but not the channel
widths, which are arguments here (defaults below, chosen by us).

* :class:`GeometryAwareModule` (GM, Sec. 3.1, Fig. 2): Pathway-A (1x1, 3x3, 1x1) and Pathway-B (1x1, 5x5, 1x1)
  give maps A and B of the same size, combined "via the matrix outer product of the corresponding channel": the
  response at a position is "a weighted sum of the features at all positions from the corresponding row and
  column". We read this as the per-channel matrix product ``G_c = A_c @ B_c`` (for square maps; see
  :func:`channel_matrix_product` for non-square ones): ``G_c[i, j] = sum_k A_c[i, k] B_c[k, j]`` combines row i
  of A with column j of B. A 1x1 convolution then gives the geometric representation.
* :class:`DistillationModule` (DM, Sec. 3.2): Pathway-C, a residual block (the clean signal path), and
  Pathway-D, the same 1-3-1 structure with fewer kernels ending in a 1x1 convolution to a single-channel map P;
  ``sigmoid(P)`` weights Pathway-C's output at every position (the occlusion-adaptive attention). P is kept on
  the module's output for the L1 term (Eq. 3) and for visualisation (Fig. 6).
"""
from typing import Optional, Tuple

import torch
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from mmpose.models.backbones.resnet import BasicBlock
from mmpose.registry import MODELS
from torch import Tensor, nn

#: Readings of GM's product, see :class:`GeometryAwareModule`.
GM_PRODUCTS = ('matmul', 'outer')
#: Initialisations of DM's gate, see :class:`DistillationModule`.
GATE_INITS = ('pass_through', 'conv')


def channel_matrix_product(a: Tensor, b: Tensor) -> Tensor:
    """Per-channel matrix product of two maps, ``G[n, c] = A[n, c] @ B[n, c]`` (ODN Sec. 3.1, our reading).

    For square maps (H = W, ODN's 7 x 7) this is the plain matrix product of the two H x H channel maps. For
    non-square maps (H != W) both are zero-padded to S x S with S = max(H, W), multiplied and cropped back to
    H x W, i.e. ``G[i, j] = sum_{k < min(H, W)} A[i, k] B[k, j]``: row i of A meets column j of B over the
    positions both have, and the output keeps the input's size. What this drops: for H > W the rows k >= W of B,
    for H < W the columns k >= H of A never enter the product (and get no gradient through it).

    Shapes: ``a, b (N, C, H, W) -> (N, C, H, W)``.
    """
    if a.shape != b.shape or a.ndim != 4:
        raise ValueError(f'channel_matrix_product: expected two (N, C, H, W) maps of one shape, got '
                         f'{tuple(a.shape)} and {tuple(b.shape)}')
    h, w = a.shape[-2:]
    if h == w:
        return torch.matmul(a, b)
    k = min(h, w)
    # A[:, :, :, :k] (H x k) @ B[:, :, :k, :] (k x W) = H x W: the padded product, cropped
    return torch.matmul(a[..., :k], b[..., :k, :])


def _pathway(in_channels: int, mid_channels: int, out_channels: int, kernel_size: int,
             final_act: bool = True) -> nn.Sequential:
    """1x1 -> kxk -> 1x1 convolutions (Conv-BN-ReLU; the last one optionally plain), spatial size kept."""
    return nn.Sequential(
        ConvModule(in_channels, mid_channels, 1, norm_cfg=dict(type='BN')),
        ConvModule(mid_channels, mid_channels, kernel_size, padding=kernel_size // 2, norm_cfg=dict(type='BN')),
        ConvModule(mid_channels, out_channels, 1, norm_cfg=dict(type='BN') if final_act else None,
                   act_cfg=dict(type='ReLU') if final_act else None))


@MODELS.register_module()
class GeometryAwareModule(BaseModule):
    """ODN's geometry-aware module (Sec. 3.1, Fig. 1-2).

    Args:
        in_channels (int): Input channels C.
        out_channels (int, optional): Channels of the geometric representation. Default: ``in_channels``.
        mid_channels (int): Channels inside both pathways. Default 128 (ours; the paper gives none).
        product_channels (int): Channels of A and B, i.e. of the per-channel products. Default 256 (ours).
        product (str): How A and B combine. ``'matmul'`` (default): the per-channel matrix product
            :func:`channel_matrix_product`, the reading of "the matrix outer product of the corresponding channel
            ... a weighted sum of the features at all positions from the corresponding row and column". It
            depends on absolute position: ``G[i, j]`` pairs column k of A with row k of B, and both are
            non-negative after BN + ReLU, so a circular shift of the input is not a shift of the output.
            ``'outer'``: the other reading the text allows ("high-dimensional geometric feature maps"): at every
            position the outer product of A's and B's channel vectors, ``product_channels^2`` channels, which
            commutes with shifts (choose a small ``product_channels``: the 1x1 fusion has
            ``product_channels^2 * out_channels`` weights).

    Shapes: ``forward(x (N, C, H, W)) -> (N, out_channels, H, W)``; any H, W (see
    :func:`channel_matrix_product` for non-square maps).
    """

    def __init__(self, in_channels: int, out_channels: Optional[int] = None, mid_channels: int = 128,
                 product_channels: int = 256, product: str = 'matmul', init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        if product not in GM_PRODUCTS:
            raise ValueError(f'GeometryAwareModule: product must be one of {GM_PRODUCTS}, got {product!r}')
        out_channels = out_channels or in_channels
        self.out_channels = out_channels
        self.product = product
        self.pathway_a = _pathway(in_channels, mid_channels, product_channels, 3)
        self.pathway_b = _pathway(in_channels, mid_channels, product_channels, 5)
        fused = product_channels if product == 'matmul' else product_channels ** 2
        self.fuse = ConvModule(fused, out_channels, 1, norm_cfg=dict(type='BN'))

    def forward(self, x: Tensor) -> Tensor:
        a, b = self.pathway_a(x), self.pathway_b(x)
        if self.product == 'matmul':
            return self.fuse(channel_matrix_product(a, b))
        n, c, h, w = a.shape
        return self.fuse(torch.einsum('nahw,nbhw->nabhw', a, b).reshape(n, c * c, h, w))


@MODELS.register_module()
class DistillationModule(BaseModule):
    """ODN's distillation module (Sec. 3.2, Fig. 1).

    Args:
        in_channels (int): Input channels C (Pathway-C keeps them).
        mid_channels (int): Channels inside Pathway-D, "fewer kernels" than Pathway-A. Default 32 (ours).
        residual_init_cfg (dict, optional): ``init_cfg`` of Pathway-C's residual block (MMPose ``BasicBlock``,
            parameters ``conv1``, ``bn1``, ``conv2``, ``bn2``), e.g. ResNet-18's last unit from ImageNet weights:
            ``dict(type='Pretrained', checkpoint='torchvision://resnet18', prefix='layer4.1.')``. Default None.
        gate_init (str): Initialisation of Pathway-D's last 1x1 convolution (the paper gives none).
            ``'pass_through'`` (default): zero weight and bias ``gate_bias``, so that at the start
            ``sigmoid(P) = sigmoid(gate_bias)`` everywhere and DM passes Pathway-C's output on, scaled by one
            constant; what to suppress is then learnt. ``'conv'``: mmcv's ``ConvModule`` initialisation (Kaiming),
            under which the gate starts saturated in random places (earlier versions of this package).
        gate_bias (float): The pass-through bias. Default 3 (``sigmoid(3) = 0.95``).

    Shapes: ``forward(x (N, C, H, W)) -> (clean (N, C, H, W), P (N, 1, H, W))``, ``clean = C(x) * sigmoid(P)``;
    ``P`` are the logits, ``sigmoid(P)`` the occlusion-adaptive weights, which the paper wants small on
    occluders and background (whether they are is measured by ``tools/analysis_tools/vis_distillation.py``).
    """

    def __init__(self, in_channels: int, mid_channels: int = 32, residual_init_cfg=None,
                 gate_init: str = 'pass_through', gate_bias: float = 3., init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        if gate_init not in GATE_INITS:
            raise ValueError(f'DistillationModule: gate_init must be one of {GATE_INITS}, got {gate_init!r}')
        self.gate_init, self.gate_bias = gate_init, float(gate_bias)
        self.pathway_c = BasicBlock(in_channels, in_channels, init_cfg=residual_init_cfg)
        self.pathway_d = _pathway(in_channels, mid_channels, 1, 3, final_act=False)
        self._init_gate()

    def _init_gate(self) -> None:
        if self.gate_init == 'pass_through':
            conv = self.pathway_d[-1].conv
            nn.init.zeros_(conv.weight)
            nn.init.constant_(conv.bias, self.gate_bias)

    def init_weights(self) -> None:
        """mmengine's initialisation (``residual_init_cfg``, each ``ConvModule``'s own), then the gate's (unless
        the module has an ``init_cfg`` of its own, e.g. pretrained weights)."""
        super().init_weights()
        if self.init_cfg is None:
            self._init_gate()

    def forward(self, x: Tensor) -> Tuple[Tensor, Tensor]:
        logits = self.pathway_d(x)
        return self.pathway_c(x) * torch.sigmoid(logits), logits
