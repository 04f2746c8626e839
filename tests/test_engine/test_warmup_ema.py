# Copyright (c) mmfacealign contributors. All rights reserved.
"""WarmupExponentialMovingAverage: TensorFlow's num_updates ramp of the EMA decay, by hand and through EMAHook."""
import pytest
import torch
from mmengine.registry import MODELS as ENGINE_MODELS
from mmengine.registry import DefaultScope
from torch import nn

from mmfacealign.engine import WarmupExponentialMovingAverage


def test_decay_ramps_up_then_stays_at_the_configured_value():
    ema = WarmupExponentialMovingAverage(nn.Linear(1, 1, bias=False), momentum=1e-4)
    assert ema.warmup_momentum(1) == pytest.approx(1 - 2 / 11)         # decay (1 + n) / (10 + n)
    assert ema.warmup_momentum(5000) == pytest.approx(9 / 5010)
    assert ema.warmup_momentum(10 ** 6) == pytest.approx(1e-4)          # min(0.9999, ...) from n = 89991 on


def test_averages_by_hand_and_forgets_the_first_weights():
    model = nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        model.weight.fill_(0.)
    ema = WarmupExponentialMovingAverage(model, momentum=1e-4)
    ema.update_parameters(model)                                         # step 0: a copy
    values = [0.]
    for w in (1., 2.):
        with torch.no_grad():
            model.weight.fill_(w)
        ema.update_parameters(model)
        m = max(1e-4, 1 - (1 + (len(values))) / (10 + len(values)))
        values.append(values[-1] * (1 - m) + w * m)
    assert ema.module.weight.item() == pytest.approx(values[-1])
    # after 5000 updates towards 1, the step-0 weight (0) keeps a share of prod(1 - m_n): tiny, where mmengine's
    # fixed momentum keeps (1 - 1e-4)^5000 = 61%
    share = 1.
    for n in range(1, 5001):
        share *= 1 - ema.warmup_momentum(n)
    assert share < 1e-3 < (1 - 1e-4) ** 5000


def test_builds_as_an_ema_hook_type():
    import mmfacealign  # noqa: F401  (registers the type)
    with DefaultScope.overwrite_default_scope('mmpose'):
        ema = ENGINE_MODELS.build(dict(type='WarmupExponentialMovingAverage', model=nn.Linear(2, 2), momentum=1e-4))
    assert isinstance(ema, WarmupExponentialMovingAverage)
