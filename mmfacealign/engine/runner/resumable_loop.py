# Copyright (c) mmfacealign contributors. All rights reserved.
"""An epoch-based training loop that resumes a mid-epoch checkpoint where it stopped.

mmengine's ``EpochBasedTrainLoop`` restores ``epoch`` and ``iter`` from a checkpoint but always starts the epoch
from its first batch, so a run resumed from an iteration checkpoint (``CheckpointHook(by_epoch=False)``) saved
mid-epoch trains the epoch's first batches twice and runs more iterations than the uninterrupted run
(``IterBasedTrainLoop`` skips them; the epoch loop does not). :class:`ResumableEpochBasedTrainLoop` skips the
``iter - epoch * len(dataloader)`` batches the checkpoint has already trained on, without loading them: for
torch's ``BatchSampler`` (every dataloader without a custom ``batch_sampler``) the sampler's first
``batches * batch_size`` indices are dropped before the workers see them. The shuffle order is that of the
interrupted epoch (``DefaultSampler`` shuffles from ``seed + epoch``); with ``SeededAugmentSampler`` the remaining
samples also get the augmentation they would have had (see ``mmfacealign.datasets.samplers``), which makes a
resumed run end with the weights of an uninterrupted one (tests/test_engine/test_resume.py).

The batches per epoch are recorded in the checkpoints (message hub ``train_batches_per_epoch``); when the resumed
run's dataloader gives another number (batch size, dataset or world size changed), the position cannot be mapped
and the epoch is trained from its first batch, with a warning, as ``EpochBasedTrainLoop`` does.
A checkpoint saved at the last iteration of an epoch (before that epoch's end hooks ran) skips the whole epoch
and then runs the end-of-epoch hooks (scheduler step, epoch checkpoint, validation) it missed. When the run was
resumed and the config has no ``randomness.seed``, the runner has restored the checkpoint's seed but the sampler
was built before with a fresh random one; the loop gives the sampler the checkpoint's seed, so the interrupted
epoch's order is kept (unless ``train_dataloader.sampler.seed`` is set or ``randomness.diff_rank_seed`` is True).

Use it as ``train_cfg = dict(type='ResumableEpochBasedTrainLoop', max_epochs=..., val_interval=...)``; without a
mid-epoch resume it runs exactly as ``EpochBasedTrainLoop``.
"""
import itertools
import logging
from contextlib import contextmanager

from mmengine.logging import print_log
from mmengine.runner import EpochBasedTrainLoop
from mmpose.registry import LOOPS
from torch.utils.data import BatchSampler

#: message-hub key of the batches per epoch, saved in checkpoints to recognise a changed dataloader on resume
BATCHES_KEY = 'train_batches_per_epoch'


class _SkipFirst:
    """Iterate ``sampler`` without its first ``num`` indices; ``len`` and attribute access are the sampler's, so
    the batch count logged for the epoch stays the full one."""

    def __init__(self, sampler, num: int):
        self.sampler, self.num = sampler, num

    def __iter__(self):
        return itertools.islice(iter(self.sampler), self.num, None)

    def __len__(self) -> int:
        return len(self.sampler)

    def __getattr__(self, name):
        if name == 'sampler':          # not set yet (copy, pickle): no recursion
            raise AttributeError(name)
        return getattr(self.sampler, name)


@LOOPS.register_module()
class ResumableEpochBasedTrainLoop(EpochBasedTrainLoop):
    """``EpochBasedTrainLoop`` that, resumed from a mid-epoch checkpoint, skips the batches the checkpoint has
    trained on without loading them (see the module docstring). Same arguments as ``EpochBasedTrainLoop``."""

    def run(self):
        # decided once, from the resumed checkpoint: later epochs start at their first batch
        self._resume_skip = self._consumed_batches() if self._iter > 0 else 0
        self.runner.message_hub.update_info(BATCHES_KEY, len(self.dataloader))   # saved with the checkpoints
        if self._iter > 0:
            self._restore_sampler_seed()
        return super().run()

    def _restore_sampler_seed(self) -> None:
        """Give the sampler the resumed run's seed when the sampler got a fresh random one (no config seed)."""
        cfg = self.runner.cfg
        sampler = self.dataloader.sampler
        seed = self.runner.seed
        if (not hasattr(sampler, 'seed') or sampler.seed == seed
                or cfg.get('train_dataloader', {}).get('sampler', {}).get('seed') is not None
                or cfg.get('randomness', {}).get('diff_rank_seed', False)):
            return
        print_log(f'ResumableEpochBasedTrainLoop: the sampler seed is set to the resumed seed {seed} (it was '
                  f'{sampler.seed}), so the interrupted epoch keeps its order', logger='current')
        sampler.seed = seed

    def _consumed_batches(self) -> int:
        """Batches of the resumed epoch already trained on, ``iter - epoch * len(dataloader)``; 0 (the whole epoch
        is trained, as by ``EpochBasedTrainLoop``, with a warning) when the batches per epoch differ from those of
        the interrupted run (recorded in the checkpoint's message hub) or the position does not fit them."""
        per_epoch = len(self.dataloader)
        consumed = self._iter - self._epoch * per_epoch
        saved = self.runner.message_hub.get_info(BATCHES_KEY)
        if (saved is not None and saved != per_epoch) or not 0 <= consumed <= per_epoch:
            if consumed != 0 or saved not in (None, per_epoch):
                print_log(
                    f'ResumableEpochBasedTrainLoop: the checkpoint (epoch {self._epoch}, iteration {self._iter}) was '
                    f'saved with {saved if saved is not None else "unknown"} batches per epoch, train_dataloader '
                    f'now gives {per_epoch} (batch_size, dataset or world size changed): epoch {self._epoch + 1} '
                    'is trained from its first batch', logger='current', level=logging.WARNING)
            return 0
        return consumed

    @contextmanager
    def _skipping(self, batches: int):
        """Make the dataloader's next epoch start after ``batches`` batches. Yields True when the indices are
        dropped in the sampler (nothing loaded), False when the batches must be loaded and discarded (a custom
        batch sampler, whose batches cannot be told from the sample count)."""
        batch_sampler = self.dataloader.batch_sampler
        if type(batch_sampler) is not BatchSampler:
            yield False
            return
        original = batch_sampler.sampler
        batch_sampler.sampler = _SkipFirst(original, batches * batch_sampler.batch_size)
        try:
            yield True
        finally:
            batch_sampler.sampler = original

    def run_epoch(self) -> None:
        """One epoch; resumed mid-epoch, only the batches the checkpoint has not trained on."""
        skip, self._resume_skip = getattr(self, '_resume_skip', 0), 0
        if skip == 0:
            return super().run_epoch()
        self.runner.call_hook('before_train_epoch')
        self.runner.model.train()
        with self._skipping(skip) as in_sampler:
            print_log(f'ResumableEpochBasedTrainLoop: resuming epoch {self._epoch + 1} after its first {skip} of '
                      f'{len(self.dataloader)} batches (already trained), '
                      + ('skipped in the sampler without loading them' if in_sampler else
                         'loaded and discarded (custom batch sampler)'), logger='current')
            if skip < len(self.dataloader):    # else only the epoch's end hooks are left
                batches = iter(self.dataloader)
                if not in_sampler:
                    for _ in range(skip):
                        next(batches)
                for idx, data_batch in enumerate(batches, start=skip):
                    self.run_iter(idx, data_batch)
        self.runner.call_hook('after_train_epoch')
        self._epoch += 1
