# Copyright (c) mmfacealign contributors. All rights reserved.
"""Adaptive average pooling as two matrix products, with a deterministic backward.

``nn.AdaptiveAvgPool2d``'s CUDA backward has no deterministic kernel: under
``torch.use_deterministic_algorithms(True)`` (mmengine's ``randomness.deterministic=True``) it raises whenever the
output is not a divisor of the input (ODN's 7 x 7 -> 4 x 4 down-sampling). The same average over PyTorch's bins
(output ``i`` of a size-``S`` axis averages inputs ``floor(i S / s) .. ceil((i + 1) S / s) - 1``) is
``P_h X P_w^T`` with the pooling matrices ``P``, whose backward is a matrix product too.
"""
from typing import Tuple, Union

import torch
from torch import Tensor, nn


def pooling_matrix(size: int, out: int, ref: Tensor) -> Tensor:
    """(out, size): row ``i`` averages PyTorch's adaptive bin ``i`` of a size-``size`` axis."""
    m = torch.zeros(out, size, dtype=ref.dtype, device=ref.device)
    for i in range(out):
        start, end = (i * size) // out, -((-(i + 1) * size) // out)
        m[i, start:end] = 1. / (end - start)
    return m


class MatmulAdaptiveAvgPool2d(nn.Module):
    """``nn.AdaptiveAvgPool2d(output_size)`` computed as ``P_h @ x @ P_w^T``: the same values, deterministic
    gradients on CUDA. Shapes: ``(B, C, H, W) -> (B, C, h, w)``."""

    def __init__(self, output_size: Union[int, Tuple[int, int]]):
        super().__init__()
        self.output_size = (output_size, output_size) if isinstance(output_size, int) else tuple(output_size)

    def forward(self, x: Tensor) -> Tensor:
        h, w = self.output_size
        ph = pooling_matrix(int(x.shape[-2]), h, x)
        pw = pooling_matrix(int(x.shape[-1]), w, x)
        return torch.matmul(torch.matmul(ph, x), pw.t())

    def extra_repr(self) -> str:
        return f'output_size={self.output_size}'
