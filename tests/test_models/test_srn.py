# Copyright (c) mmfacealign contributors. All rights reserved.
"""SRN: landmark groups, patch CNN, non-local block, HSRM, the cascade head and its loss (numbers by hand)."""
import pytest
import torch
from mmpose.models import build_pose_estimator
from mmpose.registry import MODELS
from mmpose.testing import get_packed_inputs
from mmpose.utils import register_all_modules

from mmfacealign.models import CascadeNMELoss, HierarchicalStructuralRelation, PatchCNN, SRNHead
from mmfacealign.models.utils.landmark_groups import srn_hierarchy
from mmfacealign.models.utils.patch_sampling import crop_patches

register_all_modules()


@pytest.mark.parametrize('num_keypoints', [68, 98, 29])
def test_group_tables_cover_every_landmark_once(num_keypoints):
    regions, components = srn_hierarchy(num_keypoints)
    assert set(regions) == {'ocular', 'snout', 'cheek'}
    assert set(components) == {'brow', 'eye', 'nose', 'mouth', 'cheek_a', 'cheek_b'}
    for groups in (regions, components):
        assert sorted(i for idx in groups.values() for i in idx) == list(range(num_keypoints))
    # every component lies inside one region (level 3 refines level 1)
    for comp in components.values():
        assert comp == [] or any(set(comp) <= set(r) for r in regions.values())
    HierarchicalStructuralRelation(num_keypoints=num_keypoints, feat_channels=4, region_channels=8,
                                   hidden_channels=8, component_channels=8)        # builds
    with pytest.raises(ValueError, match='no SRN landmark groups for 21 keypoints'):
        srn_hierarchy(21)


def test_official_68_point_dimensions():
    """The official code's group sizes and output widths (models.py of the official SRN code)."""
    regions, components = srn_hierarchy(68)
    assert {k: len(v) for k, v in regions.items()} == {'ocular': 22, 'snout': 29, 'cheek': 17}
    assert {k: len(v) for k, v in components.items()} == dict(brow=10, eye=12, nose=9, mouth=20, cheek_a=9,
                                                              cheek_b=8)
    assert components['cheek_a'] == list(range(9)) and regions['ocular'] == list(range(17, 27)) + list(range(36, 48))


def test_parameter_count_with_the_official_dimensions():
    """20,834,028 parameters: within 0.02% of the 20.83M computed from the official code. By hand: patch CNN
    4,736 + 18,496 + 36,928; non-local 4 x 4,160; level 1 (22 + 29 + 17) * 256 * 512 + 3 * 512; RNN
    (17,408 + 512) * 512 + 512; level 2 4 * (1,536 * 256 + 256) + 2 * (2,048 * 256 + 256); level 3 68 * 512 + 68;
    final 68 * 136 + 136."""
    head = SRNHead(num_joints=68, input_size=(224, 224))
    by_hand = (4736 + 18496 + 36928 + 4 * 4160 + 68 * 256 * 512 + 3 * 512 + (17408 + 512) * 512 + 512
               + 4 * (1536 * 256 + 256) + 2 * (2048 * 256 + 256) + 68 * 512 + 68 + 68 * 136 + 136)
    total = sum(p.numel() for p in head.parameters())
    assert total == by_hand == 20_834_028
    assert abs(total / 20.83e6 - 1) < 0.05


def test_patch_cnn_sizes_and_errors():
    cnn = PatchCNN()
    cnn.init_weights()
    out = cnn(torch.rand(2, 5, 3, 36, 36))
    assert out.shape == (2, 5, 64, 2, 2) and cnn.output_size((36, 36)) == (2, 2)
    assert cnn.output_size((48, 40)) == (3, 2)
    assert cnn.layers[0].weight.abs().max() <= 0.02 and cnn.layers[0].bias.abs().max() == 0   # trunc-normal 0.01
    with pytest.raises(ValueError, match='too small'):
        cnn.output_size((20, 20))
    with pytest.raises(ValueError, match=r'\(B, K, C, h, w\)'):
        cnn(torch.rand(2, 3, 36, 36))


def test_non_local_block_is_a_residual_identity_with_zero_output_conv():
    head = SRNHead(num_joints=68, input_size=(224, 224))
    head.init_weights()                                    # mmcv's NonLocal2d zero-initialises its output conv
    assert head.non_local.conv_out.conv.weight.abs().sum() == 0
    x = torch.randn(2, 64, 68, 4)
    torch.testing.assert_close(head.non_local(x), x)
    torch.nn.init.normal_(head.non_local.conv_out.conv.weight)
    assert not torch.allclose(head.non_local(x), x)


def test_non_local_block_mixes_landmarks_in_the_real_forward():
    """With a non-zero output conv, a change inside landmark 0's patch changes landmark 1's features after the
    non-local block (encode, the head's own path), not before it; no mmcv 1/sqrt(C) scale (official code)."""
    torch.manual_seed(0)
    head = SRNHead(num_joints=68, input_size=(224, 224))
    head.init_weights()
    assert head.non_local.use_scale is False and head.non_local.mode == 'embedded_gaussian'
    for m in head.modules():                             # features of order 1 (the official 0.01 init is tiny)
        if isinstance(m, torch.nn.Conv2d):
            torch.nn.init.normal_(m.weight, std=0.3)
    shape = torch.full((1, 68, 2), 0.7)
    shape[0, 0] = 0.1                                     # landmark 0 alone at (22, 22) px, the rest at (157, 157)
    image = torch.rand(1, 3, 224, 224)
    image2 = image.clone()
    image2[..., 10:35, 10:35] += 1.                      # inside landmark 0's 36 px patch only
    (post1, pre1), (post2, pre2) = head.encode(image, shape), head.encode(image2, shape)
    torch.testing.assert_close(pre1[:, 1:], pre2[:, 1:])
    assert not torch.allclose(pre1[:, 0], pre2[:, 0])
    assert (post1[:, 1] - post2[:, 1]).abs().max() > 1e-3 * post1[:, 1].abs().max()
    torch.nn.init.zeros_(head.non_local.conv_out.conv.weight)         # the identity at init: no mixing
    torch.testing.assert_close(head.encode(image, shape)[0][:, 1], head.encode(image2, shape)[0][:, 1])


def _tiny_hsrm(**kwargs):
    return HierarchicalStructuralRelation(num_keypoints=68, feat_channels=4, region_channels=6, hidden_channels=5,
                                          component_channels=3, **kwargs)


def test_hsrm_wiring_and_memory():
    torch.manual_seed(0)
    hsrm = _tiny_hsrm()
    feats = torch.randn(2, 68, 4)
    delta, h = hsrm(feats)
    assert delta.shape == (2, 68, 2) and h.shape == (2, 5)
    # the RNN (Eq. 5) by hand: h_1 = tanh(W [x, h_0 = 0] + b)
    torch.testing.assert_close(h, torch.tanh(hsrm.memory(torch.cat([feats.flatten(1), torch.zeros(2, 5)], 1))))
    # level 2 wiring: brow and eye read [ocular, snout, h], nose and mouth all three regions, cheeks [snout, cheek]
    assert hsrm.level2['brow'].in_features == 6 * 2 + 5 and hsrm.level2['nose'].in_features == 6 * 3 + 5
    assert hsrm.level2['cheek_a'].in_features == 6 * 2 + 5
    assert hsrm.level3['mouth'].out_features == 20 and hsrm.level3['mouth'].in_features == 6
    # through forward (hooks on the level-2 branches): an ocular-only change of the patch features, with the same
    # RNN input, reaches the brow/eye/nose/mouth branches but not the cheek branches, which read [snout, cheek, h]
    outs = {}
    hooks = [hsrm.level2[k].register_forward_hook(lambda m, i, o, k=k: outs.setdefault(k, []).append(o))
             for k in hsrm.level2]
    feats2 = feats.clone()
    feats2[:, 36] += 1.                                   # an eye corner: the ocular region
    for f in (feats, feats2):
        hsrm(f, memory_input=feats.flatten(1))
    for h_ in hooks:
        h_.remove()
    for k in ('cheek_a', 'cheek_b'):
        torch.testing.assert_close(outs[k][0], outs[k][1])
    for k in ('brow', 'eye', 'nose', 'mouth'):
        assert not torch.allclose(outs[k][0], outs[k][1]), k


@pytest.mark.parametrize('switch', ['use_level1', 'use_memory', 'use_level2', 'use_level3'])
def test_hsrm_levels_switch_off(switch):
    hsrm = _tiny_hsrm(**{switch: False})
    delta, h = hsrm(torch.randn(2, 68, 4))
    assert delta.shape == (2, 68, 2)
    assert (h is None) == (switch == 'use_memory')
    part = {'use_level1': 'level1', 'use_level2': 'level2', 'use_level3': 'level3'}.get(switch)
    if part:
        assert len(getattr(hsrm, part)) == 0
    else:
        assert hsrm.memory is None


def test_cascade_nme_loss_by_hand():
    target = torch.zeros(1, 68, 2)
    target[0, 36] = torch.tensor([0., 0.])
    target[0, 45] = torch.tensor([4., 0.])                               # inter-ocular distance 4
    out = target[:, None].repeat(1, 2, 1, 1)
    out[0, 0, 0] += torch.tensor([3., 4.])                               # iteration 1: one landmark 5 px off
    out[0, 1, 1] += torch.tensor([0., 2.])                               # iteration 2: another 2 px off
    loss = CascadeNMELoss()(out, target)
    torch.testing.assert_close(loss, torch.tensor(5 / 68 / 4 + 2 / 68 / 4))
    weights = torch.ones(1, 68)
    weights[0, 0] = 0
    loss_w = CascadeNMELoss(use_target_weight=True)(out, target, weights)
    torch.testing.assert_close(loss_w, torch.tensor(0 + 2 / 67 / 4))
    with pytest.raises(ValueError, match=r'\(B, T, K, 2\)'):
        CascadeNMELoss()(torch.zeros(1, 2, 5, 2), target)


def _srn_model(**head):
    cfg = dict(
        type='TopdownPoseEstimator',
        data_preprocessor=dict(type='PoseDataPreprocessor', mean=[123.675, 116.28, 103.53],
                               std=[58.395, 57.12, 57.375], bgr_to_rgb=True),
        backbone=dict(type='ImagePassThrough'),
        head=dict(type='SRNHead', num_joints=68, patch_size=36,
                  hsrm=dict(type='HierarchicalStructuralRelation', region_channels=16, hidden_channels=16,
                            component_channels=8),
                  decoder=dict(type='RegressionLabel', input_size=(128, 128)), **head),
        test_cfg=dict(flip_test=True))
    model = build_pose_estimator(cfg)
    model.init_weights()
    return model


def test_cascade_adds_residuals_with_shared_weights_and_t0_is_the_initial_shape():
    torch.manual_seed(0)
    mean = torch.rand(68, 2) * 0.5 + 0.25
    model = _srn_model(mean_shape=mean.tolist(), num_iterations=3)
    head = model.head
    torch.nn.init.normal_(head.non_local.conv_out.conv.weight, std=0.1)      # so that post != pre
    image = torch.randn(2, 3, 128, 128)
    shapes, h = head.forward_iterations((image, ), return_hidden=True)
    assert shapes.shape == (2, 3, 68, 2) and h.shape == (2, 16)
    # by hand: x_t = x_{t-1} + HSRM(patches around x_{t-1}), one set of weights, h carried along
    x, hidden = mean.expand(2, -1, -1), None
    for t in range(3):
        post, pre = head.encode(image, x, t)
        # pre: the patch CNN's features of the patches centred on x (B, N, 64 * 2 * 2); post: after the non-local
        patches = crop_patches(image, x * 128, 36)
        torch.testing.assert_close(pre, head.patch_cnn(patches).flatten(2))
        assert not torch.allclose(post, pre)
        # the RNN reads the features before the non-local block (h_0 = 0), the regions read those after it
        h_prev = torch.zeros(2, 16) if hidden is None else hidden
        expected_h = torch.tanh(head.hsrm.memory(torch.cat([pre.flatten(1), h_prev], 1)))
        delta, hidden = head.hsrm(post, memory_input=pre.flatten(1), h=hidden)
        torch.testing.assert_close(hidden, expected_h)
        x = x + delta
        torch.testing.assert_close(shapes[:, t], x)
    torch.testing.assert_close(h, hidden)
    assert len(list(head.patch_cnn.parameters())) == 6                 # one CNN for every iteration
    head.num_iterations = 0
    torch.testing.assert_close(head((image, )), mean.expand(2, -1, -1))
    torch.testing.assert_close(head.forward_iterations((image, )), mean.expand(2, -1, -1)[:, None])


def test_head_needs_a_mean_shape_and_the_image():
    model = _srn_model()
    with pytest.raises(RuntimeError, match='MeanShapeHook'):
        model.head((torch.rand(1, 3, 128, 128), ))
    model.head.set_mean_shape(torch.full((68, 2), 0.5))
    with pytest.raises(ValueError, match='ImagePassThrough'):
        model.head((torch.rand(1, 64, 8), ))
    with pytest.raises(ValueError, match='mean_shape must be finite'):
        model.head.set_mean_shape(torch.zeros(5, 2))
    assert 'mean_shape' in model.head.state_dict() and bool(model.head.state_dict()['mean_shape_ready'])


def test_srn_trains_and_predicts_through_the_estimator():
    torch.manual_seed(0)
    model = _srn_model(mean_shape=(torch.rand(68, 2) * 0.4 + 0.3).tolist(), num_iterations=2)
    packed = get_packed_inputs(batch_size=2, num_keypoints=68, img_shape=(128, 128), input_size=(128, 128),
                               with_heatmap=False, with_simcc_label=False)
    data = model.data_preprocessor(packed, training=True)
    losses = model(**data, mode='loss')
    assert set(losses) == {'loss_kpt', 'acc_pose'}
    # the loss is Eq. 8 over both iterations, in input pixels
    labels = torch.cat([d.gt_instance_labels.keypoint_labels for d in data['data_samples']])
    shapes = model.head.forward_iterations(model.extract_feat(data['inputs']))
    torch.testing.assert_close(losses['loss_kpt'], CascadeNMELoss()(shapes * 128, labels * 128))
    losses['loss_kpt'].backward()
    unused = [n for n, p in model.named_parameters() if p.grad is None]
    assert unused == []                                                  # DDP: nothing unused
    model.eval()
    with torch.no_grad():
        preds = model(**model.data_preprocessor(packed, training=False), mode='predict')
    assert preds[0].pred_instances.keypoints.shape == (1, 68, 2)


def test_init_model_gives_the_initial_shape(tmp_path):
    """SRN+HG: the initial shape from another model (here a regression model; heatmaps are arg-maxed)."""
    torch.manual_seed(0)
    init_cfg = dict(
        type='TopdownPoseEstimator', backbone=dict(type='ResNet', depth=18, base_channels=8),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='RegressionHead', in_channels=64, num_joints=68, loss=dict(type='SmoothL1Loss')))
    donor = build_pose_estimator(init_cfg)
    torch.nn.init.constant_(donor.head.fc.bias, 0.25)
    ckpt = str(tmp_path / 'hg.pth')
    torch.save(dict(state_dict=donor.state_dict()), ckpt)
    model = _srn_model(init_model=dict(config=init_cfg, checkpoint=ckpt), num_iterations=0)   # runs init_weights
    other = model.head.init_model
    torch.testing.assert_close(other.head.fc.bias, torch.full((136, ), 0.25))   # the checkpoint survives
    image = torch.randn(2, 3, 128, 128)
    torch.testing.assert_close(model.head((image, )), other.head(other.extract_feat(image)))
    assert not any(p.requires_grad for p in other.parameters())
    model.train()
    assert not other.training
    with pytest.raises(ValueError, match="init_model needs 'config'"):
        SRNHead(num_joints=68, input_size=(128, 128), init_model=dict(checkpoint='x.pth'))


def test_registered_components_build_from_configs():
    for cfg in (dict(type='PatchCNN'), dict(type='CascadeNMELoss'), dict(type='ImagePassThrough'),
                dict(type='HierarchicalStructuralRelation', num_keypoints=29)):
        assert MODELS.build(cfg) is not None


def test_gradients_of_hsrm_and_the_loss():
    torch.manual_seed(0)
    hsrm = _tiny_hsrm().double()
    feats = torch.randn(1, 68, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda f: hsrm(f)[0], (feats, ))
    target = torch.rand(2, 68, 2, dtype=torch.float64) * 100
    out = (target[:, None] + torch.randn(2, 3, 68, 2, dtype=torch.float64)).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda o: CascadeNMELoss()(o, target), (out, ))


def test_ablation_configs_switch_their_part_off():
    """Tables 7 and 8: each ablation config builds with exactly its part removed."""
    import glob
    import os.path as osp

    from mmengine.config import Config
    repo = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
    paths = sorted(glob.glob(osp.join(repo, 'configs', 'srn', 'ablation', 'td-srn-t*.py')))
    expected = {'no-level1': 'use_level1', 'no-memory': 'use_memory', 'no-level2': 'use_level2',
                'no-level3': 'use_level3', 'no-nonlocal': None}
    assert len(paths) == len(expected)
    for path in paths:
        variant = osp.basename(path).split('_')[0].split('-', 3)[-1]
        head = build_pose_estimator(Config.fromfile(path).model).head
        off = [s for s in ('use_level1', 'use_memory', 'use_level2', 'use_level3') if not getattr(head.hsrm, s)]
        assert off == ([expected[variant]] if expected[variant] else []), (variant, off)
        assert (head.non_local is None) == (variant == 'no-nonlocal')


def test_hsrm_official_fc_init_and_pixel_updates_give_small_first_steps():
    """Official: every HSRM FC trunc-normal std 0.01 with zero bias, the update in input pixels. At init a cascade
    step then moves landmarks by a small fraction of a pixel; PyTorch's init with normalised updates moves them
    by many pixels (and each output-layer step W times more)."""
    hsrm = _tiny_hsrm()
    hsrm.init_weights()
    for m in hsrm.modules():
        if isinstance(m, torch.nn.Linear):
            assert m.weight.abs().max() <= 0.02 and m.bias.abs().max() == 0
            assert 0.005 < m.weight.std() < 0.012
    with pytest.raises(ValueError, match='fc_init must be one of'):
        _tiny_hsrm(fc_init='xavier')

    def first_step_px(**kw):
        torch.manual_seed(0)
        head = SRNHead(num_joints=68, input_size=(224, 224), **kw)
        head.init_weights()
        head.set_mean_shape(torch.rand(68, 2) * 0.5 + 0.25)
        with torch.no_grad():
            shapes = head.forward_iterations((torch.rand(2, 3, 224, 224), ))
        return ((shapes[:, 0] - head.mean_shape) * 224).norm(dim=-1).mean().item()

    official = first_step_px()
    ported = first_step_px(delta_unit='normalised', hsrm=dict(type='HierarchicalStructuralRelation',
                                                              fc_init='pytorch'))
    assert official < 0.05 and ported > 1., (official, ported)
    with pytest.raises(ValueError, match='delta_unit must be one of'):
        SRNHead(num_joints=68, input_size=(224, 224), delta_unit='mm')
