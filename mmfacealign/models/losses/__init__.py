# Copyright (c) mmfacealign contributors. All rights reserved.
from .align_loss import AlignLoss
from .cascade_nme_loss import CascadeNMELoss
from .low_rank_loss import FrobeniusNormLoss, NuclearNormLoss, low_rank_summary, nuclear_norm
from .map_l1_loss import MapL1Loss
from .normalized_l2_loss import NormalizedL2Loss
from .relative_location_loss import RelativeLocationLoss
from .soft_wing_loss import MeanSoftWingLoss

__all__ = ['CascadeNMELoss',
    'MeanSoftWingLoss', 'RelativeLocationLoss', 'AlignLoss', 'NormalizedL2Loss', 'NuclearNormLoss',
    'FrobeniusNormLoss', 'nuclear_norm', 'low_rank_summary', 'MapL1Loss'
]
