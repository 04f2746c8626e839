# Copyright (c) mmfacealign contributors. All rights reserved.
"""MMPose's ResNet that also returns the stem output before max-pooling.

FFLD (Yan, Duffner et al., CVIU 2020), Sec. 3 and Table 7 crop patches from three intermediate levels of the
baseline ResNet: the "1st level" is the stride-2 output of the stem convolution *before* max-pooling (112 x 112 at
a 224 input), the "2nd" the stride-4 output of stage 1 (56 x 56), the "3rd" the stride-8 output of stage 2
(28 x 28). MMPose's :class:`~mmpose.models.backbones.ResNet` returns stage outputs only (``out_indices``), after
the max-pooling, so this subclass adds one switch and changes nothing else (same arguments, weights and
state-dict keys as MMPose's ResNet).

With ``ResNetWithStem(depth=18, base_channels=16, stem_channels=16, out_indices=(0, 1, 3))`` (the FFLD
ResNet18-25%) the outputs are::

    index  0: stem (before max-pool)  16 x 112 x 112   paper's 1st level
           1: stage 1 (out index 0)   16 x  56 x  56   2nd level
           2: stage 2 (out index 1)   32 x  28 x  28   3rd level
           3: stage 4 (out index 3)  128 x   7 x   7   last stage, for the coarse regressor
"""
from mmpose.models.backbones import ResNet
from mmpose.registry import MODELS


@MODELS.register_module()
class ResNetWithStem(ResNet):
    """:class:`~mmpose.models.backbones.ResNet` whose outputs start with the pre-pooling stem map.

    Args:
        stem_out (bool): Prepend the stem output (after its ReLU, before max-pooling; stride 2, ``stem_channels``
            channels, with or without ``deep_stem``) to the stage outputs. Default True.
        **kwargs: MMPose ``ResNet`` arguments (``depth``, ``base_channels``, ``stem_channels``, ``out_indices``...).

    Shapes: ``forward(x (B, 3, H, W)) -> (stem (B, C0, H/2, W/2), *stage outputs of out_indices)``.
    """

    def __init__(self, stem_out: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.stem_out = stem_out

    def forward(self, x):
        if self.deep_stem:
            x = self.stem(x)
        else:
            x = self.relu(self.norm1(self.conv1(x)))
        outs = [x] if self.stem_out else []
        x = self.maxpool(x)
        for i, layer_name in enumerate(self.res_layers):
            x = getattr(self, layer_name)(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)
