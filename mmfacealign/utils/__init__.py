# Copyright (c) mmfacealign contributors. All rights reserved.
from .checkpoint_compat import allow_mmengine_checkpoints, checkpoint_safe_globals

__all__ = ['allow_mmengine_checkpoints', 'checkpoint_safe_globals']
