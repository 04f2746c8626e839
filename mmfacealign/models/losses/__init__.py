# Copyright (c) mmfacealign contributors. All rights reserved.
from .align_loss import AlignLoss
from .normalized_l2_loss import NormalizedL2Loss
from .relative_location_loss import RelativeLocationLoss
from .soft_wing_loss import MeanSoftWingLoss

__all__ = ['MeanSoftWingLoss', 'RelativeLocationLoss', 'AlignLoss', 'NormalizedL2Loss']
