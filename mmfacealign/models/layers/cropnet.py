# Copyright (c) mmfacealign contributors. All rights reserved.
"""CropNet: one refinement stage of FFLD.

FFLD (Yan, Duffner et al., CVIU 2020), Sec. 3.2, Fig. 4 and Table 7. Given a low-level feature map (C, H, W) and
the current landmark estimate, a CropNet

1. crops an ``h x w`` patch (8 x 8) around every landmark with bilinear interpolation (Eq. 5-7,
   :func:`~mmfacealign.models.utils.crop_patches`), giving N patches of C channels: "32N channels" at the 3rd
   level of ResNet18-25%;
2. selects channels with a linear 1x1 convolution, C -> 4 per landmark ("32N to 4N", Fig. 4-5). The paper does not say
   whether the selection mixes channels across landmarks. Default ``'grouped'``: landmark k's 4 channels are a linear
   map of its own patch's C channels only (one (4, C) matrix per landmark); only this reading reproduces the paper's
   1.46M parameters (Sec. 6.5; our count: 1.464M for AFLW's 19 points). ``'full'``: one 1x1 convolution over all N * C
   channels of the concatenated patches (cross-landmark). The weights are a 1x1 convolution's either way; the grouped
   one is computed as one batched matrix product (see :meth:`CropNet.select_channels`);
3. BatchNorm over the 4N channels, one residual block 4N -> 128 (MMPose's ``BasicBlock`` with a 1x1 projection
   shortcut), max-pooling over the whole patch (stride 8 on 8 x 8), FC 128 -> 2N, initialised to zero so that
   an untrained stage returns its input estimate unchanged (Sec. 6.6).

The output is the correction ``dS`` in pixels of the cropped map (the patch's own grid): the head converts it to
normalised input coordinates, so every stage's correction has the scale of its own level.

Cropping first and selecting channels on the 8 x 8 patches (instead of on the whole map) computes the same
features wherever the patch lies inside the map, for a fraction of the cost at the 112 x 112 first level; the
selection has no bias (BatchNorm follows), so it is also exact in the zero-padded parts of a border patch.
"""
from typing import Tuple, Union

import torch
from mmpose.models.backbones.resnet import BasicBlock
from mmpose.registry import MODELS
from torch import Tensor, nn

from ..utils.patch_sampling import crop_patches

#: Readings of the channel selection, see the module docstring.
CHANNEL_SELECTIONS = ('grouped', 'full')
#: Values of ``detach_centres``, see :class:`CropNet`.
DETACH_CENTRES = (False, True, 'grid')


class PatchMaxPool(nn.Module):
    """Max over the whole patch, (B, C, h, w) -> (B, C, 1, 1): Table 7's max-pool of stride 8 on 8 x 8.

    ``amax`` instead of ``nn.AdaptiveMaxPool2d(1)``: the same values, and a backward that has a deterministic
    CUDA kernel (``AdaptiveMaxPool2d``'s raises under ``torch.use_deterministic_algorithms(True)``, which
    mmengine's ``randomness.deterministic=True`` sets). Tied maxima share the gradient equally."""

    def forward(self, x: Tensor) -> Tensor:
        return x.amax(dim=(-2, -1), keepdim=True)


@MODELS.register_module()
class CropNet(nn.Module):
    """One FFLD refinement stage: crop, channel selection, residual block, max-pool, FC (zero init).

    Args:
        num_joints (int): Number of landmarks N.
        in_channels (int): Channels C of the feature map it crops (ResNet18-25%: 32 at the 3rd level, 16 at the
            2nd and 1st).
        patch_size (int | (int, int)): Patch size ``h x w``. Default 8 (Sec. 3.2).
        selected_channels (int): Channels kept per landmark. Default 4 (Fig. 5).
        channel_selection (str): ``'grouped'`` (default, per landmark) or ``'full'`` (cross-landmark 1x1 conv).
        mid_channels (int): Output channels of the residual block. Default 128 (Table 7).
        detach_feature (bool): Cut the gradient from this stage to the feature map (Table 6). Default False.
        detach_centres (bool | str): Cut the gradient from this stage to the crop locations (Table 6). Default
            False. ``True`` (Table 6's "no back-propagation to the locations"): the stage's losses reach no earlier
            stage through the estimate ``S_{t-1}`` it refines, neither through the sampling grid nor through the
            skip ``S_t = S_{t-1} + dS_t`` (:class:`~mmfacealign.models.heads.CropNetHead` detaches ``S_{t-1}``).
            ``'grid'``: only the sampling grid is cut; the skip still passes the gradient to earlier stages.
        channels_last (bool): Run the residual block in ``torch.channels_last`` memory format (its weights and
            input), which CPU and GPU convolution backends run faster on the small 8 x 8 patches; the same
            numbers up to rounding. Default True.

    Shapes: ``forward(feature (B, C, H, W), centres (B, N, 2) in map pixels) -> dS (B, N, 2) in map pixels``.
    """

    def __init__(self,
                 num_joints: int,
                 in_channels: int,
                 patch_size: Union[int, Tuple[int, int]] = 8,
                 selected_channels: int = 4,
                 channel_selection: str = 'grouped',
                 mid_channels: int = 128,
                 detach_feature: bool = False,
                 detach_centres: Union[bool, str] = False,
                 channels_last: bool = True):
        super().__init__()
        if detach_centres not in DETACH_CENTRES:
            raise ValueError(f'CropNet: detach_centres must be one of {DETACH_CENTRES}, got {detach_centres!r}')
        if detach_centres != 'grid':
            detach_centres = bool(detach_centres)              # 0 / 1 mean False / True, not 'grid'
        if channel_selection not in CHANNEL_SELECTIONS:
            raise ValueError(f'CropNet: channel_selection must be one of {CHANNEL_SELECTIONS}, '
                             f'got {channel_selection!r}')
        self.num_joints = num_joints
        self.in_channels = in_channels
        self.patch_size = patch_size
        self.selected_channels = selected_channels
        self.channel_selection = channel_selection
        self.detach_feature = detach_feature
        self.detach_centres = detach_centres
        k, s = num_joints, selected_channels
        if channel_selection == 'grouped':
            # one linear map (s, C) per landmark: a 1x1 conv with N groups on the concatenated patches
            self.select = nn.Conv2d(k * in_channels, k * s, kernel_size=1, groups=k, bias=False)
        else:
            self.select = nn.Conv2d(k * in_channels, k * s, kernel_size=1, bias=False)
        self.bn = nn.BatchNorm2d(k * s)
        shortcut = nn.Sequential(nn.Conv2d(k * s, mid_channels, kernel_size=1, bias=False),
                                 nn.BatchNorm2d(mid_channels))
        self.block = BasicBlock(k * s, mid_channels, downsample=shortcut)
        self.pool = PatchMaxPool()
        self.fc = nn.Linear(mid_channels, 2 * k)
        nn.init.zeros_(self.fc.weight)
        nn.init.zeros_(self.fc.bias)
        self.channels_last = channels_last
        if channels_last:
            self.block.to(memory_format=torch.channels_last)

    def crop(self, feature: Tensor, centres: Tensor, name: str = 'CropNet') -> Tensor:
        """Patches (B, N, C, h, w) around ``centres`` (B, N, 2, map pixels), with this stage's detach switches."""
        if feature.shape[1] != self.in_channels:
            raise ValueError(f'{name}: the feature map has {feature.shape[1]} channels, this CropNet was built '
                             f'for in_channels={self.in_channels}')
        return crop_patches(feature, centres, self.patch_size, detach_feature=self.detach_feature,
                            detach_centres=bool(self.detach_centres), name=name)

    def select_channels(self, patches: Tensor, detach_weights: bool = False) -> Tensor:
        """Channel selection of patches (B, N, C, h, w) -> (B, N, s, h, w).

        ``detach_weights`` applies the selection without letting gradients reach its weights (used by the Align
        Loss, which must not be able to lower itself by shrinking the selection)."""
        b, k, c, h, w = patches.shape
        weight = self.select.weight.detach() if detach_weights else self.select.weight     # (N s, C, 1, 1)
        if self.channel_selection == 'grouped':
            # (N, s, C) @ (B, N, C, h w): one batched matrix product, the numbers of the grouped 1x1 convolution
            # that holds the weights (checkpoints keep its layout), which CPU backends run as N slow-path calls
            out = torch.matmul(weight.reshape(k, self.selected_channels, c), patches.reshape(b, k, c, h * w))
        else:
            out = nn.functional.conv2d(patches.reshape(b, k * c, h, w), weight)
        out = out.reshape(b, k, self.selected_channels, h, w)
        bias = self.select.bias                  # None unless BatchNorm was folded in (mmcv's fuse_conv_bn)
        if bias is not None:
            out = out + (bias.detach() if detach_weights else bias).reshape(k, self.selected_channels, 1, 1)
        return out

    def forward(self, feature: Tensor, centres: Tensor, name: str = 'CropNet') -> Tensor:
        b, k = centres.shape[:2]
        if k != self.num_joints:
            raise ValueError(f'{name}: got {k} crop centres, this CropNet was built for {self.num_joints}')
        x = self.select_channels(self.crop(feature, centres, name))       # (B, N, s, h, w)
        x = self.bn(x.flatten(1, 2))                                       # (B, N s, h, w)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        x = self.block(x)                                                  # (B, 128, h, w)
        return self.fc(self.pool(x).flatten(1)).reshape(b, k, 2)

    def extra_repr(self) -> str:
        return (f'num_joints={self.num_joints}, in_channels={self.in_channels}, patch_size={self.patch_size}, '
                f'selected_channels={self.selected_channels}, channel_selection={self.channel_selection!r}, '
                f'detach_feature={self.detach_feature}, detach_centres={self.detach_centres}, '
                f'channels_last={self.channels_last}')
