# Copyright (c) mmfacealign contributors. All rights reserved.
"""Stop training at the first non-finite loss, naming the iteration, the loss terms and the batch's images.

A NaN or Inf loss does not stop mmengine: the optimiser steps with NaN gradients, every later loss is NaN, the
logger prints ``loss: nan`` for the rest of the schedule and checkpoints of NaN weights are saved. This hook
checks the parsed losses of every training iteration and raises ``FloatingPointError`` at the first non-finite
one, with what is needed to find the cause: the iteration (1-based, as the log prints it) and epoch, each loss
term that is NaN or Inf with its value, and the ``img_path`` of every sample of the batch (a bad annotation or
image shows up there; a diverging model shows no pattern: lower the learning rate or set
``optim_wrapper.clip_grad``).

What it reads: mmengine's train loops call ``after_train_iter(runner, batch_idx, data_batch, outputs)`` with
``outputs`` = the ``log_vars`` of ``BaseModel.parse_losses``: an ``OrderedDict`` of scalar tensors, ``'loss'`` (the
sum that is back-propagated) first, then every term of the model's loss dict (mean-reduced), including non-loss
entries such as MMPose's ``acc_pose``. Only the keys containing ``'loss'`` (those mmengine sums) are checked.

When: at this point the optimiser has already stepped with the non-finite gradients, so the in-memory weights are
lost; the hook runs at ``VERY_HIGH`` priority, before ``CheckpointHook`` (``VERY_LOW``) could save them, so the
last checkpoint on disk is from before the failure: resume from it. Under ``torchrun`` each rank checks its own
losses; the rank that raises exits and the launcher stops the others.

Configs: ``default_hooks = dict(non_finite_loss=dict(type='NonFiniteLossHook'))`` (the project's root configs have
it). ``--cfg-options default_hooks.non_finite_loss.enabled=False`` turns it off (mmengine 0.10.7 accepts ``None``
only for its own default hooks: ``default_hooks.non_finite_loss=None`` fails an assertion in
``Runner.register_default_hooks``).
"""
import math
from typing import Dict, List, Optional, Sequence, Union

import torch
from mmengine.hooks import Hook
from mmpose.registry import HOOKS

DATA_BATCH = Optional[Union[dict, tuple, list]]


def non_finite_terms(outputs: Optional[dict]) -> Dict[str, float]:
    """``{name: value}`` of the loss terms (keys containing ``'loss'``) of ``outputs`` that are NaN or Inf.

    Args:
        outputs (dict | None): mmengine's ``log_vars``, values scalar (or any-shape) tensors or numbers; a term
            counts as non-finite if any element is.
    """
    bad = {}
    for name, value in (outputs or {}).items():
        if 'loss' not in name:
            continue
        if isinstance(value, torch.Tensor):
            v = value.detach()
            if not bool(torch.isfinite(v).all()):
                flat = v.reshape(-1).float()
                bad[name] = float(flat[~torch.isfinite(flat)][0])
        elif isinstance(value, (int, float)) and not math.isfinite(value):
            bad[name] = float(value)
    return bad


def batch_image_paths(data_batch: DATA_BATCH) -> List[str]:
    """The ``img_path`` of every data sample of a batch (MMPose's ``dict(inputs=..., data_samples=[...])``; lists
    of samples, e.g. clips, are walked); samples without one are left out."""
    samples = data_batch.get('data_samples') if isinstance(data_batch, dict) else data_batch
    paths = []

    def walk(node):
        if isinstance(node, (list, tuple)):
            for item in node:
                walk(item)
            return
        metainfo = node if isinstance(node, dict) else getattr(node, 'metainfo', None)
        if isinstance(metainfo, dict) and metainfo.get('img_path') is not None:
            paths.append(str(metainfo['img_path']))

    walk(samples if samples is not None else [])
    return paths


@HOOKS.register_module()
class NonFiniteLossHook(Hook):
    """Raise ``FloatingPointError`` at the first training iteration whose loss is NaN or Inf (see the module
    docstring for what it reads and when it runs).

    Args:
        max_paths (int): At most this many image paths in the message (then "and N more"). Default 64.
        enabled (bool): False turns the check off (the config switch; see the module docstring). Default True.
    """
    priority = 'VERY_HIGH'

    def __init__(self, max_paths: int = 64, enabled: bool = True):
        if max_paths < 0:
            raise ValueError(f'NonFiniteLossHook: max_paths must be >= 0, got {max_paths}')
        self.max_paths = max_paths
        self.enabled = enabled

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch: DATA_BATCH = None,
                         outputs: Optional[dict] = None) -> None:
        bad = non_finite_terms(outputs) if self.enabled else None
        if not bad:
            return
        # the total 'loss' is non-finite whenever a term is; name it alone only when no term is (an overflowing sum)
        terms = {k: v for k, v in bad.items() if k != 'loss'} or bad
        paths = batch_image_paths(data_batch)
        shown: Sequence[str] = paths[:self.max_paths]
        more = f' and {len(paths) - len(shown)} more' if len(paths) > len(shown) else ''
        images = f'{", ".join(shown)}{more}' if paths else '(the batch carries no img_path)'
        raise FloatingPointError(
            f'NonFiniteLossHook: non-finite loss at iteration {runner.iter + 1} (epoch {runner.epoch + 1}, batch '
            f'{batch_idx} of the epoch): ' + ', '.join(f'{k} = {v}' for k, v in terms.items()) +
            f'. Images of the batch ({len(paths)}): {images}. The weights have already been updated with '
            'non-finite gradients, so training stops here; resume from the last checkpoint after checking these '
            'images and their annotations, or lower the learning rate / set optim_wrapper.clip_grad.')
