# Copyright (c) mmfacealign contributors. All rights reserved.
"""Shared by the end-to-end tests: run a tool in a subprocess, point a SynthFace config at a test dataset, and
read the scalars mmengine logged."""
import importlib.util
import json
import os
import os.path as osp
import subprocess
import sys
from typing import List

# 192 faces / batch 32 = 6 iterations per epoch, 8 epochs = 48 iterations at a constant learning rate
# (start_factor=1 switches the warm-up off), seeded
SHORT_SCHEDULE = ['train_dataloader.batch_size=32', 'train_cfg.max_epochs=8', 'train_cfg.val_interval=8',
                  'default_hooks.checkpoint.interval=8', 'default_hooks.logger.interval=2',
                  'param_scheduler.0.start_factor=1.0', 'param_scheduler.1.milestones=[100]', 'randomness.seed=0']


REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def load_tool(relpath: str):
    """The module of a script under the repository root (e.g. ``tools/train.py``), imported from its path: the
    tools are scripts, not a package."""
    name = osp.splitext(osp.basename(relpath))[0]
    spec = importlib.util.spec_from_file_location(f'mmfacealign_tool_{name}', osp.join(REPO, relpath))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def subprocess_threads() -> int:
    """CPU threads for a tool run by a test: the cores shared out among the pytest-xdist workers, so that two
    workers' trainings do not oversubscribe the 2 cores (measured: the suite took 18 minutes with 2 threads per
    training under 2 workers)."""
    workers = int(os.environ.get('PYTEST_XDIST_WORKER_COUNT', '1'))
    return max(1, (os.cpu_count() or 1) // workers)


def run(args, cwd):
    """``python *args`` in ``cwd`` with :func:`subprocess_threads` threads; fails the test with the output's tail."""
    r = subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True,
                       env=dict(os.environ, OMP_NUM_THREADS=str(subprocess_threads())))
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return r


def synthface_options(root: str) -> List[str]:
    """``--cfg-options`` that point a SynthFace config's three dataloaders at ``root``, without workers."""
    root = root.rstrip('/') + '/'
    options = [f'train_dataloader.dataset.data_root={root}', f'val_dataloader.dataset.data_root={root}',
               *[f'test_dataloader.dataset.datasets.{i}.data_root={root}' for i in range(3)]]
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        options += [f'{loader}.num_workers=0', f'{loader}.persistent_workers=False']
    return options


def read_scalars(work):
    """Training scalars logged by mmengine (vis_data/scalars.json, one json object per line)."""
    runs = [d for d in os.listdir(work) if osp.isdir(osp.join(work, d, 'vis_data'))]
    with open(osp.join(work, sorted(runs)[-1], 'vis_data', 'scalars.json')) as f:
        return [json.loads(line) for line in f if '"loss"' in line]
