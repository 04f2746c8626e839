# Copyright (c) mmfacealign contributors. All rights reserved.
"""FreezeNormStatsHook: every BatchNorm (backbone, neck, head) normalises with fixed running statistics during
training, after each ``model.train()``; the affine parameters still train."""
import logging
from types import SimpleNamespace

import pytest
import torch
from mmpose.registry import HOOKS
from torch import nn

from mmfacealign.engine.hooks import FreezeNormStatsHook, freeze_norm_stats


class Wrapper(nn.Module):
    """Stands in for DDP: the hook must reach the wrapped module's layers."""

    def __init__(self, module):
        super().__init__()
        self.module = module


def _model():
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.LazyLinear(6),
                         nn.BatchNorm1d(6))


def _runner(model):
    return SimpleNamespace(model=model, logger=logging.getLogger('test_freeze_norm_hook'))


def test_hook_keeps_every_batchnorm_in_eval_mode_and_statistics_fixed():
    torch.manual_seed(0)
    model = _model()
    model(torch.rand(2, 3, 8, 8))                                      # materialise the lazy layer
    hook = HOOKS.build(dict(type='FreezeNormStatsHook'))
    assert isinstance(hook, FreezeNormStatsHook)
    runner = _runner(model)
    hook.before_train(runner)
    model.train()                                                      # what the train loop does every epoch
    hook.before_train_iter(runner, 0)
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    assert len(bns) == 2 and not any(m.training for m in bns)
    assert model[0].training and model[4].training                     # other layers stay in train mode
    before = [(m.running_mean.clone(), m.running_var.clone(), int(m.num_batches_tracked)) for m in bns]
    out = model(torch.rand(5, 3, 8, 8) * 3 + 1)
    out.sum().backward()
    for m, (mean, var, n) in zip(bns, before):
        assert torch.equal(m.running_mean, mean) and torch.equal(m.running_var, var) and int(m.num_batches_tracked) == n
        assert m.weight.grad is not None and m.bias.grad is not None  # the affine part still trains
    # eval-mode BN is per sample: a sample's output does not depend on the rest of its batch
    x = torch.rand(4, 3, 8, 8)
    torch.testing.assert_close(model(x)[:2], model(x[:2]))


def test_wrapped_models_and_models_without_batchnorm():
    model = _model()
    model(torch.rand(2, 3, 8, 8))
    from mmengine.registry import MODEL_WRAPPERS
    if 'TestFreezeNormWrapper' not in MODEL_WRAPPERS.module_dict:
        MODEL_WRAPPERS.register_module('TestFreezeNormWrapper', module=Wrapper)
    wrapped = Wrapper(model).train()
    assert freeze_norm_stats(wrapped) == 2 and not model[1].training
    plain = nn.Sequential(nn.Linear(2, 2))
    FreezeNormStatsHook().before_train(_runner(plain))                 # a warning only
    with pytest.raises(ValueError, match='no BatchNorm layer'):
        FreezeNormStatsHook(strict=True).before_train(_runner(plain))
