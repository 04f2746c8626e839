# Copyright (c) mmfacealign contributors. All rights reserved.
from .resnet_with_stem import ResNetWithStem
from .truncated_resnet import TruncatedResNet

__all__ = ['ResNetWithStem', 'TruncatedResNet']
