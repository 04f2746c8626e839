# Copyright (c) mmfacealign contributors. All rights reserved.
"""ODN's occlusion-adaptive framework in place of ResNet-18's last residual unit: GM and DM in parallel, their
concatenation, down-sampling.

ODN (Zhu et al., CVPR 2019), Sec. 3 and Fig. 1: the input of the last residual unit goes to the geometry-aware
module (:class:`~mmfacealign.models.layers.GeometryAwareModule`) and the distillation module
(:class:`~mmfacealign.models.layers.DistillationModule`) in parallel. The end of Sec. 3.2: "geometric feature
maps and clean feature representation of holistic face are concatenated into one high-dimensional feature map ...
The hybrid feature maps are down-sampled and flattened into a feature vector as the input of the low-rank
learning module".

Down-sampling (the paper gives none): a 1x1 Conv-BN-ReLU to ``reduce_channels`` then adaptive average pooling to
``pool_size x pool_size``, so that the flattened vector has ``d = reduce_channels * pool_size^2`` entries, 512 by
default (32 x 4 x 4). The low-rank module's M is d x d and its nuclear norm needs one SVD of M per training step:
at d = 512 that is 0.26M parameters (the SVD's measured time is in configs/odn/README.md, "Why d = 512" and "Cost"),
where flattening the 1024 x 7 x 7 hybrid map as it is (d = 50176) would make M 2.5 billion parameters. The 4 x 4 grid
keeps a coarse layout of the face that global pooling would lose.
"""
from typing import Sequence, Tuple

import torch
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from mmpose.models.backbones.resnet import BasicBlock
from mmpose.registry import MODELS
from torch import Tensor

from ..layers.adaptive_pool import MatmulAdaptiveAvgPool2d


@MODELS.register_module()
class OcclusionAdaptiveNeck(BaseModule):
    """GM and DM in parallel on the last backbone map, concatenation, down-sampling (ODN Sec. 3, Fig. 1).

    Args:
        in_channels (int): Channels of the backbone map it reads (ResNet-18: 512).
        use_gm (bool): Geometry-aware module on. Default True.
        use_dm (bool): Distillation module on. Default True. With it off, a plain residual unit (MMPose's
            ``BasicBlock``, i.e. DM's Pathway-C without Pathway-D's gate) takes the removed unit's place: alone
            with GM off (the baseline ResNet-18 of the paper's Table 4), beside GM with GM on ("+GM+LM").
        residual_without_dm (bool): Keep that residual unit beside GM when DM is off. Default True: Table 4's
            "+GM+LM" row adds GM and LM to the baseline, so the baseline's last unit stays. ``False``: GM alone
            in the last unit's place (the reading of earlier versions of this package).
        gm (dict): Extra arguments of :class:`GeometryAwareModule` (``mid_channels``, ``product_channels``,
            ``out_channels``).
        dm (dict): Extra arguments of :class:`DistillationModule` (``mid_channels``).
        reduce_channels (int): Channels after the 1x1 down-sampling convolution. Default 32.
        pool_size (int): Output grid of the adaptive average pooling. Default 4.
        in_index (int): Which backbone output it reads. Default -1.
        residual_init_cfg (dict, optional): ``init_cfg`` of the residual block in the removed unit's place: the
            plain ``BasicBlock`` when both modules are off (BRNet) and DM's Pathway-C. The 224 configs load
            ResNet-18's last unit from ImageNet, ``dict(type='Pretrained', checkpoint='torchvision://resnet18',
            prefix='layer4.1.')``, so that BRNet is the pretrained ResNet-18. Default None (PyTorch's init).

    Shapes: ``forward(feats) -> (hybrid (B, reduce_channels, pool_size, pool_size), P (B, 1, H, W))``, or
    ``(hybrid, )`` without the distillation module; ``P`` are the distillation logits (``sigmoid(P)`` is the
    weight map) for the L1 term and visualisation. ``num_features`` is d, the flattened size of ``hybrid``.
    """

    def __init__(self, in_channels: int = 512, use_gm: bool = True, use_dm: bool = True, gm: dict = dict(),
                 dm: dict = dict(), reduce_channels: int = 32, pool_size: int = 4, in_index: int = -1,
                 residual_init_cfg=None, residual_without_dm: bool = True, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.in_index = in_index
        self.in_channels = in_channels
        self.use_gm, self.use_dm = use_gm, use_dm
        hybrid_channels = 0
        if use_gm:
            self.gm = MODELS.build(dict(type='GeometryAwareModule', in_channels=in_channels, **gm))
            hybrid_channels += self.gm.out_channels
        if use_dm:
            self.dm = MODELS.build(dict(type='DistillationModule', in_channels=in_channels,
                                        residual_init_cfg=residual_init_cfg, **dm))
            hybrid_channels += in_channels
        self.residual_without_dm = residual_without_dm
        if not use_dm and (residual_without_dm or not use_gm):
            self.plain = BasicBlock(in_channels, in_channels, init_cfg=residual_init_cfg)
            hybrid_channels += in_channels
        self.reduce = ConvModule(hybrid_channels, reduce_channels, 1, norm_cfg=dict(type='BN'))
        self.pool = MatmulAdaptiveAvgPool2d(pool_size)     # deterministic backward on CUDA (7 -> 4)
        self.num_features = reduce_channels * pool_size * pool_size

    def forward(self, feats: Sequence[Tensor]) -> Tuple[Tensor, ...]:
        x = feats[self.in_index] if isinstance(feats, (list, tuple)) else feats
        if x.shape[1] != self.in_channels:
            raise ValueError(f'OcclusionAdaptiveNeck: the backbone map has {x.shape[1]} channels, but '
                             f'model.neck.in_channels={self.in_channels} (ResNet-18: 8 * base_channels)')
        parts, logits = [], None
        if self.use_gm:
            parts.append(self.gm(x))
        if self.use_dm:
            clean, logits = self.dm(x)
            parts.append(clean)
        if hasattr(self, 'plain'):
            parts.append(self.plain(x))
        hybrid = self.pool(self.reduce(torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]))
        return (hybrid, ) if logits is None else (hybrid, logits)
