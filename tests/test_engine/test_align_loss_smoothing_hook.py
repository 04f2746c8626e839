# Copyright (c) mmfacealign contributors. All rights reserved.
"""AlignLossSmoothingHook: switch the Align-Loss Gaussian off at a plateau (FFLD Sec. 6.6) or at a fixed time."""
import itertools
import os.path as osp

import pytest
import torch
from mmengine.logging import MessageHub
from mmengine.model import BaseModel
from torch import nn

from mmfacealign.engine.hooks import AlignLossSmoothingHook
from mmfacealign.models.losses import AlignLoss

_names = itertools.count()


class FakeLogger:

    def __init__(self):
        self.lines = []

    def info(self, msg):
        self.lines.append(('info', msg))

    def warning(self, msg):
        self.lines.append(('warning', msg))


class FakeRunner:

    def __init__(self, model, hub=None):
        self.model = model
        self.message_hub = hub or MessageHub.get_instance(f'align_hook_test_{next(_names)}')
        self.logger = FakeLogger()
        self.iter = 0
        self.epoch = 0


def toy_model():
    model = nn.Module()
    model.head = nn.Module()
    model.head.loss_s3 = AlignLoss()
    model.head.other = nn.Linear(2, 2)
    model.aux = AlignLoss()
    return model


def smoothing_states(model):
    return [m.smoothing for m in model.modules() if isinstance(m, AlignLoss)]


def drive(hook, runner, losses, start=0):
    """Run iterations start.. with the given loss values; return the first iteration trained without
    smoothing (None if never)."""
    first_off = None
    for i, value in enumerate(losses, start):
        runner.iter = i
        hook.before_train_iter(runner, i)
        if first_off is None and not any(smoothing_states(runner.model)):
            first_off = i
        runner.message_hub.update_scalar('train/loss_s3', value)        # what RuntimeInfoHook does
        hook.after_train_iter(runner, i, outputs=dict(loss_s3=value))
    return first_off


def test_switches_off_once_after_the_plateau():
    runner = FakeRunner(toy_model())
    hook = AlignLossSmoothingHook(window=10, patience=3, min_delta=0.01)
    hook.before_train(runner)
    decreasing = [1 / (1 + i / 20) for i in range(300)]              # > 3 % better per window up to i = 300
    flat = [decreasing[-1] * (1 + 0.002 * (-1)**i) for i in range(200)]
    first_off = drive(hook, runner, decreasing + flat)
    # best updated by the window 300..309 (still below the previous one), then 3 windows without 1 % gain
    assert first_off == 340
    assert smoothing_states(runner.model) == [False, False]
    switch_lines = [m for lvl, m in runner.logger.lines if 'switched off' in m]
    assert len(switch_lines) == 1 and 'iteration 340' in switch_lines[0] and '2 AlignLoss' in switch_lines[0]
    assert runner.message_hub.get_info('align_loss_smoothing') is False


def test_no_switch_while_improving():
    runner = FakeRunner(toy_model())
    hook = AlignLossSmoothingHook(window=10, patience=2)
    hook.before_train(runner)
    assert drive(hook, runner, [0.95**(i / 10) for i in range(300)]) is None   # 5 % per window
    assert smoothing_states(runner.model) == [True, True]


def test_resume_keeps_the_switch():
    runner = FakeRunner(toy_model())
    hook = AlignLossSmoothingHook(window=5, patience=2)
    hook.before_train(runner)
    assert drive(hook, runner, [1.0] * 30) == 15
    saved = runner.message_hub.state_dict()
    hub = MessageHub.get_instance(f'align_hook_test_{next(_names)}')
    hub.load_state_dict(saved)
    resumed = FakeRunner(toy_model(), hub)
    assert smoothing_states(resumed.model) == [True, True]
    AlignLossSmoothingHook(window=5, patience=2).before_train(resumed)
    assert smoothing_states(resumed.model) == [False, False]


def test_resume_keeps_the_plateau_tracker():
    runner = FakeRunner(toy_model())
    hook = AlignLossSmoothingHook(window=5, patience=3)
    hook.before_train(runner)
    assert drive(hook, runner, [1.0] * 15) is None                  # best, then 2 windows without gain
    hub = MessageHub.get_instance(f'align_hook_test_{next(_names)}')
    hub.load_state_dict(runner.message_hub.state_dict())
    resumed = FakeRunner(toy_model(), hub)
    hook = AlignLossSmoothingHook(window=5, patience=3)
    hook.before_train(resumed)
    assert drive(hook, resumed, [1.0] * 5, start=15) is None
    assert smoothing_states(resumed.model) == [False, False]        # the 3rd window without gain, right after


def test_disable_at_iter_and_epoch():
    runner = FakeRunner(toy_model())
    hook = AlignLossSmoothingHook(disable_at_iter=7)
    assert not hook.watch_plateau
    hook.before_train(runner)
    assert drive(hook, runner, [1.0] * 20) == 7
    runner = FakeRunner(toy_model())
    hook = AlignLossSmoothingHook(disable_at_epoch=2)
    hook.before_train(runner)
    for epoch in range(4):
        runner.epoch = epoch
        hook.before_train_epoch(runner)
        assert smoothing_states(runner.model) == [epoch < 2] * 2
    assert sum('switched off' in m for _, m in runner.logger.lines) == 1


def test_missing_key_and_no_align_loss_warn():
    runner = FakeRunner(nn.Linear(1, 1))
    hook = AlignLossSmoothingHook(window=2)
    hook.before_train(runner)
    assert any('no AlignLoss' in m for lvl, m in runner.logger.lines if lvl == 'warning')
    runner = FakeRunner(toy_model())
    hook = AlignLossSmoothingHook(loss_key='loss_missing', window=2, patience=1)
    hook.before_train(runner)
    drive(hook, runner, [1.0] * 10)
    assert smoothing_states(runner.model) == [True, True]
    assert sum('loss_missing' in m for _, m in runner.logger.lines) == 1
    with pytest.raises(ValueError):
        AlignLossSmoothingHook(window=0)


class ToyModel(BaseModel):
    """A constant 'loss_s3' (a plateau from the start); records whether the smoothing was on at each step."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.ones(1))
        self.align = AlignLoss()
        self.seen = []

    def forward(self, inputs, data_samples=None, mode='loss'):
        self.seen.append(self.align.smoothing)
        return dict(loss_s3=self.w * 0 + 1.0)


def test_with_mmengine_runner_and_resume(tmp_path):
    """The real loop: RuntimeInfoHook logs 'train/loss_s3', the hook reads it; a checkpoint resumes the switch."""
    # 64 samples / batch 2: no dataloader epoch ends within 25 iterations (mmengine sleeps 2 s at each)
    from mmengine.runner import Runner

    def make_runner(name, max_iters, resume_from=None):
        return Runner(
            model=ToyModel(), work_dir=str(tmp_path), experiment_name=name,
            train_dataloader=dict(dataset=[dict(inputs=torch.zeros(1))] * 64, batch_size=2, num_workers=0,
                                  sampler=dict(type='DefaultSampler', shuffle=False)),
            train_cfg=dict(by_epoch=False, max_iters=max_iters),
            optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.)),
            default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=20, by_epoch=False),
                               logger=dict(type='LoggerHook', interval=100)),
            custom_hooks=[dict(type='AlignLossSmoothingHook', window=5, patience=2)],
            default_scope='mmpose', load_from=resume_from, resume=resume_from is not None,
            env_cfg=dict(dist_cfg=dict(backend='gloo')), log_level='WARNING')

    name = f'align_hook_runner_{next(_names)}'
    runner = make_runner(name, 20)
    runner.train()
    assert runner.model.seen == [True] * 15 + [False] * 5         # windows end at iters 4, 9, 14
    ckpt = osp.join(str(tmp_path), 'iter_20.pth')
    assert osp.exists(ckpt)
    resumed = make_runner(name + '_resumed', 25, ckpt)
    resumed.train()
    assert resumed.model.seen == [False] * 5
