# Copyright (c) mmfacealign contributors. All rights reserved.
from .align_loss_smoothing_hook import AlignLossSmoothingHook

__all__ = ['AlignLossSmoothingHook']
