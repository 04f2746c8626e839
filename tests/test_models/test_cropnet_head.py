# Copyright (c) mmfacealign contributors. All rights reserved.
"""FFLD: ResNetWithStem levels, CropNet, CropNetHead (stages, losses, switches, bad input), parameter counts."""
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmpose.models import build_pose_estimator
from mmpose.models.backbones import ResNet
from mmpose.models.heads import RegressionHead
from mmpose.registry import MODELS
from mmpose.testing import get_packed_inputs
from mmpose.utils import register_all_modules

from mmfacealign.models import CropNet, CropNetHead, GCNLandmarkHead, NormalizedL2Loss, ResNetWithStem
from mmfacealign.models.utils import normalised_to_map

PAPER_300W = 'configs/ffld/td-ffld_res18-25_1xb64-400e_300w-224x224.py'


def _count(module):
    return sum(p.numel() for p in module.parameters())


def _backbone():
    return ResNetWithStem(depth=18, base_channels=16, stem_channels=16, out_indices=(0, 1, 3))


def _feats(b=2, seed=0):
    torch.manual_seed(seed)
    backbone = _backbone()
    backbone.eval()                                                       # MMPose's ResNet.train returns None
    with torch.no_grad():
        return backbone(torch.rand(b, 3, 224, 224))


def _samples(k, b=2, size=224):
    return get_packed_inputs(batch_size=b, num_keypoints=k, img_shape=(size, size), input_size=(size, size),
                             with_heatmap=False, with_simcc_label=False)['data_samples']


def test_resnet_with_stem_levels_and_weights():
    torch.manual_seed(0)
    ours = _backbone()
    ref = ResNet(depth=18, base_channels=16, stem_channels=16, out_indices=(0, 1, 3))
    ours.eval()
    ref.eval()
    ref.load_state_dict(ours.state_dict())                               # same keys as MMPose's ResNet
    x = torch.rand(1, 3, 224, 224)
    outs = ours(x)
    assert [tuple(o.shape[1:]) for o in outs] == [(16, 112, 112), (16, 56, 56), (32, 28, 28), (128, 7, 7)]
    for a, b in zip(outs[1:], ref(x)):
        torch.testing.assert_close(a, b)
    # the first output is the stem before max-pooling
    torch.testing.assert_close(outs[0], ref.relu(ref.norm1(ref.conv1(x))))
    assert len(ResNetWithStem(depth=18, stem_out=False, out_indices=(3, ))(torch.rand(1, 3, 64, 64))) == 1


def _paper_param_count(num_joints):
    backbone = ResNet(depth=18, base_channels=16, stem_channels=16, out_indices=(0, 1, 3))
    head = CropNetHead(num_joints=num_joints, coarse_loss=None)          # the losses hold no parameters
    return _count(backbone), _count(head)


def test_parameter_count_aflw_matches_the_paper():
    """FFLD Sec. 6.5: 1.46M parameters for ResNet18-FFLD including the baseline (AFLW, 19 landmarks)."""
    backbone, head = _paper_param_count(19)
    total = backbone + head
    assert sum(_paper_param_count(68)) == 2_280_464                       # 300W (68 points), README table
    assert backbone == 702_096                                           # MMPose ResNet-18 at 25% width
    assert abs(total - 1.46e6) / 1.46e6 < 0.05
    assert total == 1_463_536                                            # exact: 1.4635M (facts: 1.464M)
    # the 'full' (cross-landmark) channel selection adds N * C * 4 * (N - 1) weights per stage
    full = CropNetHead(num_joints=19, coarse_loss=None, cropnet=dict(type='CropNet', channel_selection='full'))
    assert _count(full) - head == (19 * 4) * (19 - 1) * (32 + 16 + 16)


def test_cropnet_zero_init_returns_the_coarse_shape_exactly():
    head = CropNetHead(num_joints=68)
    feats = _feats()
    for mode in (True, False):
        head.train(mode)
        shapes = head.forward_stages(feats)
        assert len(shapes) == 4
        for s in shapes[1:]:
            assert torch.equal(s, shapes[0])
        assert torch.equal(head(feats), shapes[0])
    assert all(torch.all(c.fc.weight == 0) and torch.all(c.fc.bias == 0) for c in head.cropnets)


def test_stage_geometry_and_correction_units():
    """A stage crops around S_{t-1} in its map's pixels and its correction is in those pixels."""
    head = CropNetHead(num_joints=5, coarse_loss=None).eval()
    feats = _feats(b=1)
    s0 = head.coarse(feats)
    with torch.no_grad():
        head.cropnets[0].fc.bias.copy_(torch.tensor([1., 0.] * 5))         # +1 map pixel in x, stage 1 (28x28)
        head.cropnets[1].fc.bias.copy_(torch.tensor([0., 2.] * 5))         # +2 map pixels in y, stage 2 (56x56)
    shapes = head.forward_stages(feats)
    torch.testing.assert_close(shapes[1] - s0, torch.tensor([1 / 28, 0.]).expand(1, 5, 2))
    torch.testing.assert_close(shapes[2] - shapes[1], torch.tensor([0., 2 / 56]).expand(1, 5, 2))
    torch.testing.assert_close(shapes[3], shapes[2])
    # the crop centres are the previous estimate converted once to the level's pixels
    torch.testing.assert_close(normalised_to_map(shapes[1], (56, 56)), shapes[1] * 56)


def test_cropnet_channel_selection_readings():
    torch.manual_seed(0)
    net = CropNet(num_joints=3, in_channels=5, patch_size=4)
    patches = torch.rand(2, 3, 5, 4, 4)
    out = net.select_channels(patches)
    assert out.shape == (2, 3, 4, 4, 4)
    # grouped: landmark k's channels depend on its own patch only
    w = net.select.weight.reshape(3, 4, 5)
    torch.testing.assert_close(out, torch.einsum('kjc,bkchw->bkjhw', w, patches))
    full = CropNet(num_joints=3, in_channels=5, patch_size=4, channel_selection='full')
    assert full.select.weight.shape == (12, 15, 1, 1)
    with pytest.raises(ValueError, match='channel_selection'):
        CropNet(num_joints=3, in_channels=5, channel_selection='mixed')
    with pytest.raises(ValueError, match='in_channels=5'):
        net(torch.rand(2, 6, 16, 16), torch.rand(2, 3, 2))


def test_losses_are_named_per_stage_and_reach_every_parameter():
    head = CropNetHead(num_joints=68)
    model_feats = [f.clone().requires_grad_(True) for f in _feats()]
    losses = head.loss(tuple(model_feats), _samples(68))
    assert set(losses) == {'loss_s0', 'loss_s1', 'loss_s2', 'loss_s3', 'acc_pose'}
    sum(v for k, v in losses.items() if k.startswith('loss')).backward()
    missing = [n for n, p in head.named_parameters() if p.grad is None]
    assert not missing                                                   # DDP: no unused parameter
    assert all(f.grad is not None for f in model_feats)


def test_loss_values_by_hand():
    head = CropNetHead(num_joints=68, stage_losses=[dict(type='MSELoss'), dict(type='L1Loss'), None])
    feats, samples = _feats(), _samples(68)
    losses = head.loss(feats, samples)
    assert 'loss_s3' not in losses                                       # None switches a term off
    labels = torch.cat([d.gt_instance_labels.keypoint_labels for d in samples]) * 224
    shapes = [s * 224 for s in head.forward_stages(feats)]
    d = (labels[:, 36] - labels[:, 45]).norm(dim=-1)
    torch.testing.assert_close(losses['loss_s0'], (((shapes[0] - labels) ** 2).sum((1, 2)) / d).mean())
    torch.testing.assert_close(losses['loss_s1'], ((shapes[1] - labels) ** 2).mean())
    torch.testing.assert_close(losses['loss_s2'], (shapes[2] - labels).abs().mean())


@pytest.mark.parametrize('source', ['selected', 'level'])
def test_align_loss_sources(source):
    head = CropNetHead(num_joints=68, align_source=source)
    feats, samples = _feats(), _samples(68)
    losses = head.loss(feats, samples)
    assert losses['loss_s3'] > 0
    # the Align Loss alone reaches the network only through the predicted positions: never the channel selection
    # (nor, by default, the patch contents), but the CropNet that moved the prediction
    head.zero_grad()
    leaf = [f.clone().requires_grad_(True) for f in feats]
    head.loss(tuple(leaf), samples)['loss_s3'].backward()
    assert head.cropnets[2].select.weight.grad is None or torch.all(head.cropnets[2].select.weight.grad == 0)
    assert head.cropnets[2].fc.weight.grad is not None and head.cropnets[2].fc.weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match='align_source'):
        CropNetHead(num_joints=68, align_source='image')


@pytest.mark.parametrize('detach_feature,detach_centres', [(False, False), (True, False), (False, True),
                                                            (True, True), (False, 'grid')])
def test_table6_gradient_switches(detach_feature, detach_centres):
    """Stage 1's loss reaches its level map unless detach_feature, and the coarse network (S0's level, through
    the location S0) unless detach_centres is True; 'grid' cuts only the sampling grid, the skip still passes."""
    feats = [f.clone().requires_grad_(True) for f in _feats()]
    head = CropNetHead(num_joints=68, stage_losses=[dict(type='MSELoss')] * 3,
                       cropnet=dict(type='CropNet', detach_feature=detach_feature, detach_centres=detach_centres))
    with torch.no_grad():
        for c in head.cropnets:
            c.fc.weight.normal_(std=0.01)                                   # non-zero: crops influence the output
    losses = head.loss(tuple(feats), _samples(68))
    losses['loss_s1'].backward(retain_graph=True)
    level, coarse = feats[2].grad, feats[3].grad                        # stage 1 crops level 2; S0 reads level 3
    assert (level is None) == detach_feature
    assert (coarse is None) == (detach_centres is True)
    assert feats[0].grad is None and feats[1].grad is None              # later stages' levels
    # stage 2's loss reaches stage 1's CropNet only through the location S1
    for p in head.parameters():
        p.grad = None
    losses['loss_s2'].backward()
    assert (head.cropnets[0].fc.weight.grad is None) == (detach_centres is True)
    assert head.cropnets[1].fc.weight.grad is not None
    with pytest.raises(ValueError, match='detach_centres must be one of'):
        CropNet(num_joints=5, in_channels=4, detach_centres='skip')


def test_table6_grid_only_differs_from_full_gradient():
    """'grid' keeps the skip's gradient to S0 but drops the sampling grid's part of it."""
    head = CropNetHead(num_joints=68, stage_losses=[dict(type='MSELoss')] * 3)
    with torch.no_grad():
        for c in head.cropnets:
            c.fc.weight.normal_(std=0.01)
    samples, grads = _samples(68), {}
    for mode in (False, 'grid'):
        for c in head.cropnets:
            c.detach_centres = mode
        feats = [f.clone().requires_grad_(True) for f in _feats()]
        head.loss(tuple(feats), samples)['loss_s1'].backward()
        grads[mode] = feats[3].grad
    assert grads['grid'] is not None and not torch.allclose(grads[False], grads['grid'])


def test_output_stage_and_flip_test():
    head = CropNetHead(num_joints=68).eval()
    with torch.no_grad():
        for c in head.cropnets:
            c.fc.bias.fill_(0.5)
    feats, samples = _feats(), _samples(68)
    shapes = head.forward_stages(feats)
    for t in range(4):
        pred = head.predict(feats, samples, test_cfg=dict(output_stage=t))
        np.testing.assert_allclose(pred[0].keypoints[0], shapes[t][0].detach().numpy() * 224, rtol=1e-5,
                                   atol=1e-4)
    assert head._output_stage is None
    with pytest.raises(ValueError, match='output_stage'):
        head.predict(feats, samples, test_cfg=dict(output_stage=4))
    flipped = head.predict([feats, feats], samples, test_cfg=dict(flip_test=True))
    assert flipped[0].keypoints.shape == (1, 68, 2)


def test_bad_input_names_the_stage_or_the_level():
    head = CropNetHead(num_joints=68)
    feats = list(_feats())
    with pytest.raises(ValueError, match=r'stage 1 reads backbone output 2, but the backbone gave 2 maps'):
        CropNetHead(num_joints=68)(tuple(feats[2:]))
    with pytest.raises(ValueError, match=r"stages\[1\] \(stage 2\) needs 'in_index'"):
        CropNetHead(num_joints=68, stages=[dict(in_index=2, in_channels=32), dict(in_channels=16)],
                    stage_losses=[None, None])
    with pytest.raises(ValueError, match='stage_losses has 2 entries for 3 stages'):
        CropNetHead(num_joints=68, stage_losses=[None, None])
    # a diverged (NaN) estimate entering a stage fails with the stage named, never a silent NaN
    with torch.no_grad():
        head.coarse_head.fc.bias.fill_(float('nan'))
    with pytest.raises(ValueError, match='CropNetHead stage 1: 136 of 136 crop centres are not finite'):
        head(tuple(feats))
    # a far-away estimate is clamped: finite output
    with torch.no_grad():
        head.coarse_head.fc.bias.fill_(1e6)
    assert torch.isfinite(head(tuple(feats))).all()


def test_coarse_regressor_is_swappable_by_config():
    """CropNet refinement on top of another coarse regressor: SCDF's GCN head reads the last map itself."""
    head = CropNetHead(
        num_joints=68, coarse_neck=None,
        coarse_head=dict(type='GCNLandmarkHead', in_channels=128, in_featuremap_size=(7, 7),
                         graph='ibug68_anatomical', decoder=dict(type='RegressionLabel', input_size=(224, 224))))
    assert isinstance(head.coarse_head, GCNLandmarkHead)
    assert isinstance(CropNetHead(num_joints=68).coarse_head, RegressionHead)
    losses = head.loss(_feats(), _samples(68))
    assert {'loss_s0', 'loss_s1', 'loss_s2', 'loss_s3'} <= set(losses)
    with pytest.raises(ValueError, match=r'coarse_head returned \(2, 5, 2\), expected \(B, 68, 2\)'):
        CropNetHead(num_joints=68, coarse_head=dict(type='RegressionHead', in_channels=128, num_joints=5))(_feats())


def test_normalized_l2_loss_auto_takes_aflw19_outer_eye_corners():
    from mmpose.datasets.datasets.utils import parse_pose_metainfo
    meta = parse_pose_metainfo(dict(from_file='configs/_base_/datasets/aflw.py'))
    assert meta['num_keypoints'] == 19
    names = [meta['keypoint_id2name'][i] for i in range(19)]
    a, b = NormalizedL2Loss().resolve_indices(19)
    assert (a, b) == (6, 11)
    # MMPose's AFLW layout: 6-8 and 9-11 are the two eyes; a flip maps one outer corner to the other
    assert [a, b] in [list(p) for p in meta['flip_pairs']] or [b, a] in [list(p) for p in meta['flip_pairs']], names
    head = CropNetHead(num_joints=19)                     # 'auto' builds for AFLW (it raised before)
    assert head.coarse_loss.resolve_indices(19) == (6, 11)


def test_normalized_l2_loss_by_hand():
    pred = torch.tensor([[[0., 0.], [4., 0.], [1., 1.]]])
    gt = torch.tensor([[[0., 0.], [2., 0.], [1., 4.]]])
    # squared errors 0 + 4 + 9 = 13, inter-ocular d = |gt0 - gt1| = 2
    assert NormalizedL2Loss(norm_indices=(0, 1))(pred, gt).item() == pytest.approx(6.5)
    assert NormalizedL2Loss(norm_indices=None)(pred, gt).item() == pytest.approx(13.)
    # 'auto': the outer eye corners of the layout, by landmark count
    assert NormalizedL2Loss().resolve_indices(68) == (36, 45) and NormalizedL2Loss().resolve_indices(98) == (60, 72)
    assert NormalizedL2Loss().resolve_indices(29) == (8, 9)
    with pytest.raises(ValueError, match="norm_indices='auto' knows .* not 3"):
        NormalizedL2Loss()(pred, gt)
    with pytest.raises(ValueError, match='CropNetHead: coarse_loss: .* not 21'):
        CropNetHead(num_joints=21)                                    # an unknown layout needs the pair named
    assert CropNetHead(num_joints=21, coarse_loss=dict(type='NormalizedL2Loss', norm_indices=None))
    w = torch.tensor([[1., 0., 1.]])
    assert NormalizedL2Loss((0, 1), use_target_weight=True)(pred, gt, w).item() == pytest.approx(4.5)
    degenerate = torch.zeros(1, 3, 2)
    assert torch.isfinite(NormalizedL2Loss((0, 1))(pred, degenerate))
    with pytest.raises(ValueError, match='out of range'):
        NormalizedL2Loss((0, 5))(pred, gt)
    assert isinstance(MODELS.build(dict(type='NormalizedL2Loss', norm_indices=(36, 45))), NormalizedL2Loss)


def test_paper_config_builds_and_runs_all_modes(repo_root):
    register_all_modules()
    cfg = Config.fromfile(f'{repo_root}/{PAPER_300W}')
    model = build_pose_estimator(cfg.model)
    model.init_weights()
    assert all(torch.all(c.fc.weight == 0) for c in model.head.cropnets)  # init_weights keeps the zero FC
    packed = get_packed_inputs(batch_size=2, num_keypoints=68, img_shape=(224, 224), input_size=(224, 224),
                               with_heatmap=False, with_simcc_label=False)
    data = model.data_preprocessor(packed, training=True)
    losses = model.forward(**data, mode='loss')
    assert {'loss_s0', 'loss_s1', 'loss_s2', 'loss_s3'} <= set(losses)
    model.eval()
    with torch.no_grad():
        preds = model.forward(**model.data_preprocessor(packed, training=False), mode='predict')
        assert preds[0].pred_instances.keypoints.shape == (1, 68, 2)
        assert model.forward(data['inputs'], None, mode='tensor').shape == (2, 68, 2)


def test_coordinates_stay_float32_under_autocast():
    """Under CPU bfloat16 autocast, S0 and every S_t keep float32 precision (bf16 would round S0 by ~0.9 px)."""
    feats = _feats()
    head = CropNetHead(num_joints=68).eval()
    with torch.no_grad():
        for c in head.cropnets:
            c.fc.weight.normal_(std=0.01)
        feats = tuple(f.bfloat16().float() for f in feats)             # the same values in both runs
        ref = head.forward_stages(feats)
        with torch.autocast('cpu', dtype=torch.bfloat16):
            amp = head.forward_stages(tuple(f.bfloat16() for f in feats))  # as an autocast backbone gives them
    assert all(s.dtype == torch.float32 for s in amp)
    # the coarse FC ran in float32: what is left is the bf16 rounding of its pooled input (about 0.02 px here);
    # a bf16 output would be rounded to 2^-8 of the [0, 1] range, up to 0.9 px at 224
    assert (amp[0] - ref[0]).abs().max() * 224 < 0.1
    for t in range(1, 4):                                              # corrections: only bf16 conv rounding
        assert ((amp[t] - amp[t - 1]) - (ref[t] - ref[t - 1])).abs().max() * 224 < 0.05


def test_a_cropnet_no_loss_reaches_is_frozen_for_ddp():
    """DDP stops at parameters without gradient: a stage with no loss of its own and no later loss through the
    locations is frozen; a stage whose S_t a later loss reaches stays trainable."""
    head = CropNetHead(num_joints=68, stage_losses=[dict(type='MSELoss'), dict(type='L1Loss'), None])
    assert head.frozen_stages == [3] and not any(p.requires_grad for p in head.cropnets[2].parameters())
    assert all(p.requires_grad for p in head.cropnets[1].parameters())
    head = CropNetHead(num_joints=68, stage_losses=[None, dict(type='L1Loss'), dict(type='MSELoss')])
    assert head.frozen_stages == []                                   # stage 2's loss reaches S1 through the skip
    head = CropNetHead(num_joints=68, stage_losses=[None, dict(type='L1Loss'), dict(type='MSELoss')],
                       cropnet=dict(type='CropNet', detach_centres=True))
    assert head.frozen_stages == [1]                                  # ... unless stage 2 detaches S1
    # every parameter that requires grad gets one (what DDP needs)
    feats = _feats()
    losses = head.loss(tuple(f.requires_grad_(True) for f in feats), _samples(68))
    sum(losses.values()).backward()
    assert all(p.grad is not None for p in head.parameters() if p.requires_grad)


def test_training_forward_makes_no_host_round_trip(monkeypatch):
    """On a GPU, every read of a device value on the host (``bool``, ``item``, ``tolist``, ``cpu``) and every
    copy of host numbers to the device (``torch.tensor(..., device=cuda)``) synchronises. With the GPU code path
    (``host_transfer_is_free`` False) and those entry points raising, the head's training forward (all stages,
    the crops, the coordinate conversions, the four stage losses) and its backward must still run on CPU."""
    from mmfacealign.models.utils import coordinates

    head = CropNetHead(num_joints=68)
    feats = [f.clone().requires_grad_(True) for f in _feats()]
    samples = _samples(68)
    labels = torch.cat([d.gt_instance_labels.keypoint_labels for d in samples])
    weights = torch.cat([d.gt_instance_labels.keypoint_weights for d in samples])

    def forbidden(what):
        def raise_(*args, **kwargs):
            raise AssertionError(f'host round trip in the training forward: {what}')
        return raise_

    monkeypatch.setattr(coordinates, 'host_transfer_is_free', lambda ref: False)
    for name in ('__bool__', 'item', 'tolist', 'cpu', 'numpy', 'new_tensor'):
        monkeypatch.setattr(torch.Tensor, name, forbidden(f'Tensor.{name}'))
    for name in ('tensor', 'as_tensor'):
        monkeypatch.setattr(torch, name, forbidden(f'torch.{name}'))
    _, losses = head.loss_terms(tuple(feats), labels, weights, samples)
    sum(losses.values()).backward()
    monkeypatch.undo()
    assert set(losses) == {'loss_s0', 'loss_s1', 'loss_s2', 'loss_s3'}
    assert all(f.grad is not None for f in feats)


def test_inference_layouts_give_the_same_numbers():
    """channels_last for the residual block, and BatchNorm folded into the convolutions (mmcv's
    ``fuse_conv_bn``, which also folds the BatchNorm after the channel selection into its bias) change no
    value of an evaluated head."""
    import copy

    from mmcv.cnn import fuse_conv_bn

    torch.manual_seed(0)
    head = CropNetHead(num_joints=19)
    for m in head.modules():                       # non-trivial statistics, and non-zero FCs
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    for net in head.cropnets:
        torch.nn.init.normal_(net.fc.weight, std=0.05)
    head.eval()
    plain = CropNetHead(num_joints=19, cropnet=dict(type='CropNet', channels_last=False)).eval()
    plain.load_state_dict(head.state_dict())
    assert head.cropnets[0].block.conv1.weight.is_contiguous(memory_format=torch.channels_last)
    assert plain.cropnets[0].block.conv1.weight.is_contiguous()
    feats = _feats()
    with torch.no_grad():
        ref = plain(feats)
        assert (ref - head.forward_stages(feats)[0]).abs().max() > 1e-3      # the stages do move the shape
        torch.testing.assert_close(head(feats), ref, rtol=0, atol=1e-5)
        fused = fuse_conv_bn(copy.deepcopy(head))
        assert isinstance(fused.cropnets[0].bn, torch.nn.Identity) and fused.cropnets[0].select.bias is not None
        torch.testing.assert_close(fused(feats), ref, rtol=0, atol=1e-5)


def test_paper_configs_normalise_by_their_own_layout(repo_root):
    """The AFLW (19) and COFW (29) configs inherit the 300W one: their coarse loss must use their own outer eye
    corners, and eye corners of another layout are refused when the head is built, not at the first loss."""
    import os.path as osp
    for name, corners in (('300w', (36, 45)), ('aflw', (6, 11)), ('cofw', (8, 9))):
        cfg = Config.fromfile(osp.join(repo_root, f'configs/ffld/td-ffld_res18-25_1xb64-400e_{name}-224x224.py'))
        head = MODELS.build(cfg.model.head)
        assert tuple(head.coarse_loss.resolve_indices(head.num_joints)) == corners, name
    with pytest.raises(ValueError, match=r'norm_indices \(36, 45\) are out of range for num_joints=19'):
        CropNetHead(num_joints=19, coarse_loss=dict(type='NormalizedL2Loss', norm_indices=(36, 45)))
