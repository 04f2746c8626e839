# Copyright (c) mmfacealign contributors. All rights reserved.
"""Regularisers of ODN's shared structural matrix M: nuclear norm (low rank) and squared Frobenius norm.

ODN (Zhu et al., CVPR 2019), Sec. 4, Eq. 3: the objective adds ``beta ||M||_*`` (the convex surrogate of
``Rank(M)`` in Eq. 2) and ``gamma ||M||_F^2`` to the landmark loss, with beta = 1e-6 and gamma = 1e-5 (Sec. 5,
implementation details).

The nuclear norm is ``tr(|Sigma|)``, the sum of the singular values (Eq. 4); its (sub)gradient is
``U sign(Sigma) V^T`` (Eq. 8; ``sign`` is 1 on the positive singular values and 0 on vanishing ones, a valid
subgradient). Why a custom backward, measured with torch 2.9: autograd through the full ``torch.linalg.svd``
divides by differences of singular values, so any graph that touches its U or V returns NaN as soon as singular
values repeat (M starts as the identity: all of them do) or vanish; autograd through ``torch.linalg.svdvals``
(or ``matrix_norm(ord='nuc')``) is finite but returns the full ``U V^T``, i.e. sign 1 also on vanishing singular
values, which keeps pushing on directions M has already lost. :class:`NuclearNorm` takes the SVD without autograd
and applies Eq. 8 with sign 0 on singular values below the numerical-rank tolerance: the minimum-norm
subgradient, finite for every M, and equal to ``U V^T`` on a full-rank M.
"""
import torch
from mmpose.registry import MODELS
from torch import Tensor, nn


def robust_svd(matrix: Tensor):
    """``torch.linalg.svd(matrix, full_matrices=False)`` that does not stop training when LAPACK's divide-and-
    conquer SVD fails to converge on a finite float32 M (seen once on CPU, ODN on SynthFace at iteration 7:
    ``LinAlgError: linalg.svd: ... failed to converge``): it retries in float64 and, should that fail too, on M plus
    a 1e-7-relative diagonal jitter, and returns U, S, V^T in M's dtype. (d1, d2) -> (d1, k), (k, ), (k, d2)."""
    try:
        return torch.linalg.svd(matrix, full_matrices=False)
    except torch.linalg.LinAlgError:
        pass
    from mmengine.logging import print_log
    print_log(f'nuclear_norm: the float32 SVD of the {tuple(matrix.shape)} matrix did not converge; retrying in '
              'float64', logger='current', level=30)
    wide = matrix.double()
    try:
        u, s, vh = torch.linalg.svd(wide, full_matrices=False)
    except torch.linalg.LinAlgError:
        jitter = 1e-7 * wide.abs().max().clamp_min(1e-12)
        eye = torch.eye(*wide.shape, dtype=wide.dtype, device=wide.device)
        u, s, vh = torch.linalg.svd(wide + jitter * eye, full_matrices=False)
    return u.to(matrix.dtype), s.to(matrix.dtype), vh.to(matrix.dtype)


class NuclearNorm(torch.autograd.Function):
    """``||M||_* = sum(svd(M).S)`` with the subgradient ``U sign(S) V^T`` (ODN Eq. 4, 8). M: (d1, d2) -> scalar.

    Singular values below the numerical rank tolerance ``max(S) * max(d1, d2) * eps`` count as zero (sign 0), so
    a rank-deficient M gets the subgradient of its true rank rather than arbitrary directions of its null space.
    """

    @staticmethod
    def forward(ctx, matrix: Tensor) -> Tensor:
        with torch.no_grad():
            u, s, vh = robust_svd(matrix)
        ctx.save_for_backward(u, s, vh)
        return s.sum()

    @staticmethod
    def backward(ctx, grad_output: Tensor) -> Tensor:
        u, s, vh = ctx.saved_tensors
        # sign(Sigma): singular values are >= 0; those below the numerical rank tolerance (as matrix_rank's) are 0
        tol = s.max().clamp_min(0) * max(u.shape[0], vh.shape[1]) * torch.finfo(s.dtype).eps if s.numel() else 0
        sign = (s > tol).to(u.dtype)
        return grad_output * (u * sign) @ vh


def nuclear_norm(matrix: Tensor) -> Tensor:
    """Nuclear norm of a 2-D tensor with a finite (sub)gradient everywhere (see :class:`NuclearNorm`)."""
    if matrix.ndim != 2:
        raise ValueError(f'nuclear_norm: expected a matrix (d1, d2), got shape {tuple(matrix.shape)}')
    if not bool(torch.isfinite(matrix).all()):
        bad = int((~torch.isfinite(matrix)).sum())
        raise FloatingPointError(
            f'nuclear_norm: {bad} of {matrix.numel()} entries of the {tuple(matrix.shape)} matrix are NaN or Inf: '
            'training has diverged before this step (for ODN, M = head.low_rank.weight; try a lower learning rate '
            'or optim_wrapper.clip_grad)')
    return NuclearNorm.apply(matrix)


@MODELS.register_module()
class NuclearNormLoss(nn.Module):
    """``loss_weight * ||M||_*`` (ODN Eq. 3, the ``beta`` term; default beta = 1e-6, Sec. 5).

    Shapes: ``forward(matrix (d1, d2)) -> scalar``. Its SVD runs in the matrix's dtype and device, once per training
    step (``benchmark_model.py`` prints its share of the step for ODN).
    """

    def __init__(self, loss_weight: float = 1e-6):
        super().__init__()
        self.loss_weight = loss_weight

    def forward(self, matrix: Tensor) -> Tensor:
        return nuclear_norm(matrix) * self.loss_weight


@MODELS.register_module()
class FrobeniusNormLoss(nn.Module):
    """``loss_weight * ||M||_F^2`` (ODN Eq. 3, the ``gamma`` term; default gamma = 1e-5, Sec. 5).

    Shapes: ``forward(matrix (...)) -> scalar`` (the sum of squares of all entries).
    """

    def __init__(self, loss_weight: float = 1e-5):
        super().__init__()
        self.loss_weight = loss_weight

    def forward(self, matrix: Tensor) -> Tensor:
        return matrix.pow(2).sum() * self.loss_weight


def low_rank_summary(matrix: Tensor) -> dict:
    """What the regularisers did to a square M (d, d): numbers to report, not a loss.

    * ``nuclear`` ``||M||_*`` and ``frobenius_sq`` ``||M||_F^2`` (the two terms of Eq. 3, unweighted);
    * ``dist_identity`` ``||M - I||_F`` (M starts as I) and ``rel_dist_identity`` the same over ``||I||_F = sqrt(d)``;
    * ``effective_rank``: ``exp(-sum_i p_i log p_i)`` with ``p_i = sigma_i / sum_j sigma_j`` (Roy and Vetterli,
      EUSIPCO 2007): d when all singular values are equal, 1 for a rank-1 matrix; ``numerical_rank``: singular
      values above ``1e-3 sigma_max``; ``sigma_max``, ``sigma_min``.

    Computed in float64 without gradient."""
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f'low_rank_summary: expected a square matrix (d, d), got shape {tuple(matrix.shape)}')
    m = matrix.detach().double().cpu()
    d = m.shape[0]
    s = torch.linalg.svdvals(m)
    p = s / s.sum().clamp_min(1e-300)
    entropy = -(p[p > 0] * p[p > 0].log()).sum()
    dist = torch.linalg.matrix_norm(m - torch.eye(d, dtype=m.dtype))
    return dict(nuclear=float(s.sum()), frobenius_sq=float(m.pow(2).sum()), dist_identity=float(dist),
                rel_dist_identity=float(dist / d ** 0.5), effective_rank=float(entropy.exp()),
                numerical_rank=int((s > 1e-3 * s.max()).sum()), sigma_max=float(s.max()), sigma_min=float(s.min()))
