# Copyright (c) mmfacealign contributors. All rights reserved.
"""SCDF losses: Soft Wing with the official reduction and pixel scale, relative location loss."""
import math

import pytest
import torch
from mmpose.models.losses import SoftWingLoss
from mmpose.registry import MODELS

from mmfacealign.models.losses import MeanSoftWingLoss, RelativeLocationLoss
from mmfacealign.models.utils import LandmarkGraph, normalised_to_pixels, pixels_to_normalised

B_CONST = 2 - 20 * math.log(1 + 2 / 0.5)           # omega1 - omega2 ln(1 + omega1 / epsilon)


def soft_wing(d):
    d = abs(d)
    return d if d < 2 else 20 * math.log(1 + d / 0.5) + B_CONST


def test_mean_soft_wing_hand_values():
    loss = MeanSoftWingLoss()
    pred = torch.tensor([[[0., 0.], [1., 3.]]])
    target = torch.tensor([[[1., 0.], [1., 0.]]])
    # |d| = 1 (linear), 0, 0, 3 (log branch: 2 + 20 ln(7/5) = 8.7294)
    expected = (1 + 0 + 0 + 2 + 20 * math.log(7 / 5)) / 4
    assert loss(pred, target).item() == pytest.approx(expected, rel=1e-6)
    assert soft_wing(3) == pytest.approx(2 + 20 * math.log(7 / 5))
    # continuous at omega1
    assert soft_wing(2 - 1e-9) == pytest.approx(soft_wing(2), abs=1e-6)


def test_mean_soft_wing_is_mmpose_soft_wing_over_2k():
    torch.manual_seed(0)
    pred, target = torch.randn(4, 98, 2) * 5, torch.randn(4, 98, 2) * 5
    weight = (torch.rand(4, 98, 1) > 0.2).float()
    ref = SoftWingLoss(use_target_weight=True)(pred, target, weight)
    ours = MeanSoftWingLoss(use_target_weight=True)(pred, target, weight)
    torch.testing.assert_close(ours * 2 * 98, ref)                        # the 2K factor (196 for WFLW)
    torch.testing.assert_close(MeanSoftWingLoss(use_target_weight=True, reduction='batch_mean')(
        pred, target, weight), ref)
    # element mean over B*K*D, computed directly
    elem = torch.tensor([soft_wing(d) for d in ((pred - target) * weight).flatten().tolist()])
    torch.testing.assert_close(ours, elem.mean(), rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match='reduction'):
        MeanSoftWingLoss(reduction='sum')


def test_pixel_scale_equals_scaled_mmpose_loss_on_normalised_coords():
    """Soft Wing is scale equivariant: the paper's pixel parameters on pixel coordinates equal MMPose's
    SoftWingLoss on normalised coordinates with omega1, omega2, epsilon / s, times s (s = 256)."""
    torch.manual_seed(0)
    size = (256, 256)
    pred_n, gt_n = torch.rand(3, 68, 2), torch.rand(3, 68, 2)
    pred_n = gt_n + 0.03 * torch.randn(3, 68, 2)                          # errors of a few pixels: both branches
    pixel = MeanSoftWingLoss()(normalised_to_pixels(pred_n, size), normalised_to_pixels(gt_n, size))
    s = 256.
    scaled = SoftWingLoss(omega1=2 / s, omega2=20 / s, epsilon=0.5 / s)(pred_n, gt_n) * s / (2 * 68)
    torch.testing.assert_close(pixel, scaled, rtol=1e-5, atol=1e-6)
    d = (normalised_to_pixels(pred_n, size) - normalised_to_pixels(gt_n, size)).abs()
    assert (d < 2).any() and (d >= 2).any()
    # MMPose's default parameters on normalised coordinates are plain L1 (facts pitfall 1): not the paper's loss
    l1 = (pred_n - gt_n).abs().sum(dim=(1, 2)).mean()
    torch.testing.assert_close(SoftWingLoss()(pred_n, gt_n), l1)
    assert abs(pixel.item() - (l1 * s / (2 * 68)).item()) > 0.1
    torch.testing.assert_close(pixels_to_normalised(normalised_to_pixels(pred_n, (256, 128)), (256, 128)), pred_n)
    torch.testing.assert_close(normalised_to_pixels(torch.tensor([[.5, .25]]), (256, 128)), torch.tensor([[128., 32.]]))


def _path3_loss(**kwargs):
    return RelativeLocationLoss(graph=dict(edges=[[0, 1], [1, 2]], num_nodes=3), **kwargs)


def test_relative_location_loss_by_hand():
    pred = torch.tensor([[[0., 0.], [2., 0.], [2., 2.]]])
    gt = torch.tensor([[[0., 0.], [3., 0.], [2., 5.]]])
    # L (paper): rows [1, -1, 0], [-1/2, 1, -1/2], [0, -1, 1]
    # L P_hat = [[-2, 0], [1, -1], [0, 2]]; L P = [[-3, 0], [2, -2.5], [-1, 5]]
    # |diff| = [1, 0, 1, 1.5, 1, 3] -> Soft Wing [1, 0, 1, 1.5, 1, 2 + 20 ln(7/5)]
    expected = (1 + 0 + 1 + 1.5 + 1 + soft_wing(3)) / 6
    loss = _path3_loss(directed=False)          # symmetrised neighbourhoods (our reading, a switch)
    torch.testing.assert_close(loss.relative_locations(pred), torch.tensor([[[-2., 0.], [1., -1.], [0., 2.]]]))
    assert loss(pred, gt).item() == pytest.approx(expected, rel=1e-6)
    assert _path3_loss(directed=False, loss_weight=0.5)(pred, gt).item() == pytest.approx(expected / 2, rel=1e-6)
    # translation invariant (rows of L sum to 0), unlike the absolute term
    assert loss(pred + 7., gt).item() == pytest.approx(expected, rel=1e-6)
    # directed (official, the default): row 1 lists only 2, row 2 lists nothing -> delta_2 = p_2 (absolute)
    directed = _path3_loss()
    assert directed.directed
    torch.testing.assert_close(directed.relative_locations(pred), torch.tensor([[[-2., 0.], [0., -2.], [2., 2.]]]))
    assert directed(pred + 7., gt).item() != pytest.approx(directed(pred, gt).item())


def test_relative_location_loss_target_weights():
    torch.manual_seed(0)
    pred, gt = torch.randn(2, 3, 2) * 4, torch.randn(2, 3, 2) * 4
    loss = _path3_loss(use_target_weight=True)
    w = torch.tensor([[1., 1., 1.], [1., 1., 0.]])
    # row weights: product over {i} + N_i; point 2 unlabelled in sample 1 kills rows 1 and 2 of that sample
    torch.testing.assert_close(loss.row_weights(w), torch.tensor([[1., 1., 1.], [1., 0., 0.]]))
    d = (loss.relative_locations(pred) - loss.relative_locations(gt)).abs()
    rw = torch.tensor([[1., 1., 1.], [1., 0., 0.]])[..., None]
    expected = torch.tensor([soft_wing(v) for v in (d * rw).flatten().tolist()]).mean()
    torch.testing.assert_close(loss(pred, gt, w), expected)
    torch.testing.assert_close(loss(pred, gt, w.unsqueeze(-1)), expected)
    torch.testing.assert_close(loss(pred, gt, torch.ones(2, 3)), _path3_loss()(pred, gt))
    with pytest.raises(ValueError, match='needs target_weight'):
        loss(pred, gt)


def test_relative_location_loss_builtin_graphs_and_registry():
    torch.manual_seed(0)
    loss = MODELS.build(dict(type='RelativeLocationLoss', graph='ibug68_anatomical', directed=True))
    p = torch.randn(2, 68, 2)
    rel = loss.relative_locations(p)
    for i in (33, 42, 54):                                                # official absolute-position rows
        torch.testing.assert_close(rel[:, i], p[:, i])
    torch.testing.assert_close(rel[:, 0], p[:, 0] - (p[:, 1] + p[:, 17]) / 2)
    paper = RelativeLocationLoss(graph='ibug68_anatomical', directed=False)     # symmetrised reading
    nbrs = LandmarkGraph.builtin('ibug68_anatomical').neighbours(33)
    torch.testing.assert_close(paper.relative_locations(p)[:, 33], p[:, 33] - p[:, nbrs].mean(1))
    with pytest.raises(ValueError, match="'ibug68_anatomical' has 68 nodes"):
        paper(torch.randn(2, 98, 2), torch.randn(2, 98, 2))
    # gradients reach the prediction
    pred = torch.randn(2, 98, 2, requires_grad=True)
    RelativeLocationLoss()(pred * 50, torch.randn(2, 98, 2) * 50).backward()
    assert pred.grad.abs().sum() > 0
