# Copyright (c) mmfacealign contributors. All rights reserved.
"""Conversions between MMPose's normalised input coordinates and input-image pixels.

Heads in mmfacealign work in MMPose's canonical space: coordinates normalised by the model input size, as
``RegressionLabel`` encodes them (``x / w``, ``y / h`` in [0, 1]). Losses defined in pixels of the input (e.g. Soft
Wing with the SCDF parameters omega1 = 2, omega2 = 20, epsilon = 0.5 on the 256 x 256 crop; the official code's
``losses/functional.py``) convert with these two functions, so the scale lives in one place.

Host synchronisation. A size given as Python numbers becomes a tensor on the coordinates' device without a
host-to-device copy (:func:`xy_tensor`): on CUDA, a copy from pageable host memory waits for the device
(``cudaMemcpy`` and a stream synchronisation, which ``torch.cuda.set_sync_debug_mode`` reports), and the
coordinate helpers run several times per training step.
"""
from typing import Sequence, Union

import torch
from torch import Tensor

SizeLike = Union[Sequence[int], Sequence[float], Tensor]


def host_transfer_is_free(ref: Tensor) -> bool:
    """True where moving a value between the host and ``ref``'s device costs no synchronisation (CPU tensors).
    Code that would otherwise copy or read back (:func:`xy_tensor`, the finite check of ``crop_patches``) asks
    this one function, so a test can run the GPU code path on CPU."""
    return ref.device.type == 'cpu'


def xy_tensor(values: SizeLike, ref: Tensor, what: str = 'input_size (w, h)') -> Tensor:
    """``values`` (two numbers, or a tensor of two) as a (2,) tensor of ``ref``'s dtype and device.

    Python numbers on a non-CPU device are written by two fill kernels into a new tensor, not copied from host
    memory, so no host synchronisation happens (a tensor argument is moved with ``.to``, as given)."""
    if isinstance(values, Tensor):
        out = values.to(device=ref.device, dtype=ref.dtype).flatten()
        if out.numel() != 2:
            raise ValueError(f'{what} must have two entries, got {tuple(values.shape)}')
        return out
    vals = [float(v) for v in values]
    if len(vals) != 2:
        raise ValueError(f'{what} must have two entries, got {values!r}')
    if host_transfer_is_free(ref):
        return torch.tensor(vals, dtype=ref.dtype)
    out = ref.new_empty(2)
    out[0], out[1] = vals                    # fill kernels on the device: no host-to-device copy
    return out


def _size_tensor(input_size: SizeLike, ref: Tensor) -> Tensor:
    return xy_tensor(input_size, ref, 'input_size (w, h)')


def normalised_to_pixels(coords: Tensor, input_size: SizeLike) -> Tensor:
    """``coords * (w, h)``: normalised input coordinates (..., 2) -> input-image pixels (..., 2)."""
    return coords * _size_tensor(input_size, coords)


def pixels_to_normalised(coords: Tensor, input_size: SizeLike) -> Tensor:
    """``coords / (w, h)``: input-image pixels (..., 2) -> normalised input coordinates (..., 2)."""
    return coords / _size_tensor(input_size, coords)
