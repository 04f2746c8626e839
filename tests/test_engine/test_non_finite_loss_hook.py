# Copyright (c) mmfacealign contributors. All rights reserved.
"""NonFiniteLossHook: training stops at the first NaN/Inf loss, naming the iteration, the terms and the images;
every config of the project has it."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.model import BaseModel
from mmpose.registry import HOOKS
from mmpose.structures import PoseDataSample
from torch import nn

from mmfacealign.engine.hooks import NonFiniteLossHook
from mmfacealign.engine.hooks.non_finite_loss_hook import batch_image_paths, non_finite_terms

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


class FakeRunner:
    iter = 41
    epoch = 2


def _batch(n, start=0):
    return dict(inputs=[torch.zeros(1)] * n,
                data_samples=[PoseDataSample(metainfo=dict(img_path=f'faces/{start + i:03d}.png')) for i in range(n)])


def test_non_finite_terms_checks_only_loss_keys():
    outputs = dict(loss=torch.tensor(float('nan')), loss_kpt=torch.tensor(0.5), loss_s3=torch.tensor(float('inf')),
                   acc_pose=torch.tensor(float('nan')), loss_vec=torch.tensor([1., float('-inf')]), loss_num=1.0)
    assert non_finite_terms(outputs) == dict(loss=pytest.approx(float('nan'), nan_ok=True), loss_s3=float('inf'),
                                             loss_vec=float('-inf'))
    assert non_finite_terms(dict(loss=torch.tensor(1.), acc_pose=torch.tensor(float('nan')))) == {}
    assert non_finite_terms(None) == {}


def test_hook_names_iteration_terms_and_images():
    hook = HOOKS.build(dict(type='NonFiniteLossHook', max_paths=3))
    assert isinstance(hook, NonFiniteLossHook) and hook.priority == 'VERY_HIGH'
    finite = dict(loss=torch.tensor(2.), loss_kpt=torch.tensor(2.))
    hook.after_train_iter(FakeRunner(), 5, _batch(4), finite)                 # nothing happens
    outputs = dict(loss=torch.tensor(float('nan')), loss_kpt=torch.tensor(1.), loss_nuclear=torch.tensor(float('nan')))
    with pytest.raises(FloatingPointError) as info:
        hook.after_train_iter(FakeRunner(), 5, _batch(4), outputs)
    msg = str(info.value)
    assert 'iteration 42 (epoch 3, batch 5' in msg and 'loss_nuclear = nan' in msg
    assert 'loss_kpt' not in msg and 'loss =' not in msg                     # the finite term and the total
    assert 'Images of the batch (4): faces/000.png, faces/001.png, faces/002.png and 1 more' in msg
    # only the sum overflows: the total is named
    with pytest.raises(FloatingPointError, match=r'loss = inf\. Images'):
        hook.after_train_iter(FakeRunner(), 0, _batch(1), dict(loss=torch.tensor(float('inf')),
                                                                loss_a=torch.tensor(3e38)))
    with pytest.raises(FloatingPointError, match='the batch carries no img_path'):
        hook.after_train_iter(FakeRunner(), 0, dict(inputs=[]), dict(loss=torch.tensor(float('nan'))))
    NonFiniteLossHook(enabled=False).after_train_iter(FakeRunner(), 5, _batch(4), outputs)   # switched off


def test_batch_image_paths_walks_clips_and_dicts():
    clips = dict(data_samples=[[PoseDataSample(metainfo=dict(img_path='v/1.png')),
                                PoseDataSample(metainfo=dict(img_path='v/2.png'))], dict(img_path='x.png'),
                               PoseDataSample(metainfo=dict(id=3))])
    assert batch_image_paths(clips) == ['v/1.png', 'v/2.png', 'x.png']
    assert batch_image_paths(None) == []


class NaNAtThirdStep(BaseModel):
    """loss_a stays finite; loss_b turns NaN at the third training step (iteration 3)."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.ones(1))
        self.steps = 0

    def forward(self, inputs, data_samples=None, mode='loss'):
        self.steps += 1
        b = float('nan') if self.steps == 3 else 0.5
        return dict(loss_a=self.w.pow(2), loss_b=self.w * b, acc_pose=torch.tensor(1.))


def test_stops_an_mmengine_run_before_the_checkpoint_of_the_bad_iteration(tmp_path):
    from mmengine.runner import Runner
    data = [dict(inputs=torch.zeros(1), data_samples=PoseDataSample(metainfo=dict(img_path=f'imgs/{i}.jpg')))
            for i in range(16)]
    runner = Runner(
        model=NaNAtThirdStep(), work_dir=str(tmp_path), experiment_name='non_finite_hook_runner',
        train_dataloader=dict(dataset=data, batch_size=2, num_workers=0,
                              sampler=dict(type='DefaultSampler', shuffle=False)),
        train_cfg=dict(by_epoch=False, max_iters=6),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1, by_epoch=False),
                           logger=dict(type='LoggerHook', interval=100),
                           non_finite_loss=dict(type='NonFiniteLossHook')),
        default_scope='mmpose', env_cfg=dict(dist_cfg=dict(backend='gloo')), log_level='WARNING')
    with pytest.raises(FloatingPointError) as info:
        runner.train()
    msg = str(info.value)
    assert 'iteration 3 ' in msg and 'loss_b = nan' in msg and 'loss_a' not in msg
    assert 'Images of the batch (2): imgs/4.jpg, imgs/5.jpg.' in msg
    assert osp.exists(osp.join(str(tmp_path), 'iter_2.pth'))
    assert not osp.exists(osp.join(str(tmp_path), 'iter_3.pth'))            # the NaN weights are not saved


def test_every_config_has_the_hook():
    configs = sorted(p for pattern in (('configs', '**', '*.py'), ('projects', '*', 'configs', '**', '*.py'))
                     for p in glob.glob(osp.join(REPO, *pattern), recursive=True) if '_base_' not in p)
    assert len(configs) > 20
    missing = [osp.relpath(p, REPO) for p in configs
               if Config.fromfile(p).get('default_hooks', {}).get('non_finite_loss') != dict(type='NonFiniteLossHook')]
    assert not missing, f'configs without default_hooks.non_finite_loss: {missing}'
    # the documented off switch works through --cfg-options
    cfg = Config.fromfile(configs[0])
    cfg.merge_from_dict({'default_hooks.non_finite_loss.enabled': False})
    assert HOOKS.build(cfg.default_hooks.non_finite_loss).enabled is False
