# Copyright (c) mmfacealign contributors. All rights reserved.
"""Conversions between MMPose's normalised input coordinates and input-image pixels.

Heads in mmfacealign work in MMPose's canonical space: coordinates normalised by the model input size, as
``RegressionLabel`` encodes them (``x / w``, ``y / h`` in [0, 1]). Losses defined in pixels of the input (e.g. Soft
Wing with the SCDF parameters omega1 = 2, omega2 = 20, epsilon = 0.5 on the 256 x 256 crop; ``method_facts.md``
A.7) convert with these two functions, so the scale lives in one place.
"""
from typing import Sequence, Union

import torch
from torch import Tensor

SizeLike = Union[Sequence[int], Sequence[float], Tensor]


def _size_tensor(input_size: SizeLike, ref: Tensor) -> Tensor:
    size = torch.as_tensor(input_size, dtype=ref.dtype, device=ref.device).flatten()
    if size.numel() != 2:
        raise ValueError(f'input_size must be (w, h), got {input_size!r}')
    return size


def normalised_to_pixels(coords: Tensor, input_size: SizeLike) -> Tensor:
    """``coords * (w, h)``: normalised input coordinates (..., 2) -> input-image pixels (..., 2)."""
    return coords * _size_tensor(input_size, coords)


def pixels_to_normalised(coords: Tensor, input_size: SizeLike) -> Tensor:
    """``coords / (w, h)``: input-image pixels (..., 2) -> normalised input coordinates (..., 2)."""
    return coords / _size_tensor(input_size, coords)
