# Copyright (c) mmfacealign contributors. All rights reserved.
"""FFLD's batch-1 latency over the same network without refinement stages, timed alternately, for any checkout.

    python tools/benchmarks/ffld_latency_ratio.py [--repo PATH] [--threads 2] [--rounds 40]

Builds the paper configs (AFLW 19 points, 300W 68) of the checkout at ``--repo`` (default: this one) and their
no-refinement reference (``head.stages = []``), and times ``rounds`` rounds of 5 forwards of each, alternating, so
that the machine's load hits both alike; prints the median per-round ratio. Because it only needs the configs and
``_forward``, it also runs on older checkouts (``git worktree add /tmp/old COMMIT``), which gives before / after
figures of a change on the same machine at the same time. ``benchmark_model.py --reference-head`` makes the same
measurement for the current code.
"""
import argparse
import copy
import os.path as osp
import statistics
import sys
import time


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--repo', default=osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
    p.add_argument('--threads', type=int, default=2)
    p.add_argument('--rounds', type=int, default=40)
    args = p.parse_args(argv)
    sys.path.insert(0, args.repo)
    import torch
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmpose.registry import MODELS

    import mmfacealign  # noqa: F401
    init_default_scope('mmpose')
    torch.set_num_threads(args.threads)
    out = {}
    for name in ('aflw', '300w'):
        cfg = Config.fromfile(osp.join(args.repo, f'configs/ffld/td-ffld_res18-25_1xb64-400e_{name}-224x224.py'))
        ref = copy.deepcopy(cfg.model)
        ref.head.stages, ref.head.stage_losses = [], []
        models = [MODELS.build(copy.deepcopy(c)).eval() for c in (cfg.model, ref)]
        x = torch.randn(1, 3, 224, 224)
        ratios, times = [], ([], [])
        with torch.no_grad():
            for m in models:
                for _ in range(3):
                    m._forward(x)
            for _ in range(args.rounds):
                t = []
                for m in models:
                    start = time.perf_counter()
                    for _ in range(5):
                        m._forward(x)
                    t.append((time.perf_counter() - start) / 5)
                ratios.append(t[0] / t[1])
                times[0].append(t[0])
                times[1].append(t[1])
        out[name] = statistics.median(ratios)
        print(f'{name}: {out[name]:.2f}x (model {1e3 * statistics.median(times[0]):.1f} ms, reference '
              f'{1e3 * statistics.median(times[1]):.1f} ms; {args.rounds} rounds, {args.threads} threads)')
    return out


if __name__ == '__main__':
    main()
