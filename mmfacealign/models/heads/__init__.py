# Copyright (c) mmfacealign contributors. All rights reserved.
from .base_regression_head import BaseLandmarkRegressionHead
from .cropnet_head import CropNetHead
from .gcn_head import GCNLandmarkHead
from .low_rank_head import LowRankRegressionHead
from .occlusion_head import OcclusionPredictHead
from .srn_head import SRNHead

__all__ = ['SRNHead', 'BaseLandmarkRegressionHead', 'CropNetHead', 'GCNLandmarkHead', 'LowRankRegressionHead',
           'OcclusionPredictHead']
