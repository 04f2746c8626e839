# Copyright (c) mmfacealign contributors. All rights reserved.
"""Keep every BatchNorm layer in eval mode during training: normalise with the running statistics, do not update
them.

Why. In data-parallel training each process normalises with the statistics of its own batch, so N processes with
batch b do not train like one process with batch N * b once the model has BatchNorm layers (the baseline's, SCDF's,
FFLD's and ODN's; SRN's has none). On GPUs, ``sync_bn='torch'`` (``--cfg-options sync_bn=torch``) computes the
statistics over all ranks; torch's ``SyncBatchNorm`` has no CPU implementation (``--cfg-options sync_bn=torch``
under gloo on CPUs stops at the DDP wrap: "ValueError: SyncBatchNorm layers only work with GPU modules"). With small
per-device batches (a few faces per GPU, or gloo DDP on CPUs) the per-rank statistics are also noisy. Freezing the
statistics is the usual way out when fine-tuning from a checkpoint whose running statistics are already learned: the
normalisation is then the same for any batch split, and the affine weight and bias still train. Trained from
scratch, frozen layers keep their initial statistics (mean 0, variance 1), i.e. they become a learnable per-channel
affine map: a different model from the one the configs train, use it knowingly.

How. mmengine's train loops call ``model.train()`` at the start of every epoch (the iteration-based loop: before
every iteration), which switches BatchNorm back to batch statistics; so this hook puts every
``torch.nn.modules.batchnorm._BatchNorm`` (``BatchNorm1d/2d/3d``, ``SyncBatchNorm``) into eval mode in
``before_train_iter``, i.e. right before every forward. ``requires_grad`` is left alone. MMPose's
``model.backbone.norm_eval=True`` does the same for the backbone only; this hook covers necks and heads too (ODN's
neck, the GCN and CropNet heads have BatchNorm).

Config::

    custom_hooks = [dict(type='FreezeNormStatsHook')]
"""
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmpose.registry import HOOKS
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm


def freeze_norm_stats(model: nn.Module) -> int:
    """Put every ``_BatchNorm`` of ``model`` (unwrapped from DDP & co.) into eval mode; returns how many."""
    if is_model_wrapper(model):
        model = model.module
    layers = [m for m in model.modules() if isinstance(m, _BatchNorm)]
    for m in layers:
        m.eval()
    return len(layers)


@HOOKS.register_module()
class FreezeNormStatsHook(Hook):
    """Before every training iteration, put all BatchNorm layers of the model into eval mode (running statistics
    used and not updated). See the module docstring for when this is useful and what it changes.

    Args:
        strict (bool): Raise ``ValueError`` in ``before_train`` if the model has no BatchNorm layer (a config that
            adds the hook to such a model most likely meant another model). Default False: log a warning.
    """

    priority = 'NORMAL'

    def __init__(self, strict: bool = False):
        self.strict = strict

    def before_train(self, runner) -> None:
        count = freeze_norm_stats(runner.model)
        if count == 0:
            message = 'FreezeNormStatsHook: the model has no BatchNorm layer; the hook does nothing'
            if self.strict:
                raise ValueError(message + ' (custom_hooks: remove it, or strict=False)')
            runner.logger.warning(message)
        else:
            runner.logger.info(f'FreezeNormStatsHook: {count} BatchNorm layers normalise with their running '
                               'statistics during training, which stay fixed')

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        freeze_norm_stats(runner.model)
