# Copyright (c) mmfacealign contributors. All rights reserved.
"""Evaluate a checkpoint with the mmengine runner (MMPose's tools/test.py conventions).

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--dump FILE.pkl] [--show-dir DIR]
                         [--cfg-options k=v ...] [--launcher {none,pytorch,slurm,mpi}]

Test another split by overriding the annotation file, e.g.
``--cfg-options test_dataloader.dataset.ann_file=annotations/synthface_test_masked.json``.
"""
import argparse
import os
import os.path as osp
import sys

from mmengine.config import Config, DictAction
from mmengine.hooks import Hook
from mmengine.runner import Runner

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import mmfacealign  # noqa: E402,F401
from mmfacealign.utils.dist import prepare_cpu_distributed  # noqa: E402
from mmfacealign.utils.io import dump_json_atomic  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Evaluate a face-alignment model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='the directory to save evaluation results and logs')
    parser.add_argument('--out', help='save the evaluation metrics to this json file')
    parser.add_argument('--dump', type=str, help='dump predictions to a pickle file for offline evaluation')
    parser.add_argument('--show-dir', help='directory where visualised predictions are saved')
    parser.add_argument('--show', action='store_true', help='display predictions')
    parser.add_argument('--interval', type=int, default=1, help='visualise every n-th sample')
    parser.add_argument('--wait-time', type=float, default=1, help='display time of --show, in seconds')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, e.g. test_dataloader.dataset.ann_file=...')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none',
                        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def merge_args(cfg: Config, args) -> Config:
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    cfg.load_from = args.checkpoint
    if args.show or args.show_dir:
        vis = cfg.default_hooks.get('visualization')
        if vis is None:
            raise KeyError(f'--show/--show-dir: {args.config} has no default_hooks.visualization')
        vis.enable = True
        vis.show = args.show
        vis.wait_time = args.wait_time
        vis.interval = args.interval
        if args.show_dir:
            vis.out_dir = args.show_dir
    if args.dump is not None:
        if not args.dump.endswith(('.pkl', '.pickle')):
            raise ValueError(f'--dump must be a .pkl or .pickle file, got {args.dump!r}')
        dump = dict(type='DumpResults', out_file_path=args.dump)
        evaluator = cfg.test_evaluator
        cfg.test_evaluator = [*evaluator, dump] if isinstance(evaluator, (list, tuple)) else [evaluator, dump]
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    return cfg


class _SaveMetrics(Hook):
    """Write the test metrics to a json file (``--out``)."""

    def __init__(self, path: str):
        self.path = path

    def after_test_epoch(self, runner, metrics=None):
        if runner.rank == 0 and metrics is not None:
            dump_json_atomic({k: float(v) if hasattr(v, '__float__') else v for k, v in metrics.items()},
                             self.path, indent=2)


def main(argv=None):
    args = parse_args(argv)
    for what, path in (('config', args.config), ('checkpoint', args.checkpoint)):
        if not osp.isfile(path):
            raise FileNotFoundError(f'{what} {path!r} does not exist')
    cfg = merge_args(Config.fromfile(args.config), args)
    prepare_cpu_distributed(cfg, args.launcher)   # gloo DDP where there is no CUDA
    if 'runner_type' in cfg:
        from mmengine.registry import RUNNERS
        runner = RUNNERS.build(cfg)
    else:
        runner = Runner.from_cfg(cfg)
    if args.out:
        runner.register_hook(_SaveMetrics(args.out), priority='LOWEST')
    return runner.test()


if __name__ == '__main__':
    main()
