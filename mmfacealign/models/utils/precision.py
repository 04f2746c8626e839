# Copyright (c) mmfacealign contributors. All rights reserved.
"""Landmark coordinates in float32 under automatic mixed precision.

Under ``torch.autocast`` a linear layer returns bfloat16 / float16. Normalised landmark coordinates in [0, 1] then
carry 8 (bfloat16) or 11 (float16) significant bits: about 0.9 input pixels of rounding at 224 px in bfloat16,
more than the sub-pixel corrections that coarse-to-fine refinement (FFLD Sec. 3.2) and cascaded patch regression
(SRN Sec. 3.1) exist for. The regressors whose outputs are coordinates, the sampling grids and the crops
therefore run in float32 inside :func:`float32_region`; the convolutions around them keep autocast's dtype.
"""
from contextlib import contextmanager

import torch
from torch import Tensor


def autocast_on(t: Tensor) -> bool:
    """Whether autocast is active for ``t``'s device type."""
    return torch.is_autocast_enabled(t.device.type)


@contextmanager
def float32_region(t: Tensor):
    """Autocast off on ``t``'s device inside the block (a no-op when it is off already). It casts nothing: the
    caller casts the block's inputs with ``.float()``, since ops run in their inputs' dtype there."""
    if not autocast_on(t):
        yield
        return
    with torch.autocast(device_type=t.device.type, enabled=False):
        yield
