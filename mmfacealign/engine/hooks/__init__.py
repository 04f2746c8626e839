# Copyright (c) mmfacealign contributors. All rights reserved.
from .align_loss_smoothing_hook import AlignLossSmoothingHook
from .atomic_checkpoint_hook import AtomicCheckpointHook, find_resumable_checkpoint, is_complete_checkpoint
from .freeze_norm_hook import FreezeNormStatsHook, freeze_norm_stats
from .mean_shape_hook import MeanShapeHook, mean_normalised_shape
from .non_finite_loss_hook import NonFiniteLossHook

__all__ = ['AlignLossSmoothingHook', 'FreezeNormStatsHook', 'freeze_norm_stats', 'MeanShapeHook',
           'mean_normalised_shape', 'NonFiniteLossHook']
__all__ += ['AtomicCheckpointHook', 'find_resumable_checkpoint', 'is_complete_checkpoint']
