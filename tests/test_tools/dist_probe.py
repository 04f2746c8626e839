# Copyright (c) mmfacealign contributors. All rights reserved.
"""A hook for tests/test_tools/test_dist_equivalence.py, imported by the training processes through the test
config's ``custom_imports`` (the test puts this folder on ``PYTHONPATH``).

mmengine logs rank 0's local loss only, so the logs cannot show the loss over all ranks: this hook records, on
every rank, each iteration's parsed losses (``outputs`` of ``after_train_iter``: ``'loss'`` and every term) and the
``img_path`` of the iteration's samples, and writes them to ``<work_dir>/probe_rank<r>.json`` after training.
"""
import json
import os.path as osp

from mmengine.dist import get_rank, get_world_size
from mmengine.hooks import Hook
from mmpose.registry import HOOKS


@HOOKS.register_module()
class DistEquivalenceProbeHook(Hook):
    """Record per-rank losses and sample paths of every training iteration (see the module docstring)."""

    priority = 'LOW'

    def before_train(self, runner) -> None:
        self.records = []

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        paths = [osp.basename(s.metainfo['img_path']) for s in data_batch['data_samples']]
        losses = {k: float(v) for k, v in (outputs or {}).items() if 'loss' in k}
        self.records.append(dict(iter=runner.iter, paths=paths, **losses))

    def after_train(self, runner) -> None:
        out = osp.join(runner.work_dir, f'probe_rank{get_rank()}.json')
        with open(out, 'w') as f:
            json.dump(dict(rank=get_rank(), world_size=get_world_size(), records=self.records), f)
