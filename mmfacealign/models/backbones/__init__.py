# Copyright (c) mmfacealign contributors. All rights reserved.
from .image_passthrough import ImagePassThrough
from .resnet_with_stem import ResNetWithStem
from .truncated_resnet import TruncatedResNet

__all__ = ['ImagePassThrough', 'ResNetWithStem', 'TruncatedResNet']
