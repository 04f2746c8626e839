# Copyright (c) mmfacealign contributors. All rights reserved.
"""GCNLandmarkHead (SCDF): shapes, losses, flip test, estimator integration, parameter count."""
import numpy as np
import pytest
import torch
from mmengine.structures import InstanceData
from mmpose.models import build_pose_estimator
from mmpose.models.backbones import ResNet
from mmpose.models.heads import RegressionHead
from mmpose.registry import MODELS
from mmpose.testing import get_packed_inputs
from mmpose.utils import register_all_modules

from mmfacealign.models import GCNLandmarkHead, MeanSoftWingLoss, RelativeLocationLoss
from mmfacealign.models.utils import LandmarkGraph


def _feats(b=2, c=512, size=8, seed=0):
    torch.manual_seed(seed)
    return (torch.rand(b, c, size, size), )


def _samples(k, b=2):
    return get_packed_inputs(batch_size=b, num_keypoints=k, img_shape=(256, 256), input_size=(256, 256),
                             with_heatmap=False, with_simcc_label=False)['data_samples']


def _count(module):
    return sum(p.numel() for p in module.parameters())


def test_parameter_count_wflw_resnet34():
    """Facts A.4: ResNet-34 + node mapper + SemGCN on WFLW = 23.71 M (21.28 + 2.08 + 0.34)."""
    backbone = ResNet(depth=34)
    head = GCNLandmarkHead()
    total = _count(backbone) + _count(head)
    assert abs(total - 23.71e6) / 23.71e6 < 0.02
    assert total == 23_705_134
    assert _count(head.node_mapper) == 2_084_112 and _count(head.gcn) == 336_350
    assert _count(backbone) == 21_284_672


def test_defaults_from_facts():
    head = GCNLandmarkHead()
    assert head.graph.name == 'wflw98_top3' and head.node_channels == 4 * 8 * 8
    assert head.input_size == (256, 256) and head.dynamic_adjacency is None
    assert isinstance(head.loss_module, MeanSoftWingLoss)
    assert (head.loss_module.omega1, head.loss_module.omega2, head.loss_module.epsilon) == (2.0, 20.0, 0.5)
    assert isinstance(head.relative_loss_module, RelativeLocationLoss)
    assert head.relative_loss_module.graph is head.graph and head.relative_loss_module.directed   # official rows
    # the official code supervises all 2N coordinates: no target weights in either loss
    assert not head.loss_module.use_target_weight and not head.relative_loss_module.use_target_weight
    assert {m.weight_init for m in head.gcn.modules() if hasattr(m, 'weight_init')} == {'official'}
    # flip test, decoding and acc_pose come from MMPose's RegressionHead
    assert isinstance(head, RegressionHead) and not hasattr(head, 'fc')


def test_partial_loss_override_keeps_the_head_behaviour():
    """A partial override replaces the default dict: every default must agree, so nothing silently changes."""
    feats, samples = _feats(), _samples(98)
    samples[0].gt_instance_labels.keypoint_weights[0, :10] = 0.
    torch.manual_seed(0)
    full = GCNLandmarkHead()
    torch.manual_seed(0)
    partial = GCNLandmarkHead(relative_loss=dict(type='RelativeLocationLoss', directed=True),
                              loss=dict(type='MeanSoftWingLoss'))
    full_losses, partial_losses = full.loss(feats, samples), partial.loss(feats, samples)
    for key in ('loss_kpt', 'loss_rel'):
        torch.testing.assert_close(full_losses[key], partial_losses[key])
    # a contradicting inner flag is an error, not silently overwritten
    with pytest.raises(ValueError, match='contradicts'):
        RelativeLocationLoss(use_target_weight=True, loss=dict(type='MeanSoftWingLoss', use_target_weight=False))


def test_forward_outputs_normalised_coordinates():
    head = GCNLandmarkHead().eval()
    feats = _feats()
    out = head(feats)
    assert out.shape == (2, 98, 2)
    # the graph network regresses pixels; forward divides by the input size once
    nodes = head.node_mapper(feats[-1])
    torch.testing.assert_close(out * 256, head.gcn(nodes))
    normalised = GCNLandmarkHead(output_space='normalised').eval()
    normalised.load_state_dict(head.state_dict())
    torch.testing.assert_close(normalised(feats) / 256, out)
    with pytest.raises(ValueError, match='in_featuremap_size'):
        head((torch.rand(2, 512, 7, 7), ))


@pytest.mark.parametrize('use_target_weight', [False, True])
def test_loss_terms_match_hand_computation(use_target_weight):
    head = GCNLandmarkHead(
        loss=dict(type='MeanSoftWingLoss', use_target_weight=use_target_weight),
        relative_loss=dict(type='RelativeLocationLoss', use_target_weight=use_target_weight))
    feats = _feats()
    samples = _samples(98)
    samples[1].gt_instance_labels.keypoint_weights[0, :5] = 0.
    losses = head.loss(feats, samples)
    assert set(losses) == {'loss_kpt', 'loss_rel', 'acc_pose'}
    pred = head(feats)      # BN in train mode: same batch -> same output
    labels = torch.cat([d.gt_instance_labels.keypoint_labels for d in samples]) * 256
    weights = torch.cat([d.gt_instance_labels.keypoint_weights for d in samples])[..., None]
    kpt = MeanSoftWingLoss(use_target_weight=use_target_weight)
    torch.testing.assert_close(losses['loss_kpt'], kpt(pred * 256, labels, weights))
    rel = RelativeLocationLoss(use_target_weight=use_target_weight)               # official directed rows
    torch.testing.assert_close(losses['loss_rel'], rel(pred * 256, labels, weights))
    # the weights matter only with use_target_weight=True (MMPose's behaviour, a switch)
    unweighted = MeanSoftWingLoss()(pred * 256, labels)
    assert (losses['loss_kpt'].item() == pytest.approx(unweighted.item())) != use_target_weight
    assert 0 <= losses['acc_pose'].item() <= 1
    (losses['loss_kpt'] + losses['loss_rel']).backward()
    assert all(p.grad is not None for p in head.parameters())


def test_loss_switches():
    feats, samples = _feats(), _samples(98)
    no_rel = GCNLandmarkHead(relative_loss=None)
    assert set(no_rel.loss(feats, samples)) == {'loss_kpt', 'acc_pose'}
    directed = GCNLandmarkHead(relative_loss=dict(type='RelativeLocationLoss', directed=True))
    assert directed.relative_loss_module.directed
    # normalised loss space: the Soft Wing parameters must be given in normalised units
    normalised = GCNLandmarkHead(
        loss_space='normalised', loss=dict(type='SoftWingLoss', omega1=2 / 256, omega2=20 / 256, epsilon=0.5 / 256),
        relative_loss=dict(type='RelativeLocationLoss',
                           loss=dict(type='MeanSoftWingLoss', omega1=2 / 256, omega2=20 / 256, epsilon=0.5 / 256)))
    assert normalised.loss(feats, samples)['loss_kpt'] > 0
    with pytest.raises(ValueError, match=r"loss_space='normalised'.*loss \(SoftWingLoss\).*2\.0"):
        GCNLandmarkHead(loss_space='normalised', relative_loss=None, loss=dict(type='SoftWingLoss'))
    with pytest.raises(ValueError, match=r'relative_loss\.loss \(MeanSoftWingLoss\)'):
        GCNLandmarkHead(loss_space='normalised', loss=dict(type='SmoothL1Loss'))
    with pytest.raises(ValueError, match='loss_space'):
        GCNLandmarkHead(loss_space='cm')
    bad = _samples(98)
    for s in bad:
        s.set_metainfo(dict(input_size=(128, 128)))
    with pytest.raises(ValueError, match='input_size'):
        GCNLandmarkHead().loss(feats, bad)


@pytest.mark.parametrize('source,expected_in', [('node_map', 68 * 4), ('backbone', 512)])
def test_dynamic_weights(source, expected_in):
    head = GCNLandmarkHead(num_joints=68, graph='ibug68_anatomical',
                           dynamic_adjacency=dict(type='DynamicAdjacency', source=source))
    assert head.dynamic_adjacency.fc1.in_features == expected_in
    assert head.dynamic_adjacency.nnz == 266
    losses = head.loss(_feats(), _samples(68))
    (losses['loss_kpt'] + losses['loss_rel']).backward()
    assert all(p.grad is not None for p in head.parameters())             # no dead static edge weights
    static = GCNLandmarkHead(num_joints=68, graph='ibug68_anatomical')
    assert _count(head) - _count(static) == _count(head.dynamic_adjacency) - 10 * 266


def test_graph_must_match_num_joints(tmp_path):
    with pytest.raises(ValueError, match="'wflw98_top3' has 98 nodes, expected 29"):
        GCNLandmarkHead(num_joints=29)
    path = str(tmp_path / 'g.txt')
    LandmarkGraph.builtin('cofw29_anatomical').save(path)
    assert GCNLandmarkHead(num_joints=29, graph=path).graph.num_edges == 52


def test_predict_and_flip_test():
    head = GCNLandmarkHead().eval()
    feats = _feats()
    samples = _samples(98)
    preds = head.predict(feats, samples)
    assert len(preds) == 2 and isinstance(preds[0], InstanceData)
    assert preds[0].keypoints.shape == (1, 98, 2) and preds[0].keypoint_scores.shape == (1, 98)
    np.testing.assert_allclose(preds[0].keypoints[0], head(feats)[0].detach().numpy() * 256, rtol=1e-5, atol=1e-4)
    flip_indices = samples[0].metainfo['flip_indices']
    flipped = head.predict([feats, feats], samples, test_cfg=dict(flip_test=True, shift_coords=True))
    coords = head(feats)[0].detach().numpy()
    mirrored = coords.copy()
    mirrored[:, 0] = 1 - mirrored[:, 0] - 1 / 256
    expected = (coords + mirrored[flip_indices]) / 2 * 256
    np.testing.assert_allclose(flipped[0].keypoints[0], expected, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize('dynamic', [False, True])
def test_topdown_estimator_modes(dynamic):
    register_all_modules()
    cfg = dict(
        type='TopdownPoseEstimator',
        data_preprocessor=dict(type='PoseDataPreprocessor', mean=[123.675, 116.28, 103.53],
                               std=[58.395, 57.12, 57.375], bgr_to_rgb=True),
        backbone=dict(type='ResNet', depth=18, init_cfg=None),
        head=dict(type='GCNLandmarkHead', in_channels=512, num_joints=29, in_featuremap_size=(8, 8),
                  graph='cofw29_anatomical', dynamic_adjacency=dict() if dynamic else None,
                  decoder=dict(type='RegressionLabel', input_size=(256, 256))),
        test_cfg=dict(flip_test=True, shift_coords=True))
    model = build_pose_estimator(cfg)
    packed = get_packed_inputs(batch_size=2, num_keypoints=29, img_shape=(256, 256), input_size=(256, 256),
                               with_heatmap=False, with_simcc_label=False)
    data = model.data_preprocessor(packed, training=True)
    model.train()
    losses = model.forward(**data, mode='loss')
    assert {'loss_kpt', 'loss_rel', 'acc_pose'} <= set(losses)
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)
    model.eval()
    with torch.no_grad():
        results = model.forward(**model.data_preprocessor(packed, training=False), mode='predict')
        tensor = model.forward(**data, mode='tensor')
    assert results[0].pred_instances.keypoints.shape == (1, 29, 2)
    assert tensor.shape == (2, 29, 2)
    assert MODELS.get('GCNLandmarkHead') is GCNLandmarkHead


def test_submodule_configs_merge_partial_overrides():
    """``gcn`` / ``node_mapper`` / ``dynamic_adjacency`` are sub-module configs; a partial one keeps its type."""
    head = GCNLandmarkHead(node_mapper=dict(mid_channels=16), gcn=dict(hidden_channels=16, num_res_blocks=1))
    assert head.node_mapper.conv1.conv.out_channels == 16
    assert len(head.gcn.res_blocks) == 1 and head.gcn.input_layer.conv.out_channels == 16
    assert head.gcn.output_layer.edge_weight is not None and head.dynamic_adjacency is None
    dynamic = GCNLandmarkHead(dynamic_adjacency=dict(source='backbone', transpose=True))
    assert dynamic.dynamic_source == 'backbone' and dynamic.dynamic_adjacency.transpose
    assert dynamic.dynamic_adjacency.fc1.in_features == 512 and dynamic.gcn.output_layer.edge_weight is None
    with pytest.raises(ValueError, match=r'dynamic_adjacency\.source'):
        GCNLandmarkHead(dynamic_adjacency=dict(source='image'))
