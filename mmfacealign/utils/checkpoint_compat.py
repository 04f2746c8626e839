# Copyright (c) mmfacealign contributors. All rights reserved.
"""Make mmengine checkpoints loadable under torch's safe ``torch.load``.

torch >= 2.6 loads with ``weights_only=True`` by default, and mmengine 0.10.7 calls ``torch.load`` without
``weights_only=False``. mmengine checkpoints hold numpy arrays and scalars (dataset metainfo, RNG state) and
``HistoryBuffer`` objects (the message hub), so ``--resume``, ``load_from`` and ``tools/test.py`` fail with
``UnpicklingError: Weights only load failed ... numpy._core.multiarray._reconstruct``.

Instead of turning safe loading off (``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1`` would let any pickle run code), this
module adds exactly what mmengine checkpoints contain to torch's allow-list (``torch.serialization.add_safe_globals``):
numpy's array/scalar reconstructors and dtype classes, ``bytes`` (numpy's raw buffers), mmengine's
``HistoryBuffer``, and ``getattr`` (``HistoryBuffer`` pickles its statistics methods as ``getattr(HistoryBuffer,
'min')``). torch's safe unpickler only *calls* allow-listed callables, so ``getattr`` lets a file look attributes
up but not invoke what it finds; the list was found by loading real checkpoints (see the tests). It runs when
``mmfacealign`` is imported, i.e. for every config with
``custom_imports=dict(imports=['mmfacealign'])``, before the runner loads anything.
"""
from typing import List

import numpy as np

_DONE = False


def checkpoint_safe_globals() -> List[object]:
    """The numpy and mmengine objects found in mmengine checkpoints."""
    try:
        from numpy._core.multiarray import _reconstruct, scalar
    except ImportError:  # numpy < 2
        from numpy.core.multiarray import _reconstruct, scalar
    from mmengine.logging.history_buffer import HistoryBuffer

    dtype_classes = {type(np.dtype(code)) for code in '?bBhHiIlLqQefdgFDGSUVOMm'}
    return [_reconstruct, scalar, np.ndarray, np.dtype, bytes, getattr, HistoryBuffer,
            *sorted(dtype_classes, key=str)]


def allow_mmengine_checkpoints() -> None:
    """Register :func:`checkpoint_safe_globals` with torch (idempotent; no-op on torch without the API)."""
    global _DONE
    if _DONE:
        return
    import torch
    add = getattr(torch.serialization, 'add_safe_globals', None)
    if add is not None:
        add(checkpoint_safe_globals())
    _DONE = True
