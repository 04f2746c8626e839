# Copyright (c) mmfacealign contributors. All rights reserved.
"""FFLD Align Loss (Sec. 4.3, Eq. 2)."""
import math

import pytest
import torch
import torch.nn.functional as F
from mmpose.registry import MODELS

from mmfacealign.models.losses import AlignLoss
from mmfacealign.models.losses.align_loss import gaussian_kernel2d
from mmfacealign.models.utils import crop_patches


def blob_map(size=32, cx=16., cy=16., sigma=3.):
    ys, xs = torch.meshgrid(torch.arange(size, dtype=torch.float32), torch.arange(size, dtype=torch.float32),
                            indexing='ij')
    return torch.exp(-((xs - cx)**2 + (ys - cy)**2) / (2 * sigma**2))[None, None]


def edge_map(size=32, edge=16):
    """0 left of x = edge, 1 from x = edge on: a vertical boundary between columns 15 and 16."""
    m = torch.zeros(1, 1, size, size)
    m[..., edge:] = 1
    return m


def test_gaussian_kernel():
    k = gaussian_kernel2d(3, 1.0)
    assert k.shape == (3, 3)
    torch.testing.assert_close(k.sum(), torch.tensor(1.))
    g = torch.tensor([math.exp(-0.5), 1., math.exp(-0.5)])
    torch.testing.assert_close(k, (g[:, None] * g[None]) / (g.sum()**2))
    with pytest.raises(ValueError):
        gaussian_kernel2d(4, 1.0)


def test_zero_at_ground_truth_and_grows_with_offset():
    loss = AlignLoss()
    feature = blob_map()
    gt = torch.tensor([[[16., 16.]]])
    assert loss(feature, gt.clone(), gt).item() == 0
    values = [loss(feature, gt + torch.tensor([d, 0.]), gt).item() for d in (0.25, 0.5, 1., 2., 3.)]
    assert all(a < b for a, b in zip(values, values[1:])) and values[0] > 0


def test_eq2_by_hand_without_smoothing():
    torch.manual_seed(0)
    feature = torch.randn(2, 3, 12, 12)
    pred, gt = torch.rand(2, 4, 2) * 11, torch.rand(2, 4, 2) * 11
    loss = AlignLoss(patch_size=5, smoothing=False, reduction='none')
    expected = (crop_patches(feature, pred, 5) - crop_patches(feature, gt, 5)).pow(2).sum(dim=(2, 3, 4))
    torch.testing.assert_close(loss(feature, pred, gt), expected)
    torch.testing.assert_close(AlignLoss(patch_size=5, smoothing=False)(feature, pred, gt), expected.mean())
    torch.testing.assert_close(AlignLoss(patch_size=5, smoothing=False, reduction='sum', loss_weight=2.)(
        feature, pred, gt), 2 * expected.sum())
    # with smoothing: G * each patch channel, zero padding at the patch border
    smoothed = AlignLoss(patch_size=5, reduction='none')(feature, pred, gt)
    k = gaussian_kernel2d(3, 1.)[None, None]

    def g(p):
        return F.conv2d(p.reshape(-1, 1, 5, 5), k, padding=1).reshape(p.shape)

    torch.testing.assert_close(smoothed, (g(crop_patches(feature, pred, 5)) - g(crop_patches(feature, gt, 5)))
                               .pow(2).sum(dim=(2, 3, 4)))


@pytest.mark.parametrize('smoothing', [True, False])
def test_more_sensitive_across_a_boundary_than_along_it(smoothing):
    """FFLD Fig. 6 (e): the same offset costs more across the edge (x) than along it (y)."""
    loss = AlignLoss(smoothing=smoothing)
    feature = edge_map()
    gt = torch.tensor([[[15.5, 15.5]]])                               # on the boundary
    for d in (0.5, 1., 2.):
        across = loss(feature, gt + torch.tensor([d, 0.]), gt).item()
        along = loss(feature, gt + torch.tensor([0., d]), gt).item()
        assert across > 0 and across > along
        assert along == pytest.approx(0., abs=1e-6)                  # the map does not change along the edge


def test_smoothing_switch():
    torch.manual_seed(1)
    feature = torch.randn(1, 2, 16, 16)
    pred, gt = torch.tensor([[[7.3, 8.1]]]), torch.tensor([[[8., 8.]]])
    loss = AlignLoss()
    assert loss.smoothing
    smoothed = loss(feature, pred, gt)
    plain = AlignLoss(smoothing=False)(feature, pred, gt)
    assert not torch.allclose(smoothed, plain)
    loss.disable_smoothing()
    assert loss.smoothing is False
    torch.testing.assert_close(loss(feature, pred, gt), plain)
    loss.enable_smoothing()
    torch.testing.assert_close(loss(feature, pred, gt), smoothed)


@pytest.mark.parametrize('detach_feature', [True, False])
def test_gradients(detach_feature):
    feature = blob_map().repeat(1, 2, 1, 1).requires_grad_(True)
    pred = torch.tensor([[[17.3, 15.2]]], requires_grad=True)
    gt = torch.tensor([[[16., 16.]]], requires_grad=True)
    AlignLoss(detach_feature=detach_feature)(feature, pred, gt).backward()
    assert pred.grad is not None and pred.grad.abs().min() > 0
    # the gradient pulls the prediction towards the ground truth
    assert pred.grad[0, 0, 0] > 0 and pred.grad[0, 0, 1] < 0
    assert gt.grad is None                                           # the ground truth is data
    if detach_feature:
        assert feature.grad is None
    else:
        assert feature.grad is not None and feature.grad.abs().sum() > 0


def test_target_weight_drops_landmarks():
    torch.manual_seed(2)
    feature = torch.randn(2, 3, 16, 16)
    pred, gt = torch.rand(2, 2, 2) * 15, torch.rand(2, 2, 2) * 15
    per_landmark = AlignLoss(reduction='none')(feature, pred, gt)
    weight = torch.tensor([[1., 0.], [0., 1.]])
    expected = (per_landmark[0, 0] + per_landmark[1, 1]) / 4          # mean over all B * K landmarks
    for w in (weight, weight[..., None]):
        torch.testing.assert_close(AlignLoss(use_target_weight=True)(feature, pred, gt, w), expected)
    # weights are ignored unless asked for; required when asked for
    torch.testing.assert_close(AlignLoss()(feature, pred, gt, weight), per_landmark.mean())
    with pytest.raises(ValueError, match='target_weight'):
        AlignLoss(use_target_weight=True)(feature, pred, gt)


def test_grouped_channels():
    torch.manual_seed(3)
    b, k, c = 2, 3, 4
    feature = torch.randn(b, k * c, 14, 14)
    pred, gt = torch.rand(b, k, 2) * 13, torch.rand(b, k, 2) * 13
    grouped = AlignLoss(reduction='none')(feature, pred, gt, groups=k)
    for i in range(k):
        own = AlignLoss(reduction='none')(feature[:, i * c:(i + 1) * c], pred[:, i:i + 1], gt[:, i:i + 1])
        torch.testing.assert_close(grouped[:, i], own[:, 0])


def test_registry_build_and_bad_input():
    loss = MODELS.build(dict(type='AlignLoss'))
    assert isinstance(loss, AlignLoss)
    assert (loss.patch_size, loss.kernel_size, loss.sigma, loss.smoothing, loss.detach_feature) == (
        8, 3, 1.0, True, True)
    with pytest.raises(ValueError, match='reduction'):
        AlignLoss(reduction='batch_mean')
    pred = torch.tensor([[[float('nan'), 2.]]])
    with pytest.raises(ValueError, match='AlignLoss \\(predicted centres\\)'):
        loss(torch.randn(1, 1, 8, 8), pred, torch.zeros(1, 1, 2))


def test_crop_pair_and_patch_loss_compose_forward():
    """The head transforms the patches between the two halves (channel selection): the halves must compose."""
    torch.manual_seed(0)
    feature = torch.rand(2, 3, 16, 16)
    pred, gt = torch.rand(2, 4, 2) * 15, torch.rand(2, 4, 2) * 15
    loss = AlignLoss(patch_size=4)
    pred_p, gt_p = loss.crop_pair(feature, pred, gt)
    assert pred_p.shape == gt_p.shape == (2, 4, 3, 4, 4)
    torch.testing.assert_close(loss.patch_loss(pred_p, gt_p), loss(feature, pred, gt))
    with pytest.raises(ValueError, match='stage 3: pred_centres'):
        loss.crop_pair(feature, pred, gt[:, :3], name='stage 3')
