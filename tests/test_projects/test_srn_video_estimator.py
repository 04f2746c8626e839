# Copyright (c) mmfacealign contributors. All rights reserved.
"""SRNVideoEstimator: the RNN state carried over a clip's frames (Eq. 13), clip-order checks, the Q-only phase and
HOFSInitHook's once-only initialisation."""
from types import SimpleNamespace

import pytest
import srn_video  # noqa: F401
import torch
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData
from mmpose.models import build_pose_estimator
from mmpose.structures import PoseDataSample
from srn_video.engine import HOFSInitHook

SIZE = 64
init_default_scope('mmpose')


def _model(**kwargs):
    cfg = dict(
        type='SRNVideoEstimator',
        data_preprocessor=dict(type='PoseDataPreprocessor', mean=[123.675, 116.28, 103.53],
                               std=[58.395, 57.12, 57.375], bgr_to_rgb=True),
        backbone=dict(type='ImagePassThrough'),
        head=dict(type='SRNHead', num_joints=68, num_iterations=2, patch_size=24,
                  patch_cnn=dict(type='PatchCNN', channels=(4, 8, 8), kernel_sizes=(3, 3, 3)),
                  hsrm=dict(type='HierarchicalStructuralRelation', region_channels=16, hidden_channels=16,
                            component_channels=8),
                  decoder=dict(type='RegressionLabel', input_size=(SIZE, SIZE))),
        test_cfg=dict(flip_test=False), **kwargs)
    torch.manual_seed(0)
    model = build_pose_estimator(cfg)
    model.init_weights()
    model.head.set_mean_shape(torch.rand(68, 2) * 0.5 + 0.25)
    torch.nn.init.normal_(model.head.non_local.conv_out.conv.weight, std=0.1)
    return model


def _samples(clips: int, length: int, order=None):
    torch.manual_seed(1)
    out = []
    for c in range(clips):
        for t in range(length):
            d = PoseDataSample(metainfo=dict(frame_in_clip=t, clip_index=c, input_size=(SIZE, SIZE),
                                             input_center=torch.tensor([32., 32.]).numpy(),
                                             input_scale=torch.tensor([64., 64.]).numpy()))
            d.gt_instance_labels = InstanceData(keypoint_labels=torch.rand(1, 68, 2) * 0.5 + 0.25,
                                                keypoint_weights=torch.ones(1, 68))
            d.gt_instances = InstanceData(bboxes=torch.zeros(1, 4).numpy(), bbox_scores=torch.ones(1).numpy())
            out.append(d)
    return [out[i] for i in order] if order else out


def test_hidden_state_is_carried_over_the_clip_and_only_then():
    model = _model().eval()
    torch.manual_seed(0)
    for m in model.head.modules():                # visible effects (the official 0.01 init moves ~1e-6 px)
        if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d)):
            torch.nn.init.normal_(m.weight, std=0.2)
    images = torch.randn(2 * 3, 3, SIZE, SIZE)
    carried = model._run_clip(images.view(2, 3, 3, SIZE, SIZE))                # (B, L, T, N, 2)
    assert carried.shape == (2, 3, 2, 68, 2)
    model.carry_hidden = False
    independent = model._run_clip(images.view(2, 3, 3, SIZE, SIZE))
    # frame 0 starts from h = 0 either way; later frames differ only through the carried state
    torch.testing.assert_close(carried[:, 0], independent[:, 0])
    assert (carried[:, 1:] - independent[:, 1:]).abs().max() > 1e-6
    # by hand: frame 1 of clip 0 = the head run with the hidden state that frame 0 left
    _, h0 = model.head.forward_iterations((images[0:1], ), return_hidden=True)
    by_hand = model.head.forward_iterations((images[1:2], ), hidden=h0)
    torch.testing.assert_close(carried[0:1, 1], by_hand)


def test_loss_and_predict_on_a_flattened_clip_batch():
    model = _model().train()
    samples = _samples(2, 3)
    losses = model.loss(torch.randn(6, 3, SIZE, SIZE), samples)
    assert set(losses) == {'loss_kpt', 'acc_pose'} and losses['loss_kpt'].requires_grad
    losses['loss_kpt'].backward()
    assert model.head.hsrm.memory.weight.grad.abs().sum() > 0
    assert int(model.train_iters) == 1
    model.eval()
    with torch.no_grad():
        out = model.predict(torch.randn(6, 3, SIZE, SIZE), samples)
    assert len(out) == 6 and out[0].pred_instances.keypoints.shape == (1, 68, 2)


def test_clip_order_and_config_errors_name_the_fix():
    model = _model()
    with pytest.raises(ValueError, match='clip-major'):
        model.loss(torch.randn(6, 3, SIZE, SIZE), _samples(2, 3, order=[0, 3, 1, 4, 2, 5]))
    bare = _samples(1, 2)
    for d in bare:
        d.set_metainfo(dict(frame_in_clip=None))
        del d.frame_in_clip
    with pytest.raises(KeyError, match='clip_collate'):
        model.loss(torch.randn(2, 3, SIZE, SIZE), bare)
    with pytest.raises(ValueError, match='flip_test=False'):
        build_pose_estimator(dict(type='SRNVideoEstimator', backbone=dict(type='ImagePassThrough'),
                                  head=dict(type='SRNHead', num_joints=68, input_size=(SIZE, SIZE)),
                                  test_cfg=dict(flip_test=True)))
    with pytest.raises(ValueError, match='q_only_iters'):
        _model(q_only_iters=3)


def test_hofs_init_hook_copies_the_loaded_srn_once(tmp_path):
    model = _model(occlusion_synthesis=dict(
        type='HOFSSynthesizer', q_net=dict(type='HOFSQNet', patch_size=24, patch_cnn=dict(
            type='PatchCNN', channels=(4, 8, 8), kernel_sizes=(3, 3, 3)))))
    assert model.reward_model is not None and not bool(model.hofs_ready)
    runner = SimpleNamespace(model=model, _load_from=None, _resume=False, logger=SimpleNamespace(info=print))
    with pytest.raises(ValueError, match='load_from'):
        HOFSInitHook().before_train(runner)
    # --resume in a work dir without a checkpoint loads nothing: still an error, not a silent random SRN
    resumed = SimpleNamespace(model=model, _load_from=None, _resume=True, work_dir=str(tmp_path),
                              logger=SimpleNamespace(info=print))
    with pytest.raises(ValueError, match='--resume found no checkpoint'):
        HOFSInitHook().before_train(resumed)
    HOFSInitHook(require_pretrained=False).before_train(runner)
    assert bool(model.hofs_ready)
    for a, b in zip(model.reward_model['head'].parameters(), model.head.parameters()):
        torch.testing.assert_close(a, b)
        assert not a.requires_grad
    torch.testing.assert_close(model.reward_model['head'].mean_shape, model.head.mean_shape)
    with torch.no_grad():                       # once only: a resumed run keeps the checkpoint's frozen copy
        model.head.hsrm.memory.weight.add_(1.)
    HOFSInitHook(require_pretrained=False).before_train(runner)
    assert not torch.allclose(model.reward_model['head'].hsrm.memory.weight, model.head.hsrm.memory.weight)
    ckpt = {}
    HOFSInitHook().before_save_checkpoint(runner, ckpt)
    assert 'hofs_replay' in ckpt
    ckpt = {}
    HOFSInitHook(save_replay=False).before_save_checkpoint(runner, ckpt)
    assert 'hofs_replay' not in ckpt
    # a resumed HOFS checkpoint (hofs_ready set) needs no load_from
    HOFSInitHook().before_train(resumed)


def test_hofs_init_copies_into_the_reward_model_the_optimiser_knows():
    """The optimiser is built (from the model's parameters, frozen ones included) before HOFSInitHook takes the
    loaded weights: the reward model it refers to must stay the model's, not a replaced copy kept alive."""
    from mmengine.optim import build_optim_wrapper
    model = _model(occlusion_synthesis=dict(
        type='HOFSSynthesizer', q_net=dict(type='HOFSQNet', patch_size=24, patch_cnn=dict(
            type='PatchCNN', channels=(4, 8, 8), kernel_sizes=(3, 3, 3)))))
    wrapper = build_optim_wrapper(model, dict(optimizer=dict(type='Adam', lr=1e-3)))
    with torch.no_grad():                       # the weights load_from brings
        model.head.hsrm.memory.weight.add_(1.)
    runner = SimpleNamespace(model=model, _load_from='srn.pth', _resume=False, logger=SimpleNamespace(info=print))
    HOFSInitHook().before_train(runner)
    own = {id(p) for p in model.parameters()}
    referred = [p for g in wrapper.optimizer.param_groups for p in g['params']]
    assert all(id(p) in own for p in referred)
    torch.testing.assert_close(model.reward_model['head'].hsrm.memory.weight, model.head.hsrm.memory.weight)
    assert not any(p.requires_grad for p in model.reward_model.parameters())


def test_hofs_without_its_init_hook_stops_with_the_fix():
    model = _model(occlusion_synthesis=dict(
        type='HOFSSynthesizer', q_net=dict(type='HOFSQNet', patch_size=24, patch_cnn=dict(
            type='PatchCNN', channels=(4, 8, 8), kernel_sizes=(3, 3, 3))))).train()
    with pytest.raises(RuntimeError, match='HOFSInitHook'):
        model.loss(torch.randn(6, 3, SIZE, SIZE), _samples(2, 3))


def test_inference_config_unwraps_the_clip_dataset(repo_root):
    from mmfacealign.apis.inference import inference_config
    for name in ('srn-video_pcnn-s_hofs_synthface-video-128x128.py', 'srn-video_pcnn_hofs_300vw-224x224.py'):
        cfg = inference_config(f'{repo_root}/projects/srn_video/configs/{name}')
        assert [t['type'] for t in cfg.test_dataloader.dataset.pipeline][-1] == 'PackPoseInputs'
