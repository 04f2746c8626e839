# Copyright (c) mmfacealign contributors. All rights reserved.
from .gcn_head import GCNLandmarkHead

__all__ = ['GCNLandmarkHead']
