# Copyright (c) mmfacealign contributors. All rights reserved.
from .relative_location_loss import RelativeLocationLoss
from .soft_wing_loss import MeanSoftWingLoss

__all__ = ['MeanSoftWingLoss', 'RelativeLocationLoss']
