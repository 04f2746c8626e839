# Copyright (c) mmfacealign contributors. All rights reserved.
from .resnet_with_stem import ResNetWithStem

__all__ = ['ResNetWithStem']
