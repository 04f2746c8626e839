# Copyright (c) mmfacealign contributors. All rights reserved.
"""Train a model with the mmengine runner (MMPose's tools/train.py conventions).

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp] [--no-validate]
                          [--auto-scale-lr] [--cfg-options k=v ...] [--launcher {none,pytorch,slurm,mpi}]

Multi-GPU and multi-node: tools/dist_train.sh (torchrun) and tools/slurm_train.sh.
"""
import argparse
import os
import os.path as osp
import sys

from mmengine.config import Config, DictAction
from mmengine.runner import Runner

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # run from a clone without installing

import mmfacealign  # noqa: E402,F401  (registers modules; makes checkpoints loadable)
from mmfacealign.engine.hooks import find_resumable_checkpoint  # noqa: E402
from mmfacealign.utils.dist import prepare_cpu_distributed  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Train a face-alignment model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument('--resume', nargs='?', type=str, const='auto',
                        help='resume from CKPT, or if none is given from the checkpoint the work dir\'s '
                        'last_checkpoint names (the newest complete one if that file is missing or cut short)')
    parser.add_argument('--amp', action='store_true', default=False,
                        help='enable automatic-mixed-precision training')
    parser.add_argument('--no-validate', action='store_true',
                        help='do not evaluate checkpoints during training')
    parser.add_argument('--auto-scale-lr', action='store_true',
                        help='scale the learning rate by (total batch size / auto_scale_lr.base_batch_size)')
    parser.add_argument('--show-dir', help='directory where validation visualisations are saved')
    parser.add_argument('--show', action='store_true', help='display validation visualisations')
    parser.add_argument('--interval', type=int, default=1, help='visualise every n-th validation sample')
    parser.add_argument('--wait-time', type=float, default=1, help='display time of --show, in seconds')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, e.g. train_cfg.max_epochs=5 '
                        'model.backbone.depth=34 "param_scheduler[1].milestones=[3,4]"')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none',
                        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def merge_args(cfg: Config, args) -> Config:
    """Apply the command line to the config, as MMPose's tools/train.py does."""
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    if args.amp:
        opt = cfg.optim_wrapper.get('type', 'OptimWrapper')
        if opt == 'AmpOptimWrapper':
            print('AMP is already enabled in the config')
        else:
            if opt != 'OptimWrapper':
                raise ValueError(f'--amp needs optim_wrapper.type OptimWrapper, got {opt} in {args.config}')
            cfg.optim_wrapper.type = 'AmpOptimWrapper'
            cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        if not osp.isfile(args.resume):
            raise FileNotFoundError(f'--resume: checkpoint {args.resume!r} does not exist')
        cfg.resume = True
        cfg.load_from = args.resume
    if args.no_validate:
        cfg.val_cfg = None
        cfg.val_dataloader = None
        cfg.val_evaluator = None
    if args.auto_scale_lr:
        if 'auto_scale_lr' not in cfg or 'base_batch_size' not in cfg.auto_scale_lr:
            raise KeyError(f'--auto-scale-lr: {args.config} has no auto_scale_lr.base_batch_size')
        cfg.auto_scale_lr.enable = True
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
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    return cfg


def main(argv=None):
    args = parse_args(argv)
    if not osp.isfile(args.config):
        raise FileNotFoundError(f'config {args.config!r} does not exist')
    cfg = merge_args(Config.fromfile(args.config), args)
    if args.resume == 'auto':
        # the checkpoint last_checkpoint names when it is complete, else the newest complete one (a run killed
        # while saving can leave a truncated file); None: nothing to resume, train from scratch as mmengine does
        cfg.load_from = find_resumable_checkpoint(cfg.work_dir) if osp.isdir(cfg.work_dir) else None
    prepare_cpu_distributed(cfg, args.launcher)   # gloo DDP where there is no CUDA
    if 'runner_type' in cfg:
        from mmengine.registry import RUNNERS
        runner = RUNNERS.build(cfg)
    else:
        runner = Runner.from_cfg(cfg)
    runner.train()


if __name__ == '__main__':
    main()
