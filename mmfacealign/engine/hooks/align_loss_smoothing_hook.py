# Copyright (c) mmfacealign contributors. All rights reserved.
"""Switch off the Gaussian smoothing of FFLD's Align Loss once the loss stops going down.

FFLD (Yan et al., CVIU 2020), Sec. 6.6 (implementation details): "For the Align Loss, the initial Gaussian kernel
size of the convolution kernel is 3 and the sigma is 1. In order to achieve extreme precision, this operation is removed
once the loss stops going down." The paper gives no criterion; this hook makes one explicit (a plateau test on
the logged loss) and also offers a fixed switch for reproducible schedules.
"""
import math
from typing import List, Optional

import torch
from mmengine.dist import broadcast
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmpose.registry import HOOKS
from torch import nn

from ...models.losses.align_loss import AlignLoss

#: ``runner.message_hub`` runtime-info keys (saved in checkpoints, so a resumed run keeps the state).
SMOOTHING_INFO_KEY = 'align_loss_smoothing'
TRACKER_INFO_KEY = 'align_loss_smoothing_tracker'


@HOOKS.register_module()
class AlignLossSmoothingHook(Hook):
    """Call :meth:`~mmfacealign.models.losses.AlignLoss.disable_smoothing` on every ``AlignLoss`` of the model
    once the logged Align-Loss value plateaus, or at a fixed iteration / epoch.

    Plateau test. Every ``window`` training iterations the hook reads the mean of the last ``window`` values of
    ``runner.message_hub.get_scalar('train/' + loss_key)`` (what ``RuntimeInfoHook`` logs from the model's loss
    dict, so ``loss_key`` is the key the head gives the Align-Loss term). A window counts as an improvement if its
    mean is below ``best * (1 - min_delta)`` (relative, ``best`` = the lowest window mean so far; with a
    non-positive best, ``best - min_delta * |best|``); then ``best`` is updated. After ``patience`` consecutive
    windows without improvement the smoothing is switched off, once. With the defaults (window 50, patience 3,
    min_delta 0.01) that is 150 iterations in which the 50-iteration mean has not dropped by more than 1 % below
    its best. In distributed training rank 0 decides and broadcasts the decision (one tiny broadcast per window),
    so all ranks switch at the same iteration.

    Fixed switch. ``disable_at_iter=N`` switches off before iteration ``N`` (0-based, i.e. after ``N`` iterations
    have run); ``disable_at_epoch=E`` before epoch ``E`` (0-based, after ``E`` epochs). When either is given the
    plateau test is off unless ``watch_plateau=True`` (then whichever comes first wins).

    State. Whether the smoothing is on (``'align_loss_smoothing'``) and the plateau tracker
    (``'align_loss_smoothing_tracker'``: best window mean, windows without improvement) live in
    ``runner.message_hub``'s runtime info, which mmengine saves in every checkpoint and restores on resume; the
    hook re-applies the switch in ``before_train`` (after ``load_or_resume``), so a run resumed after the switch
    trains without smoothing. One line is logged when the switch happens.

    Args:
        loss_key (str): Key of the Align-Loss term in the model's loss dict. Default ``'loss_s3'``.
        window (int): Iterations per window (and the window mean's length). Default 50.
        patience (int): Windows without improvement before switching off. Default 3.
        min_delta (float): Relative improvement that counts. Default 0.01.
        disable_at_iter (int, optional): Fixed switch at this iteration. Default None.
        disable_at_epoch (int, optional): Fixed switch at this epoch. Default None.
        watch_plateau (bool, optional): Run the plateau test. Default None: only when no fixed switch is given.
    """

    priority = 'NORMAL'                 # after RuntimeInfoHook (VERY_HIGH), which logs the loss of this iteration

    def __init__(self, loss_key: str = 'loss_s3', window: int = 50, patience: int = 3, min_delta: float = 0.01,
                 disable_at_iter: Optional[int] = None, disable_at_epoch: Optional[int] = None,
                 watch_plateau: Optional[bool] = None):
        if window < 1 or patience < 1:
            raise ValueError(f'AlignLossSmoothingHook: window and patience must be >= 1, got {window}, {patience}')
        if min_delta < 0:
            raise ValueError(f'AlignLossSmoothingHook: min_delta must be >= 0, got {min_delta}')
        self.loss_key = loss_key
        self.window = window
        self.patience = patience
        self.min_delta = min_delta
        self.disable_at_iter = disable_at_iter
        self.disable_at_epoch = disable_at_epoch
        if watch_plateau is None:
            watch_plateau = disable_at_iter is None and disable_at_epoch is None
        self.watch_plateau = watch_plateau
        self._missing_warned = False

    # -- helpers -------------------------------------------------------------------------------------------------
    @staticmethod
    def align_losses(runner) -> List[AlignLoss]:
        """Every :class:`AlignLoss` in ``runner.model`` (unwrapped from DDP & co.)."""
        model: nn.Module = runner.model
        if is_model_wrapper(model):
            model = model.module
        return [m for m in model.modules() if isinstance(m, AlignLoss)]

    @staticmethod
    def smoothing_on(runner) -> bool:
        """The recorded state: True until the hook has switched the smoothing off."""
        return bool(runner.message_hub.get_info(SMOOTHING_INFO_KEY, True))

    def _tracker(self, runner) -> dict:
        return dict(runner.message_hub.get_info(TRACKER_INFO_KEY, None) or dict(best=None, num_bad=0))

    def _disable(self, runner, next_iter: int, reason: str) -> None:
        losses = self.align_losses(runner)
        for loss in losses:
            loss.disable_smoothing()
        runner.message_hub.update_info(SMOOTHING_INFO_KEY, False)
        runner.logger.info(f'AlignLossSmoothingHook: Gaussian smoothing of {len(losses)} AlignLoss module(s) '
                           f'switched off from iteration {next_iter} on (epoch {runner.epoch}): {reason}')

    def _window_mean(self, runner) -> Optional[float]:
        key = 'train/' + self.loss_key
        if key not in runner.message_hub.log_scalars:
            if not self._missing_warned:
                runner.logger.warning(f'AlignLossSmoothingHook: no {key!r} in the message hub; the plateau test '
                                      'waits for it (is loss_key the Align-Loss key of the loss dict?)')
                self._missing_warned = True
            return None
        value = float(runner.message_hub.get_scalar(key).mean(self.window))
        return value if math.isfinite(value) else None

    def _plateau_step(self, runner) -> bool:
        """Update the tracker with the latest window; True when the patience has run out."""
        value = self._window_mean(runner)
        if value is None:
            return False
        tracker = self._tracker(runner)
        best = tracker['best']
        if best is None or value < best - self.min_delta * abs(best):
            tracker = dict(best=value, num_bad=0)
        else:
            tracker['num_bad'] += 1
        runner.message_hub.update_info(TRACKER_INFO_KEY, tracker)
        return tracker['num_bad'] >= self.patience

    # -- hook points ---------------------------------------------------------------------------------------------
    def before_train(self, runner) -> None:
        losses = self.align_losses(runner)
        if not losses:
            runner.logger.warning('AlignLossSmoothingHook: the model has no AlignLoss module; nothing to switch')
            return
        if not self.smoothing_on(runner):                   # resumed after the switch: re-apply it
            for loss in losses:
                loss.disable_smoothing()
            runner.logger.info('AlignLossSmoothingHook: resumed with the Align-Loss smoothing already off')
        elif not any(loss.smoothing for loss in losses):    # configured without smoothing: nothing to watch
            runner.message_hub.update_info(SMOOTHING_INFO_KEY, False)
        else:
            runner.message_hub.update_info(SMOOTHING_INFO_KEY, True)

    def before_train_epoch(self, runner) -> None:
        if (self.disable_at_epoch is not None and self.smoothing_on(runner)
                and runner.epoch >= self.disable_at_epoch):
            self._disable(runner, runner.iter, f'fixed switch disable_at_epoch={self.disable_at_epoch}')

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        if (self.disable_at_iter is not None and self.smoothing_on(runner)
                and runner.iter >= self.disable_at_iter):
            self._disable(runner, runner.iter, f'fixed switch disable_at_iter={self.disable_at_iter}')

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if not self.watch_plateau or not self.smoothing_on(runner) or (runner.iter + 1) % self.window:
            return
        stop = torch.tensor([int(self._plateau_step(runner))], dtype=torch.int64)
        broadcast(stop, src=0)                              # no-op outside distributed training
        if stop.item():
            best = self._tracker(runner)['best']
            best = 'n/a' if best is None else f'{best:.6g}'
            self._disable(runner, runner.iter + 1,
                          f'the {self.window}-iteration mean of {self.loss_key!r} has not improved by more than '
                          f'{self.min_delta:.0%} over its best ({best}) for {self.patience} windows')
