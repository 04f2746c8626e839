# Copyright (c) mmfacealign contributors. All rights reserved.
"""SRN's patch CNN: the convolutional feature extractor shared by every shape-indexed patch and every cascade
iteration (Zhu et al., Pattern Recognition 2022, Sec. 4.1 and Fig. 5; the official code's dimensions,
``models.py``)."""
from typing import Sequence

from mmengine.model import BaseModule
from mmpose.registry import MODELS
from torch import Tensor, nn


@MODELS.register_module()
class PatchCNN(BaseModule):
    """Three valid-padding convolutions, each followed by ReLU and 2x2 max pooling, applied to every patch.

    With the official sizes (36 x 36 RGB patches, 7x7/32, 3x3/64, 3x3/64) the maps run 36 -> 30 -> 15 -> 13 -> 6
    -> 4 -> 2, so each patch becomes 64 x 2 x 2 = 256 values. There is no batch normalisation, as in the official
    code.

    Args:
        in_channels (int): Patch channels. Default 3.
        channels (sequence of int): Output channels of the three convolutions. Default (32, 64, 64).
        kernel_sizes (sequence of int): Their kernel sizes. Default (7, 3, 3).
        init_std (float): Standard deviation of the truncated-normal weight initialisation (biases 0), the
            official code's 0.01. Default 0.01.

    Shapes: ``forward(patches (B, K, C, h, w)) -> (B, K, C_out, h', w')``; :meth:`output_size` gives ``(h', w')``.
    """

    def __init__(self, in_channels: int = 3, channels: Sequence[int] = (32, 64, 64),
                 kernel_sizes: Sequence[int] = (7, 3, 3), init_std: float = 0.01, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        if len(channels) != len(kernel_sizes):
            raise ValueError(f'PatchCNN: channels {tuple(channels)} and kernel_sizes {tuple(kernel_sizes)} must '
                             'have the same length')
        layers = []
        for c_out, k in zip(channels, kernel_sizes):
            layers += [nn.Conv2d(in_channels, c_out, k), nn.ReLU(inplace=True), nn.MaxPool2d(2, 2)]
            in_channels = c_out
        self.layers = nn.Sequential(*layers)
        self.kernel_sizes = tuple(kernel_sizes)
        self.out_channels = in_channels
        self.init_std = init_std

    def init_weights(self):
        super().init_weights()
        if self.init_cfg is None:
            for m in self.layers:
                if isinstance(m, nn.Conv2d):
                    nn.init.trunc_normal_(m.weight, std=self.init_std, a=-2 * self.init_std, b=2 * self.init_std)
                    nn.init.zeros_(m.bias)

    def output_size(self, patch_size: Sequence[int]) -> tuple:
        """``(h', w')`` for an ``(h, w)`` patch; raises if a map would vanish."""
        h, w = patch_size
        for k in self.kernel_sizes:
            h, w = (h - k + 1) // 2, (w - k + 1) // 2
            if h < 1 or w < 1:
                raise ValueError(f'PatchCNN: a {tuple(patch_size)} patch is too small for kernels '
                                 f'{self.kernel_sizes} with 2x2 pooling (the map vanishes)')
        return h, w

    def forward(self, patches: Tensor) -> Tensor:
        if patches.ndim != 5:
            raise ValueError(f'PatchCNN: expected patches (B, K, C, h, w), got shape {tuple(patches.shape)}')
        b, k = patches.shape[:2]
        out = self.layers(patches.flatten(0, 1))
        return out.reshape(b, k, *out.shape[1:])

