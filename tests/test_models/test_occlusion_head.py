# Copyright (c) mmfacealign contributors. All rights reserved.
"""OcclusionPredictHead: labels from keypoints_occluded (not keypoints_visible), pooled and per-landmark features
(local: a landmark's logit reads only the map around it), gradients, flip test (probabilities permuted with
flip_indices and averaged), the prediction field, and the config errors."""
import pytest
import torch
from mmengine.structures import InstanceData
from mmpose.models.utils.tta import flip_coordinates
from mmpose.registry import MODELS
from mmpose.structures import PoseDataSample

import mmfacealign  # noqa: F401
from mmfacealign.models.heads.occlusion_head import gather_occlusion_labels, landmark_head

K, C, H, W = 4, 8, 6, 6
INPUT = (48, 48)
CODEC = dict(type='RegressionLabel', input_size=INPUT)


def head(features='landmark', **kw):
    cfg = dict(type='OcclusionPredictHead', features=features, in_channels=C, pose_feats='pooled', patch_size=3,
               hidden_channels=16,
               pose_cfg=dict(type='RegressionHead', in_channels=C, num_joints=K, decoder=CODEC,
                             loss=dict(type='SmoothL1Loss', use_target_weight=True)), **kw)
    torch.manual_seed(0)
    h = MODELS.build(cfg)
    h.init_weights()
    return h


def samples(n=2, occluded=True, seed=0):
    g = torch.Generator().manual_seed(seed)
    out = []
    for i in range(n):
        d = PoseDataSample(metainfo=dict(input_size=INPUT, flip_indices=[1, 0, 3, 2], img_path=f'img{i}.png'))
        if occluded:
            d.set_metainfo(dict(keypoints_occluded=(torch.rand(1, K, generator=g) > 0.5).float().numpy()))
        d.gt_instance_labels = InstanceData(keypoint_labels=torch.rand(1, K, 2, generator=g) * 0.6 + 0.2,
                                            keypoint_weights=torch.ones(1, K))
        out.append(d)
    return out


def test_labels_come_from_keypoints_occluded_and_weights_from_the_pose_labels():
    ds = samples()
    ds[0].gt_instance_labels.keypoint_weights[0, 2] = 0        # a point outside the crop: weight 0
    occ, w = gather_occlusion_labels(ds, K)
    assert occ.shape == w.shape == (2, K)
    torch.testing.assert_close(occ[1], torch.as_tensor(ds[1].metainfo['keypoints_occluded'][0]))
    assert w[0, 2] == 0 and w.sum() == 2 * K - 1
    with pytest.raises(KeyError, match=r"img0.png.*keypoints_occluded.*PackPoseInputs\(meta_keys"):
        gather_occlusion_labels(samples(occluded=False), K)


@pytest.mark.parametrize('features', ['pooled', 'landmark'])
def test_forward_loss_and_gradients(features):
    h = head(features)
    feats = (torch.randn(2, C, H, W, requires_grad=True), )
    coords, logits = h(feats)
    assert coords.shape == (2, K, 2) and logits.shape == (2, K)
    losses = h.loss(feats, samples())
    assert {'loss_kpt', 'acc_pose', 'loss_occ', 'acc_occ'} <= set(losses)
    # at init the logits are near 0: BCE near log 2
    assert losses['loss_occ'].item() == pytest.approx(0.6931, abs=0.02)
    losses['loss_occ'].backward()
    branch = [p for n, p in h.named_parameters() if not n.startswith('pose_head')]
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in branch)
    assert feats[0].grad.abs().sum() > 0                          # the occlusion loss trains the backbone too
    assert all(p.grad is None for p in h.pose_head.parameters())  # ... and not the landmark head


def test_a_checkpoint_without_the_output_loads_into_the_pose_head():
    """A plain model's head keys (head.fc.*) move under head.pose_head.*; the branch keeps its init; a checkpoint
    of the -occ model itself loads unchanged."""
    h = head()
    plain = MODELS.build(dict(type='RegressionHead', in_channels=C, num_joints=K, decoder=CODEC))
    torch.nn.init.normal_(plain.fc.weight)
    wrapper = torch.nn.Module()
    wrapper.head = h
    branch = {k: v.clone() for k, v in h.state_dict().items() if not k.startswith('pose_head.')}
    result = wrapper.load_state_dict({f'head.{k}': v for k, v in plain.state_dict().items()}, strict=False)
    torch.testing.assert_close(h.pose_head.fc.weight, plain.fc.weight)
    assert not result.unexpected_keys and sorted(result.missing_keys) == sorted(f'head.{k}' for k in branch)
    assert all(torch.equal(h.state_dict()[k], v) for k, v in branch.items())
    other = head()
    torch.nn.init.normal_(other.occ_weight)
    assert not wrapper.load_state_dict({f'head.{k}': v for k, v in other.state_dict().items()}).missing_keys
    torch.testing.assert_close(h.occ_weight, other.occ_weight)


def test_landmark_features_are_local():
    """Landmark k's logit reads the 3x3 map cells around it: changing the map far from every landmark changes
    nothing, changing it at landmark 0 changes landmark 0's logit only (landmarks far apart)."""
    h = head('landmark')
    for name, p in h.named_parameters():            # weights large enough for changes to show in float32
        if not name.startswith('pose_head'):
            torch.nn.init.normal_(p, std=0.5)
    feats = torch.randn(1, C, H, W)
    # at map pixels 0.6 and 5.4 per axis: the 3x3 crops read cells 0-2 and 4-5, never row or column 3
    centres = torch.tensor([[[0.1, 0.1], [0.9, 0.1], [0.1, 0.9], [0.9, 0.9]]])
    base = h.occlusion_logits((feats, ), centres)
    far = feats.clone()
    far[..., 3, :] += 5.0
    far[..., :, 3] += 5.0
    torch.testing.assert_close(h.occlusion_logits((far, ), centres), base)
    near = feats.clone()
    near[..., 0:2, 0:2] += 5.0                                     # around landmark 0
    changed = (h.occlusion_logits((near, ), centres) - base).abs()[0]
    assert changed[0] > 1e-3 and (changed[1:] == 0).all(), changed


def test_pooled_features_match_visibility_head_branch():
    """features='pooled' is VisPredictHead's branch: global average pooling, one linear layer."""
    h = head('pooled')
    feats = torch.randn(2, C, H, W)
    expected = feats.mean((2, 3)) @ h.occ_fc.weight.T + h.occ_fc.bias
    torch.testing.assert_close(h.occlusion_logits((feats, )), expected)


@pytest.mark.parametrize('features', ['pooled', 'landmark'])
def test_predict_adds_probabilities_and_flip_test_averages_them(features):
    h = head(features)
    h.eval()
    torch.manual_seed(1)
    feats = (torch.randn(2, C, H, W), )
    flipped = (feats[0].flip(-1), )
    ds = samples()
    with torch.no_grad():
        plain = h.predict(feats, ds, dict(flip_test=False))
        both = h.predict([feats, flipped], ds, dict(flip_test=True, shift_coords=True))
        # by hand: the pose head's flip-test keypoints (decoded input pixels -> normalised) give the crop centres;
        # the flipped image's landmark j sits at the mirrored landmark flip_indices[j]
        kpts = torch.stack([torch.as_tensor(i.keypoints[0]) for i in both]) / torch.tensor(INPUT)
        flip_indices = ds[0].metainfo['flip_indices']
        mirrored = flip_coordinates(kpts.clone(), flip_indices, True, INPUT)
        p = torch.sigmoid(h.occlusion_logits(feats, kpts))
        p_flip = torch.sigmoid(h.occlusion_logits(flipped, mirrored))[:, flip_indices]
        expected = (p + p_flip) / 2
    assert plain[0].keypoints_occluded.shape == (1, K)
    for i in range(2):
        torch.testing.assert_close(torch.as_tensor(both[i].keypoints_occluded[0]), expected[i])


def test_config_errors_name_the_key():
    with pytest.raises(ValueError, match='features must be one of'):
        head('global')
    with pytest.raises(ValueError, match='use_sigmoid must be False'):
        head(loss=dict(type='BCELoss', use_target_weight=True, use_sigmoid=True))
    h = head('landmark')
    with pytest.raises(ValueError, match=r"features='landmark' samples a feature map.*neck=None"):
        h.occlusion_logits((torch.randn(2, C), ), torch.rand(2, K, 2))


OCC_CONFIGS = ['configs/baselines/td-reg-occ_res18-w32_1xb64-15e_synthface-128x128.py',
               'configs/scdf/td-scdf-occ_res18-w32_1xb64-15e_synthface-128x128.py',
               'configs/ffld/td-ffld-occ_res18-w32_1xb64-15e_synthface-128x128.py',
               'configs/odn/td-odn-occ_res18-w32_1xb64-15e_synthface-128x128.py',
               'configs/srn/td-srn-occ_pcnn-s_1xb64-15e_synthface-128x128.py']


@pytest.mark.parametrize('config', OCC_CONFIGS, ids=lambda c: c.split('/')[1])
def test_every_family_trains_and_predicts_occlusion(config, repo_root, synthface_root):
    """Each family's SynthFace config with the occlusion output: on 2 real SynthFace training samples the loss
    has the method's terms plus loss_occ, whose gradient reaches the branch; predict (with the config's flip
    test) gives keypoints_occluded probabilities beside the keypoints."""
    import os.path as osp

    from mmengine.config import Config
    from mmengine.dataset import pseudo_collate
    from mmpose.registry import DATASETS

    from mmfacealign.apis import init_model
    cfg = Config.fromfile(osp.join(repo_root, config))
    torch.manual_seed(0)
    model = init_model(cfg, device='cpu')
    if hasattr(landmark_head(model.head), 'set_mean_shape'):          # SRN: MeanShapeHook's work in training
        landmark_head(model.head).set_mean_shape(torch.rand(68, 2) * 0.4 + 0.3)
    ds_cfg = cfg.train_dataloader.dataset
    ds_cfg.data_root = synthface_root + '/'
    dataset = DATASETS.build(ds_cfg)
    batch = model.data_preprocessor(pseudo_collate([dataset[i] for i in range(2)]), training=True)
    model.train()
    losses = model(**batch, mode='loss')
    assert 'loss_occ' in losses and any(k.startswith('loss_') and k != 'loss_occ' for k in losses), losses.keys()
    losses['loss_occ'].backward()
    branch = [p for n, p in model.head.named_parameters() if not n.startswith('pose_head')]
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in branch)
    model.eval()
    test_ds = cfg.val_dataloader.dataset
    test_ds.data_root = synthface_root + '/'
    val = DATASETS.build(test_ds)
    with torch.no_grad():
        out = model.test_step(pseudo_collate([val[i] for i in range(2)]))
    assert cfg.model.test_cfg.get('flip_test', False)
    for sample in out:
        prob = sample.pred_instances.keypoints_occluded
        assert prob.shape == (1, 68) and ((prob >= 0) & (prob <= 1)).all()
        assert sample.pred_instances.keypoints.shape == (1, 68, 2)
    # the config's evaluator scores them (as tools/test.py would, through mmengine's Evaluator)
    from mmengine.evaluator import Evaluator
    evaluator = Evaluator(cfg.val_evaluator)
    evaluator.dataset_meta = val.metainfo
    evaluator.process(out)
    metrics = evaluator.evaluate(len(out))
    # (the first validation faces are clean: no occluded landmark, so no AP; the split by prediction is there)
    assert any(k.startswith('NME_pred_') for k in metrics), sorted(metrics)


def test_flip_test_centres_are_the_mirrored_landmarks():
    """The geometry behind the flip test, without flip_coordinates' own formula: on a stride-1 map (input-sized,
    where the flipped image's map is the flipped map), the crop that predict takes for the flipped image's
    landmark j equals the horizontally mirrored crop of the original at landmark flip_indices[j]."""
    from mmfacealign.models.utils import crop_patches, normalised_to_map
    torch.manual_seed(0)
    size = 16
    fmap = torch.randn(1, 2, size, size)
    centres = torch.rand(1, K, 2) * 0.6 + 0.2
    flip_indices = [1, 0, 3, 2]
    mirrored = flip_coordinates(centres.clone(), flip_indices, True, (size, size))   # what predict uses
    got = crop_patches(fmap.flip(-1), normalised_to_map(mirrored, (size, size)), 3)
    expected = crop_patches(fmap, normalised_to_map(centres, (size, size)), 3)[:, flip_indices].flip(-1)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)


def test_reduction_and_shape_errors_name_the_keys():
    h = head('landmark', reduce_channels=4)
    assert h.occ_reduce.out_channels == 4 and h.occ_mlp[0].in_features == 4 * 9
    assert isinstance(head('landmark', reduce_channels=None).occ_reduce, torch.nn.Identity)
    with pytest.raises(ValueError, match=r'model.head.in_channels=8 expects 8 channels'):
        h.occlusion_logits((torch.randn(2, C + 1, H, W), ), torch.rand(2, K, 2))
    with pytest.raises(IndexError, match=r'model.head.in_index=3.*1 feature level'):
        head('landmark', in_index=3).occlusion_logits((torch.randn(2, C, H, W), ), torch.rand(2, K, 2))
    with pytest.raises(ValueError, match=r'model.head.cell_centre must be one of'):
        head(cell_centre='corner')
    # 'area' needs the input size: from the pose head's decoder here
    area = head(cell_centre='area')
    assert area.input_size == INPUT and area.occlusion_logits((torch.randn(1, C, H, W), ),
                                                              torch.rand(1, K, 2)).shape == (1, K)
