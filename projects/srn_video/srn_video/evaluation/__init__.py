# Copyright (c) mmfacealign contributors. All rights reserved.
"""Video metrics: the temporal jitter where the ground truth is still (beside FaceAlignmentMetric's NME)."""
from .temporal_jitter import TemporalJitterMetric, still_pairs, temporal_jitter

__all__ = ['TemporalJitterMetric', 'still_pairs', 'temporal_jitter']
