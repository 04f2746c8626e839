# Copyright (c) mmfacealign contributors. All rights reserved.
"""Benchmark models: parameters, FLOPs, CPU latency (batch 1), throughput (batch 32) and training-step time.

    python tools/analysis_tools/benchmark_model.py CONFIG [CONFIG ...] [--reference-head]
        [--device cpu] [--threads 2] [--repeats 20] [--train-batch 32] [--out results.json]

With ``--reference-head`` every config is also measured with its head swapped for MMPose's
``RegressionHead`` (global average pooling + one FC layer, Soft Wing loss) on the same backbone and input, and the
table shows the head's overhead over that reference: the targets of mmfacealign's methods are stated against it
(e.g. SCDF: at most +15% training step, +10% inference latency).

Timings are medians over ``--repeats`` runs after warm-up, on random inputs of the config's input size, in
``mode='tensor'`` (backbone, neck and head; no data loading, no decoding) for inference and ``mode='loss'``
plus backward and an optimiser step for training. FLOPs come from ``mmengine.analysis.get_model_complexity_info``
(one multiply-add counted as one FLOP, as mmengine and MMPose report).
"""
import argparse
import copy
import json
import os.path as osp
import statistics
import sys
import time

import torch

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

import mmfacealign  # noqa: E402,F401


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('configs', nargs='+')
    p.add_argument('--reference-head', action='store_true',
                   help="also measure each model with MMPose's RegressionHead on the same backbone")
    p.add_argument('--device', default='cpu')
    p.add_argument('--threads', type=int, default=None, help='torch CPU threads (default: torch default)')
    p.add_argument('--repeats', type=int, default=20)
    p.add_argument('--throughput-batch', type=int, default=32)
    p.add_argument('--train-batch', type=int, default=32)
    p.add_argument('--out', help='write the results to this json file')
    return p.parse_args(argv)


def input_size_of(cfg):
    """(w, h) of the model input, from the head's decoder (codec)."""
    decoder = cfg.model.head.get('decoder')
    if decoder is None or 'input_size' not in decoder:
        raise KeyError('model.head.decoder.input_size is needed to know the input size')
    return tuple(decoder['input_size'])


def regression_reference(model_cfg):
    """The same model with MMPose's RegressionHead (GAP neck + FC, Soft Wing) in place of its head."""
    ref = copy.deepcopy(model_cfg)
    head = model_cfg.head
    num_joints = head.get('num_joints')
    in_channels = head.get('in_channels')
    if num_joints is None or in_channels is None:
        raise KeyError('--reference-head needs model.head.num_joints and model.head.in_channels')
    ref.neck = dict(type='GlobalAveragePooling')
    ref.head = dict(type='RegressionHead', in_channels=in_channels, num_joints=num_joints,
                    loss=dict(type='SoftWingLoss', use_target_weight=True), decoder=head.get('decoder'))
    return ref


def median_time(fn, repeats: int, warmup: int = 3) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def measure(model_cfg, input_size, args) -> dict:
    from mmengine.analysis import get_model_complexity_info
    from mmpose.registry import MODELS
    from mmpose.testing import get_packed_inputs

    torch.manual_seed(0)
    model = MODELS.build(copy.deepcopy(model_cfg)).to(args.device)
    w, h = input_size
    num_joints = model_cfg.head.num_joints
    params = sum(p.numel() for p in model.parameters())

    model.eval()

    class TensorMode(torch.nn.Module):
        """The estimator's tensor-mode forward (backbone, neck, head), as MMPose's get_flops.py counts it."""

        def __init__(self, estimator):
            super().__init__()
            self.estimator = estimator

        def forward(self, x):
            return self.estimator._forward(x)

    flops = get_model_complexity_info(TensorMode(model), input_shape=(3, h, w), show_table=False,
                                      show_arch=False)['flops']

    def infer(batch):
        x = torch.randn(batch, 3, h, w, device=args.device)

        def run():
            with torch.no_grad():
                model._forward(x)   # mode='tensor': backbone, neck, head
        return run

    latency = median_time(infer(1), args.repeats)
    tput_time = median_time(infer(args.throughput_batch), max(3, args.repeats // 4))

    model.train()
    optim = torch.optim.SGD(model.parameters(), lr=1e-4, momentum=0.9)
    packed = get_packed_inputs(batch_size=args.train_batch, num_keypoints=num_joints, img_shape=(h, w),
                               input_size=(w, h), with_heatmap=False, with_simcc_label=False)
    data = model.data_preprocessor(packed, training=True)

    def step():
        losses = model(**data, mode='loss')
        loss = sum(v for k, v in losses.items() if 'loss' in k)
        optim.zero_grad()
        loss.backward()
        optim.step()

    train_time = median_time(step, max(3, args.repeats // 4))
    return dict(params_M=params / 1e6, gflops=flops / 1e9, latency_ms=latency * 1e3,
                throughput_img_s=args.throughput_batch / tput_time, train_step_ms=train_time * 1e3,
                train_batch=args.train_batch)


def main(argv=None):
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    from mmengine.config import Config
    from mmpose.utils import register_all_modules
    register_all_modules(init_default_scope=True)

    rows = []
    for path in args.configs:
        cfg = Config.fromfile(path)
        size = input_size_of(cfg)
        name = osp.splitext(osp.basename(path))[0]
        res = measure(cfg.model, size, args)
        res.update(config=name, input=f'{size[0]}x{size[1]}')
        if args.reference_head:
            ref = measure(regression_reference(cfg.model), size, args)
            ref.update(config=f'{name} [RegressionHead reference]', input=f'{size[0]}x{size[1]}')
            res['train_step_overhead_pct'] = 100 * (res['train_step_ms'] / ref['train_step_ms'] - 1)
            res['latency_overhead_pct'] = 100 * (res['latency_ms'] / ref['latency_ms'] - 1)
            rows.append(ref)
        rows.append(res)

    print(f'device {args.device}, {torch.get_num_threads()} threads, torch {torch.__version__}; '
          f'median of {args.repeats} runs; throughput batch {args.throughput_batch}, train batch {args.train_batch}')
    header = ('| config | input | params (M) | GFLOPs | latency b1 (ms) | throughput b' + str(args.throughput_batch)
              + ' (img/s) | train step (ms) | step / latency overhead vs RegressionHead |')
    print(header)
    print('|' + '---|' * 8)
    for r in rows:
        over = ''
        if 'train_step_overhead_pct' in r:
            over = f"{r['train_step_overhead_pct']:+.1f}% / {r['latency_overhead_pct']:+.1f}%"
        print(f"| {r['config']} | {r['input']} | {r['params_M']:.2f} | {r['gflops']:.3f} | {r['latency_ms']:.1f} | "
              f"{r['throughput_img_s']:.1f} | {r['train_step_ms']:.0f} | {over} |")
    if args.out:
        with open(args.out, 'w', encoding='utf-8') as f:
            json.dump(rows, f, indent=2)


if __name__ == '__main__':
    main()
