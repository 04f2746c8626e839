# Copyright (c) mmfacealign contributors. All rights reserved.
from .occlusion_adaptive_neck import OcclusionAdaptiveNeck

__all__ = ['OcclusionAdaptiveNeck']
