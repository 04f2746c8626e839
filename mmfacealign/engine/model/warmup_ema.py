# Copyright (c) mmfacealign contributors. All rights reserved.
"""An exponential moving average of the weights whose decay ramps up with the number of updates.

SRN's official training (``train.py``, TensorFlow's ``tf.train.ExponentialMovingAverage(0.9999, num_updates=step)``)
averages with the decay ``min(decay, (1 + n) / (10 + n))`` at update ``n``, so that early averages forget the
initial weights quickly. mmengine's :class:`~mmengine.model.ExponentialMovingAverage` uses a fixed momentum: with
``momentum=1e-4`` a fraction ``(1 - 1e-4)^n`` of the average is still the weights of the first step after ``n``
updates (61% at 5k, 37% at 10k, 22% at 15k).

Use it through mmengine's ``EMAHook``::

    custom_hooks = [dict(type='EMAHook', ema_type='WarmupExponentialMovingAverage', momentum=1e-4,
                         update_buffers=False)]
"""
from mmengine.model import ExponentialMovingAverage
from mmpose.registry import MODELS
from torch import Tensor


@MODELS.register_module()
class WarmupExponentialMovingAverage(ExponentialMovingAverage):
    """mmengine's EMA with TensorFlow's ``num_updates`` warm-up of the decay.

    ``averaged = averaged * (1 - m_n) + source * m_n`` with ``m_n = max(momentum, 1 - (1 + n) / (10 + n))``, i.e.
    the decay ``1 - m_n = min(1 - momentum, (1 + n) / (10 + n))``; ``n`` is the number of updates before this one
    (mmengine's ``steps``). Arguments are :class:`~mmengine.model.ExponentialMovingAverage`'s.
    """

    def warmup_momentum(self, steps) -> float:
        n = int(steps)
        return max(self.momentum, 1. - (1. + n) / (10. + n))

    def avg_func(self, averaged_param: Tensor, source_param: Tensor, steps: int) -> None:
        averaged_param.lerp_(source_param, self.warmup_momentum(steps))
