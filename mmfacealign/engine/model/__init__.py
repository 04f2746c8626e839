# Copyright (c) mmfacealign contributors. All rights reserved.
from .warmup_ema import WarmupExponentialMovingAverage

__all__ = ['WarmupExponentialMovingAverage']
