# Copyright (c) mmfacealign contributors. All rights reserved.
"""Patch cropping (FFLD Eq. 5-7) and the normalised-input -> feature-map coordinate conversion."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mmfacealign.models.utils import crop_patches, map_to_normalised, normalised_to_map


def eq5_reference(feature: np.ndarray, centres: np.ndarray, h: int, w: int) -> np.ndarray:
    """A literal loop over FFLD Eq. 5-7: (B, C, H, W), (B, K, 2) -> (B, K, C, h, w)."""
    b, c, height, width = feature.shape
    k = centres.shape[1]
    out = np.zeros((b, k, c, h, w))
    for bi in range(b):
        for ki in range(k):
            x, y = centres[bi, ki]
            for q in range(h):
                for p in range(w):
                    yq = y - (h - 1) / 2 + q
                    xp = x - (w - 1) / 2 + p
                    for n in range(height):
                        for m in range(width):
                            wgt = max(0., 1 - abs(yq - n)) * max(0., 1 - abs(xp - m))
                            if wgt:
                                out[bi, ki, :, q, p] += feature[bi, :, n, m] * wgt
    return out


@pytest.fixture
def feature():
    torch.manual_seed(0)
    return torch.randn(2, 3, 7, 9, dtype=torch.float64)


def test_integer_centre_odd_patch_is_slicing(feature):
    centres = torch.tensor([[[4., 3.], [1., 1.]], [[6., 5.], [3., 2.]]], dtype=torch.float64)   # (x, y)
    out = crop_patches(feature, centres, 3)
    assert out.shape == (2, 2, 3, 3, 3)
    for b in range(2):
        for k in range(2):
            x, y = (int(v) for v in centres[b, k])
            torch.testing.assert_close(out[b, k], feature[b, :, y - 1:y + 2, x - 1:x + 2])


def test_half_integer_centre_even_patch_is_slicing(feature):
    centres = torch.tensor([[[4.5, 3.5]], [[3.5, 2.5]]], dtype=torch.float64)
    out = crop_patches(feature, centres, (2, 4))                      # (h, w)
    assert out.shape == (2, 1, 3, 2, 4)
    torch.testing.assert_close(out[0, 0], feature[0, :, 3:5, 3:7])    # y 3..4, x 3..6
    torch.testing.assert_close(out[1, 0], feature[1, :, 2:4, 2:6])


@pytest.mark.parametrize('patch', [3, 4, (2, 5)])
def test_fractional_and_border_centres_match_eq5(feature, patch):
    centres = torch.tensor([[[3.3, 2.7], [0.2, 0.6], [-1.4, 3.1], [8.6, 6.9]],
                            [[5.75, 1.25], [7.9, -0.8], [10.2, 8.4], [-3.5, -3.0]]], dtype=torch.float64)
    h, w = (patch, patch) if isinstance(patch, int) else patch
    out = crop_patches(feature, centres, patch)
    ref = eq5_reference(feature.numpy(), centres.numpy(), h, w)
    np.testing.assert_allclose(out.numpy(), ref, atol=1e-12)
    # the last two landmarks of sample 1 lie (almost) entirely off the map: zero padding
    assert out[1, 3].abs().max() == 0


def test_float32_matches_eq5(feature):
    centres = torch.tensor([[[3.3, 2.7]], [[5.75, 1.25]]])
    out = crop_patches(feature.float(), centres, 8)
    ref = eq5_reference(feature.numpy(), centres.double().numpy(), 8, 8)
    np.testing.assert_allclose(out.numpy(), ref, atol=1e-5)
    assert out.dtype == torch.float32


def test_grouped_equals_ungrouped_on_own_channels():
    torch.manual_seed(1)
    b, k, c = 2, 4, 3
    feature = torch.randn(b, k * c, 10, 12)
    centres = torch.rand(b, k, 2) * torch.tensor([12., 10.]) - 1
    full = crop_patches(feature, centres, 5)                          # (B, K, K*c, 5, 5)
    grouped = crop_patches(feature, centres, 5, groups=k)             # (B, K, c, 5, 5)
    assert grouped.shape == (b, k, c, 5, 5)
    for i in range(k):
        torch.testing.assert_close(grouped[:, i], full[:, i, i * c:(i + 1) * c])
    with pytest.raises(ValueError, match='groups'):
        crop_patches(feature, centres, 5, groups=5)


def test_normalised_to_map_hand_values_and_round_trip():
    # stride-2 map (4 x 4) of an 8-px input; input pixel x = 3 -> n = 0.375
    n = torch.tensor([[0.375, 0.5]])
    torch.testing.assert_close(normalised_to_map(n, (4, 4)), torch.tensor([[1.5, 2.0]]))
    # 'area': cell j covers input pixels 2j, 2j + 1, centre 2j + 0.5 -> u = (3 - 0.5) / 2 = 1.25
    torch.testing.assert_close(normalised_to_map(n, (4, 4), input_size=(8, 8), cell_centre='area'),
                               torch.tensor([[1.25, 1.75]]))
    # map_size is (H, W): x scales with W
    torch.testing.assert_close(normalised_to_map(torch.tensor([0.5, 0.5]), (10, 20)), torch.tensor([10., 5.]))
    torch.testing.assert_close(normalised_to_map(torch.tensor([0.5, 0.5]), (10, 20), input_size=(80, 40),
                                                 cell_centre='area'),
                               torch.tensor([10. - 0.5 + 0.5 / 4, 5. - 0.5 + 0.5 / 4]))
    # stride 1: both conventions are the identity on input pixels
    px = torch.tensor([[13., 7.]])
    for cc in ('conv', 'area'):
        torch.testing.assert_close(normalised_to_map(px / 32, (32, 32), input_size=(32, 32), cell_centre=cc), px)
    coords = torch.rand(3, 5, 2, dtype=torch.float64)
    for kwargs in (dict(), dict(input_size=(224, 224), cell_centre='area')):
        back = map_to_normalised(normalised_to_map(coords, (28, 56), **kwargs), (28, 56), **kwargs)
        torch.testing.assert_close(back, coords)
    with pytest.raises(ValueError, match='input_size'):
        normalised_to_map(coords, (28, 28), cell_centre='area')
    with pytest.raises(ValueError, match='cell_centre'):
        normalised_to_map(coords, (28, 28), cell_centre='corner')


def test_cell_centre_conventions_match_layers():
    """'conv': a 3x3 / stride-2 / pad-1 convolution (ResNet) answers to an input pixel at x on cell x / 2;
    'area': a 2x2 average pool answers on the cell whose centre is 2j + 0.5."""
    size = 16
    img = torch.zeros(1, 1, size, size)
    x, y = 6, 10
    img[0, 0, y, x] = 1
    n = torch.tensor([x / size, y / size])
    resp = F.conv2d(img, torch.tensor([[0., 0, 0], [0, 1, 0], [0, 0, 0]])[None, None], stride=2, padding=1)
    u, v = normalised_to_map(n, (8, 8)).tolist()
    assert resp[0, 0, int(v), int(u)] == 1 and (u, v) == (3., 5.)
    # all-ones 3x3 / stride 2: the cells that see an odd pixel (7, 9) are cells 3, 4 (x) and 4, 5 (y), centred
    # around it, and the conversion puts it half-way between them
    img2 = torch.zeros(1, 1, size, size)
    img2[0, 0, 9, 7] = 1
    resp = F.conv2d(img2, torch.ones(1, 1, 3, 3), stride=2, padding=1)[0, 0]
    ys, xs = torch.nonzero(resp, as_tuple=True)
    assert sorted(set(xs.tolist())) == [3, 4] and sorted(set(ys.tolist())) == [4, 5]
    assert normalised_to_map(torch.tensor([7 / size, 9 / size]), (8, 8)).tolist() == [3.5, 4.5]
    pooled = F.avg_pool2d(img, 2)[0, 0]
    ys, xs = torch.nonzero(pooled, as_tuple=True)                      # cell 3 covers 6, 7 -> centre 6.5
    u, v = normalised_to_map(n, (8, 8), input_size=(size, size), cell_centre='area').tolist()
    assert (u, v) == (2.75, 4.75) and (int(xs), int(ys)) == (round(u), round(v))


def test_gradcheck_feature_and_centres():
    torch.manual_seed(2)
    feature = torch.randn(2, 2, 5, 6, dtype=torch.float64, requires_grad=True)
    # fractional parts 0.3 / 0.8 / 0.2 for all samples (patch offsets are integers for h = 3, halves for w = 2)
    centres = (torch.tensor([[[2., 1.], [0., 3.], [5., 4.]], [[3., 2.], [-1., 0.], [4., 2.]]],
                            dtype=torch.float64) + 0.3).requires_grad_(True)

    def fn(f, c):
        return crop_patches(f, c, (3, 2))

    assert torch.autograd.gradcheck(fn, (feature, centres), eps=1e-6, atol=1e-7)
    # grouped variant too
    assert torch.autograd.gradcheck(lambda f, c: crop_patches(f, c[:, :2], (3, 2), groups=2), (feature, centres),
                                    eps=1e-6, atol=1e-7)


def test_detach_switches():
    feature = torch.randn(1, 2, 6, 6, requires_grad=True)
    centres = torch.tensor([[[2.3, 2.6]]], requires_grad=True)
    crop_patches(feature, centres, 3, detach_feature=True).pow(2).sum().backward()
    assert feature.grad is None and centres.grad is not None and centres.grad.abs().sum() > 0
    centres.grad = None
    crop_patches(feature, centres, 3, detach_centres=True).pow(2).sum().backward()
    assert centres.grad is None and feature.grad is not None and feature.grad.abs().sum() > 0


def test_non_finite_centres_raise_with_name():
    feature = torch.randn(2, 1, 6, 6)
    centres = torch.full((2, 3, 2), 2.)
    centres[0, 1, 0] = float('nan')
    centres[1, 2] = float('inf')
    with pytest.raises(ValueError, match=r'FFLD stage 2: 2 of 6 crop centres are not finite'):
        crop_patches(feature, centres, 3, name='FFLD stage 2')


def test_far_outside_centres_are_clamped():
    feature = torch.randn(1, 2, 8, 8, requires_grad=True)
    centres = torch.tensor([[[1e30, -1e30], [-1e6, 3.], [-100., 3.]]], requires_grad=True)
    out = crop_patches(feature, centres, 4)
    assert torch.isfinite(out).all() and out.abs().max() == 0
    out.sum().backward()
    assert torch.isfinite(centres.grad).all() and torch.isfinite(feature.grad).all()
    # an explicit margin: x = -100 is clamped to -1, whose 4-wide patch (-2.5 .. 0.5) still reaches column 0
    clamped = crop_patches(feature, centres[:, 2:], 4, max_offset=1.)
    torch.testing.assert_close(clamped, crop_patches(feature, torch.tensor([[[-1., 3.]]]), 4))
    assert clamped.abs().max() > 0


def test_bad_shapes_and_empty():
    feature = torch.randn(2, 3, 5, 5)
    with pytest.raises(ValueError, match='centres'):
        crop_patches(feature, torch.zeros(3, 4, 2), 3)
    with pytest.raises(ValueError, match='feature'):
        crop_patches(feature[0], torch.zeros(2, 4, 2), 3)
    assert crop_patches(feature, torch.zeros(2, 0, 2), 3).shape == (2, 0, 3, 3, 3)


def test_map_offsets_to_normalised():
    from mmfacealign.models.utils import map_offsets_to_normalised
    offsets = torch.tensor([[[1., 2.], [0., 0.]]])
    torch.testing.assert_close(map_offsets_to_normalised(offsets, (56, 28)),
                               torch.tensor([[[1 / 28, 2 / 56], [0., 0.]]]))
    # consistent with the position conversion: moving a point by d map pixels moves it by the same normalised step
    n = torch.rand(1, 3, 2)
    u = normalised_to_map(n, (28, 28))
    torch.testing.assert_close(map_to_normalised(u + 1.5, (28, 28)) - n, map_offsets_to_normalised(
        torch.full_like(u, 1.5), (28, 28)))


def test_crop_patches_traced_clamp_bounds_are_numbers():
    """Under torch.jit.trace (FLOP counting) sizes become 0-dim CPU tensors; clamp bounds built from them made the
    trace fail for a CUDA map ("min is on cpu", seen on an H200 in benchmark_model's FLOP count of FFLD)."""
    import warnings
    feature, centres = torch.randn(2, 3, 16, 16), torch.rand(2, 4, 2) * 16
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        graph = torch.jit.trace(lambda f, c: crop_patches(f, c, 4), (feature, centres)).graph
    clamps = [n for n in graph.nodes() if n.kind() == 'aten::clamp']
    assert len(clamps) == 1                     # a square map: one clamp of (x, y) with number bounds
    for node in clamps:
        assert [str(node.inputsAt(i).type()) for i in (1, 2)] == ['float', 'float']


@pytest.mark.parametrize('groups', [None, 3])
def test_separable_crop_equals_grid_sample_and_eq5_with_gradients(groups):
    """The deterministic-backward path (two matrix products) gives grid_sample's values and gradients."""
    torch.manual_seed(0)
    feature = torch.randn(2, 6, 9, 11, dtype=torch.float64)
    centres = torch.rand(2, 3, 2, dtype=torch.float64) * torch.tensor([13., 11.]) - 1.   # some near the border
    outs, grads = {}, {}
    for method in ('grid_sample', 'separable'):
        f, c = feature.clone().requires_grad_(True), centres.clone().requires_grad_(True)
        out = crop_patches(f, c, (4, 5), groups=groups, method=method)
        (out * torch.linspace(-1, 2, out.numel(), dtype=out.dtype).reshape(out.shape)).sum().backward()
        outs[method], grads[method] = out.detach(), (f.grad, c.grad)
    torch.testing.assert_close(outs['separable'], outs['grid_sample'])
    for a, b in zip(grads['separable'], grads['grid_sample']):
        torch.testing.assert_close(a, b)
    if groups is None:
        np.testing.assert_allclose(outs['separable'].numpy(), eq5_reference(feature.numpy(), centres.numpy(), 4, 5),
                                   atol=1e-10)
    with pytest.raises(ValueError, match='method must be one of'):
        crop_patches(feature, centres, 3, method='loop')
    # at integer sample positions both take the one-sided derivative (abs() would give the sum of both sides)
    grads = {}
    for method in ('grid_sample', 'separable'):
        c = torch.tensor([[[2.0, 3.0]]], dtype=torch.float64, requires_grad=True)
        crop_patches(feature[:1], c, 1, method=method).sum().backward()
        grads[method] = c.grad
    torch.testing.assert_close(grads['separable'], grads['grid_sample'])


def test_auto_method_is_separable_only_where_grid_sample_backward_raises(monkeypatch):
    from mmfacealign.models.utils import patch_sampling
    feature, centres = torch.randn(1, 2, 6, 6, requires_grad=True), torch.full((1, 1, 2), 2.5)
    assert not patch_sampling.deterministic_crop_needed(feature, centres)          # CPU
    monkeypatch.setattr(torch.Tensor, 'is_cuda', property(lambda self: True))
    assert not patch_sampling.deterministic_crop_needed(feature, centres)          # deterministic off
    monkeypatch.setattr(torch, 'are_deterministic_algorithms_enabled', lambda: True)
    assert patch_sampling.deterministic_crop_needed(feature, centres)
    with torch.no_grad():
        assert not patch_sampling.deterministic_crop_needed(feature, centres)      # no backward: grid_sample


def test_crop_stays_float32_under_autocast():
    torch.manual_seed(0)
    feature = torch.randn(1, 4, 16, 16)
    centres = torch.tensor([[[7.3, 8.6], [3.21, 11.7]]])
    ref = crop_patches(feature, centres, 8)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = crop_patches(feature.bfloat16(), centres.bfloat16(), 8)      # as a bf16 linear layer gives them
        sep = crop_patches(feature.bfloat16(), centres.bfloat16(), 8, method='separable')
    assert out.dtype == torch.float32 and sep.dtype == torch.float32
    # only the inputs' own bfloat16 rounding remains; the grid and the interpolation run in float32
    ref32 = crop_patches(feature.bfloat16().float(), centres.bfloat16().float(), 8)
    torch.testing.assert_close(out, ref32, rtol=0, atol=1e-6)
    torch.testing.assert_close(sep, ref32, rtol=0, atol=1e-5)
    assert (out - ref).abs().max() < 0.5                  # the inputs' rounding only (features of std 1)
