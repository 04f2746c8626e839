# Copyright (c) mmfacealign contributors. All rights reserved.
"""Checkpoints that a killed run never leaves half written, and auto-resume that only picks complete ones.

mmengine's ``CheckpointHook`` writes ``epoch_N.pth`` in place, and with ``max_keep_ckpts`` it deletes the oldest
kept checkpoint *before* writing the new one. A run killed while saving (SIGKILL, out of memory, a pre-empted
node) can therefore leave a truncated ``epoch_N.pth`` and a ``last_checkpoint`` that names a checkpoint already
deleted (with ``max_keep_ckpts=1``: no checkpoint at all to resume from).

:class:`AtomicCheckpointHook` is ``CheckpointHook`` with three changes, for a local ``out_dir``:

* every checkpoint (periodic, last, best) is written to ``.NAME.partial`` in the same directory, flushed to disk
  (``fsync``) and renamed to ``NAME`` (``os.replace``, atomic), so a checkpoint name only ever holds a complete
  file;
* ``last_checkpoint`` is still written by mmengine after the save returns, i.e. only once the new file is complete;
* the removal of outdated checkpoints (``max_keep_ckpts``, the previous best) is deferred until the new checkpoint
  and ``last_checkpoint`` are written, and skipped if the save fails.

``.partial`` files left by a killed run are deleted when training starts. Other storage backends (``backend_args``
or ``file_client_args`` naming a remote store) are saved as by ``CheckpointHook``.

:func:`find_resumable_checkpoint` is the reading side, used by ``tools/train.py --resume`` without a path: the
checkpoint ``last_checkpoint`` names if it is complete (:func:`is_complete_checkpoint`), else, with a warning, the
newest complete ``*.pth`` beside it (a ``last_checkpoint`` written by the stock hook can name a file deleted or cut
short by a kill). Best checkpoints (``best_*.pth``) hold no optimizer state and are not resumed from.
"""
import glob
import logging
import os
import os.path as osp
import zipfile
from contextlib import contextmanager
from typing import List, Optional, Tuple

from mmengine.dist import is_main_process
from mmengine.fileio import LocalBackend
from mmengine.hooks import CheckpointHook
from mmengine.logging import print_log
from mmpose.registry import HOOKS

PARTIAL_SUFFIX = '.partial'


def _fsync(path: str) -> None:
    """Flush ``path`` (a file or a directory) to disk; directories that cannot be opened are skipped."""
    flags = os.O_RDONLY | getattr(os, 'O_DIRECTORY', 0) if osp.isdir(path) else os.O_RDONLY
    try:
        fd = os.open(path, flags)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def is_complete_checkpoint(path: str) -> bool:
    """Whether ``path`` is a complete checkpoint in torch's zip format (every ``torch.save`` since torch 1.6): the
    zip's central directory, written last, is present, parses, names a ``data.pkl`` and every member lies within
    the file. A file cut short by a kill fails this; it does not read the tensors."""
    if not osp.isfile(path):
        return False
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return False
    size = osp.getsize(path)
    return (any(i.filename.endswith('data.pkl') for i in infos)
            and all(i.header_offset + i.compress_size <= size for i in infos))


def find_resumable_checkpoint(work_dir: str) -> Optional[str]:
    """The checkpoint to auto-resume from in ``work_dir`` (see the module docstring), or None when there is neither
    a ``last_checkpoint`` nor a ``*.pth`` (training starts from scratch, as mmengine does).

    Raises:
        FileNotFoundError: ``last_checkpoint`` names a missing or incomplete file and no complete checkpoint is
            left beside it.
    """
    record = osp.join(work_dir, 'last_checkpoint')
    named = None
    if osp.isfile(record):
        with open(record) as f:
            named = f.read().strip() or None
        if named is not None and is_complete_checkpoint(named):
            return named
    dirs = [work_dir] + ([osp.dirname(named)] if named and osp.dirname(named) not in ('', work_dir) else [])
    candidates = sorted({p for d in dirs for p in glob.glob(osp.join(d, '*.pth'))
                         if not osp.basename(p).startswith('best_')}, key=osp.getmtime, reverse=True)
    fallback = next((p for p in candidates if is_complete_checkpoint(p)), None)
    if not osp.isfile(record) and fallback is None:
        return None
    problem = (f'{record} is empty' if named is None else
               f'{record} names {named}, which ' + ('is incomplete' if osp.isfile(named) else 'does not exist'))
    if fallback is None:
        raise FileNotFoundError(f'--resume: {problem}, and {work_dir} holds no other complete checkpoint')
    print_log(f'--resume: {problem}; resuming from the newest complete checkpoint, {fallback}', logger='current',
              level=logging.WARNING)
    return fallback


class _DeferredRemoval:
    """A file backend whose ``remove`` / ``rmtree`` only record the path; everything else is the backend's."""

    def __init__(self, backend):
        self.backend = backend
        self.pending: List[Tuple[str, str]] = []

    def remove(self, path) -> None:
        self.pending.append(('remove', str(path)))

    def rmtree(self, path) -> None:
        self.pending.append(('rmtree', str(path)))

    def __getattr__(self, name):
        if name == 'backend':
            raise AttributeError(name)
        return getattr(self.backend, name)


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """``CheckpointHook`` that writes checkpoints atomically and removes outdated ones only after the new one is
    complete (see the module docstring). Same arguments as ``CheckpointHook``."""

    def before_train(self, runner) -> None:
        super().before_train(runner)
        if self._is_local() and is_main_process():
            for stale in glob.glob(osp.join(self.out_dir, f'.*{PARTIAL_SUFFIX}')):
                print_log(f'AtomicCheckpointHook: removing {stale}, a checkpoint left half written by an '
                          'interrupted run', logger='current', level=logging.WARNING)
                os.remove(stale)

    def _is_local(self) -> bool:
        return self.file_client_args is None and isinstance(getattr(self, 'file_backend', None), LocalBackend)

    @contextmanager
    def _atomic(self, runner):
        """Within the block: ``runner.save_checkpoint`` writes atomically, removals wait until the block ends."""
        if isinstance(self.file_backend, _DeferredRemoval) or not self._is_local():   # nested, or remote
            yield
            return
        original = runner.save_checkpoint
        written = set()

        def save_checkpoint(out_dir, filename, *args, **kwargs):
            head, tail = osp.split(filename)
            partial = osp.join(head, f'.{tail}{PARTIAL_SUFFIX}')
            original(out_dir, partial, *args, **kwargs)
            tmp, final = osp.join(out_dir, partial), osp.join(out_dir, filename)
            if osp.isfile(tmp):                               # only the main process writes
                _fsync(tmp)
                os.replace(tmp, final)
                _fsync(out_dir)
                written.add(osp.abspath(final))

        backend = _DeferredRemoval(self.file_backend)
        shadowed = vars(runner).get('save_checkpoint')       # an instance attribute someone else set, if any
        self.file_backend, runner.save_checkpoint = backend, save_checkpoint
        try:
            yield
        finally:
            self.file_backend = backend.backend
            if shadowed is None:
                del runner.save_checkpoint                    # the Runner method shows again
            else:
                runner.save_checkpoint = shadowed
        # reached only when the block succeeded: the new checkpoint and last_checkpoint are on disk
        for op, path in backend.pending:
            if osp.abspath(path) not in written:              # a name just rewritten is the new file
                getattr(self.file_backend, op)(path)

    def _save_checkpoint_with_step(self, runner, step, meta):
        with self._atomic(runner):
            super()._save_checkpoint_with_step(runner, step, meta)

    def _save_best_checkpoint(self, runner, metrics) -> None:
        with self._atomic(runner):
            super()._save_best_checkpoint(runner, metrics)
