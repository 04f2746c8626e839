# Copyright (c) mmfacealign contributors. All rights reserved.
"""A backbone that hands the (normalised) input image to the neck or head unchanged.

SRN (Zhu et al., Pattern Recognition 2022) crops its patches from the input image at every cascade iteration, so its
head needs the image itself. ``TopdownPoseEstimator`` passes ``backbone(inputs)`` to the head; with this backbone
that is ``(inputs, )``, and everything else of the estimator works unchanged: the data preprocessor's
normalisation, flip test (the estimator flips the input and the head's ``predict`` flips the result back), test-time
decoding. No globals and no estimator subclass are needed.
"""
from typing import Tuple

from mmengine.model import BaseModule
from mmpose.registry import MODELS
from torch import Tensor


@MODELS.register_module()
class ImagePassThrough(BaseModule):
    """``forward(x (B, C, H, W)) -> (x, )``: the image as the only "feature map". It has no parameters."""

    def forward(self, x: Tensor) -> Tuple[Tensor]:
        return (x, )
