# Copyright (c) mmfacealign contributors. All rights reserved.
from .occlusion import RandomRectangleOcclusion

__all__ = ['RandomRectangleOcclusion']
