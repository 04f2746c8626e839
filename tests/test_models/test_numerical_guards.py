# Copyright (c) mmfacealign contributors. All rights reserved.
"""Numerical guards at the degenerate points training can reach: ODN's low-rank SVD on rank-deficient / zero /
repeated-singular-value M (through the whole head), the inter-ocular normaliser of the losses at coinciding eye
corners, and patch cropping at diverged centres through the layers that call it."""
import pytest
import torch

from mmfacealign.models import CropNet, LowRankRegressionHead
from mmfacealign.models.losses import CascadeNMELoss, NormalizedL2Loss


def _degenerate_m(kind, d):
    g = torch.Generator().manual_seed(0)
    if kind == 'zero':
        return torch.zeros(d, d)
    if kind == 'identity':                                   # every singular value repeated (the initial M)
        return torch.eye(d)
    if kind == 'rank1':
        return torch.outer(torch.randn(d, generator=g), torch.randn(d, generator=g))
    if kind == 'repeated_rows':                              # rank d/2, each singular value twice over
        half = torch.randn(d // 2, d, generator=g)
        return torch.cat([half, half])
    if kind == 'tiny':                                       # singular values near the float32 tolerance
        return torch.eye(d) * 1e-30
    raise ValueError(kind)


@pytest.mark.parametrize('kind', ['zero', 'identity', 'rank1', 'repeated_rows', 'tiny'])
def test_low_rank_head_losses_and_gradients_are_finite_for_degenerate_m(kind):
    """The whole head (M^T X, FC, the L2, nuclear and Frobenius terms) backpropagates finite values; on the zero
    matrix the nuclear term's subgradient is 0 (sign(0) = 0), elsewhere it is U sign(S) V^T of the true rank."""
    torch.manual_seed(0)
    d, k = 16, 3
    head = LowRankRegressionHead(in_features=d, num_joints=k,
                                 nuclear_loss=dict(type='NuclearNormLoss', loss_weight=1.0))
    with torch.no_grad():
        head.low_rank.weight.copy_(_degenerate_m(kind, d))
    feats = (torch.randn(4, d, 1, 1), )
    labels, weights = torch.rand(4, k, 2), torch.ones(4, k)
    _, losses = head.loss_terms(feats, labels, weights, None)
    assert all(torch.isfinite(v) for v in losses.values()), losses
    sum(losses.values()).backward()
    for name, p in head.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    m = head.low_rank.weight.detach()
    torch.testing.assert_close(losses['loss_nuclear'].detach(), torch.linalg.svdvals(m).sum())
    # the nuclear term's own subgradient has the rank of M (0 for the zero matrix)
    m_req = m.clone().requires_grad_()
    head.nuclear_loss(m_req).backward()
    rank = int(torch.linalg.matrix_rank(m))
    assert int(torch.linalg.matrix_rank(m_req.grad)) == rank
    if kind == 'zero':
        assert m_req.grad.abs().max() == 0


def test_nuclear_norm_of_nan_m_is_a_clear_error():
    head = LowRankRegressionHead(in_features=4, num_joints=1)
    with torch.no_grad():
        head.low_rank.weight[1, 2] = float('nan')
    with pytest.raises(FloatingPointError, match=r'nuclear_norm: 1 of 16 entries .* NaN or Inf.*head\.low_rank'):
        head.loss_terms((torch.randn(2, 4), ), torch.rand(2, 1, 2), torch.ones(2, 1), None)


@pytest.mark.parametrize('loss', [NormalizedL2Loss(), CascadeNMELoss()], ids=['NormalizedL2Loss', 'CascadeNMELoss'])
def test_inter_ocular_losses_are_finite_at_coinciding_eye_corners(loss):
    """The documented guard: the normaliser is clamped to eps (no division by zero, no NaN gradient), also when the
    prediction equals the target (the norm's gradient at 0)."""
    target = torch.rand(2, 68, 2)
    target[0, 45] = target[0, 36]                            # face 0: zero inter-ocular distance
    for pred in (target + 0.01, target.clone()):
        pred = pred.requires_grad_()
        value = loss(pred, target)
        value.backward()
        assert torch.isfinite(value) and torch.isfinite(pred.grad).all()


def test_cropnet_at_diverged_centres_reads_zeros_and_names_nan():
    """Diverged (far outside, even 1e30) centres give all-zero patches and finite gradients, so the refinement
    stage sees "nothing here" and its prediction stays finite; a NaN centre is an error naming the stage."""
    torch.manual_seed(0)
    net = CropNet(in_channels=4, num_joints=3, patch_size=4, selected_channels=2)
    feature = torch.randn(2, 4, 8, 8, requires_grad=True)
    centres = torch.tensor([[[1e30, -1e30], [-1e6, 3.], [3., 4.]], [[2., 2.], [5e4, 5e4], [3., 1.]]],
                           requires_grad=True)
    patches = net.crop(feature, centres, name='FFLD stage 1')
    assert torch.isfinite(patches).all()
    assert patches[0, 0].abs().max() == 0 and patches[0, 1].abs().max() == 0 and patches[1, 1].abs().max() == 0
    assert patches[0, 2].abs().max() > 0
    offsets = net(feature, centres, name='FFLD stage 1')                   # the whole stage: finite offsets
    assert offsets.shape == (2, 3, 2) and torch.isfinite(offsets).all()
    (patches.pow(2).sum() + offsets.sum()).backward()
    assert torch.isfinite(feature.grad).all() and torch.isfinite(centres.grad).all()
    bad = centres.detach().clone()
    bad[1, 2, 0] = float('nan')
    with pytest.raises(ValueError, match=r'FFLD stage 1: 1 of 6 crop centres are not finite'):
        net.crop(feature, bad, name='FFLD stage 1')


def test_nuclear_norm_survives_a_float32_svd_that_does_not_converge(monkeypatch):
    """LAPACK's float32 SVD failed to converge once on a finite M during ODN training (SynthFace, iteration 7):
    the nuclear norm retries in float64 (and with a tiny diagonal jitter after that) instead of stopping training,
    with the same value and subgradient."""
    import torch

    from mmfacealign.models.losses import low_rank_loss
    from mmfacealign.models.losses.low_rank_loss import nuclear_norm
    torch.manual_seed(0)
    m = torch.randn(6, 4)
    expected = torch.linalg.svdvals(m).sum()
    real_svd = torch.linalg.svd
    calls = []

    def flaky_svd(a, full_matrices=True, fail_double=False):
        calls.append(a.dtype)
        if a.dtype == torch.float32 or (fail_double and len(calls) == 2):
            raise torch.linalg.LinAlgError('linalg.svd: The algorithm failed to converge')
        return real_svd(a, full_matrices=full_matrices)

    monkeypatch.setattr(low_rank_loss.torch.linalg, 'svd', flaky_svd)
    x = m.clone().requires_grad_(True)
    value = nuclear_norm(x)
    value.backward()
    assert calls == [torch.float32, torch.float64] and value.dtype == torch.float32
    torch.testing.assert_close(value, expected)
    u, _, vh = real_svd(m, full_matrices=False)
    torch.testing.assert_close(x.grad, u @ vh)                 # full rank: the subgradient is U V^T
    # the float64 retry failing too: M + 1e-7 max|M| I, still within float32 rounding of the true norm
    calls.clear()
    monkeypatch.setattr(low_rank_loss.torch.linalg, 'svd',
                        lambda a, full_matrices=True: flaky_svd(a, full_matrices, fail_double=True))
    torch.testing.assert_close(nuclear_norm(m), expected, rtol=1e-5, atol=1e-5)
    assert calls == [torch.float32, torch.float64, torch.float64]
