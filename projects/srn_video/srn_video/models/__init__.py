# Copyright (c) mmfacealign contributors. All rights reserved.
from .video_estimator import SRNVideoEstimator

__all__ = ['SRNVideoEstimator']
