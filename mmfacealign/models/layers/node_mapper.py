# Copyright (c) mmfacealign contributors. All rights reserved.
"""Per-landmark node features ("node embedding") of SCDF.

SCDF (Lin et al., TIP 2021), Sec. "landmark-graph relational network", node features: two Conv-BN-ReLU layers turn the
last backbone map ``F (C, H, W)`` into ``H (N*n, H, W)``, reshaped to ``H0 (N, n*H*W)``: landmark ``i`` takes channels
``[n*i, n*i + n)`` (the official code's ``BaseMapToNode``, used by its released ``BaseGCNPredictor``). With ResNet-34 on
a 256 x 256 input: ``512 x 8 x 8 -> 256 -> 4N`` channels, i.e. a 256-d feature per landmark.
"""
from typing import Tuple

from mmcv.cnn import ConvModule
from mmpose.registry import MODELS
from torch import Tensor, nn


@MODELS.register_module()
class NodeMapper(nn.Module):
    """Map a backbone feature map to N node features.

    Args:
        in_channels (int): Channels C of the backbone map (ResNet-34: 512).
        num_nodes (int): Number of landmarks N.
        expansion (int): Channels per landmark n. Default 4 (official).
        mid_channels (int): Channels of the first conv. Default 256 (official).
        norm_cfg (dict): Norm layer. Default ``dict(type='BN')``.

    Shapes:
        ``forward(x (B, C, H, W)) -> (B, N, n*H*W)``; :meth:`embed` gives the conv map ``(B, N*n, H, W)`` and
        :meth:`to_nodes` reshapes it, for users (the dynamic weights) that also need the map.
    """

    def __init__(self, in_channels: int, num_nodes: int, expansion: int = 4, mid_channels: int = 256,
                 norm_cfg: dict = dict(type='BN')):
        super().__init__()
        self.num_nodes = num_nodes
        self.expansion = expansion
        self.out_channels = num_nodes * expansion
        self.conv1 = ConvModule(in_channels, mid_channels, 3, padding=1, norm_cfg=norm_cfg,
                                act_cfg=dict(type='ReLU'))
        self.conv2 = ConvModule(mid_channels, self.out_channels, 3, padding=1, norm_cfg=norm_cfg,
                                act_cfg=dict(type='ReLU'))

    def node_feature_size(self, featuremap_size: Tuple[int, int]) -> int:
        """n * H * W for a feature map of size (W, H) (or (H, W): only the product matters)."""
        return self.expansion * int(featuremap_size[0]) * int(featuremap_size[1])

    def embed(self, x: Tensor) -> Tensor:
        """(B, C, H, W) -> the node-embedding map (B, N*n, H, W)."""
        return self.conv2(self.conv1(x))

    def to_nodes(self, fmap: Tensor) -> Tensor:
        """(B, N*n, H, W) -> (B, N, n*H*W); node i gets channels [n*i, n*i + n), each flattened row-major."""
        b = fmap.shape[0]
        return fmap.reshape(b, self.num_nodes, -1)

    def forward(self, x: Tensor) -> Tensor:
        return self.to_nodes(self.embed(x))
