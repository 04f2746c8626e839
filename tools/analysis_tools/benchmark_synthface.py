# Copyright (c) mmfacealign contributors. All rights reserved.
"""Measure SynthFace generation speed (target: at least 200 faces/s on one core at 128x128).

    python tools/analysis_tools/benchmark_synthface.py [--num 1000] [--image-size 128] [--workers 1 2]
        [--style flat|3d] [--no-feature NAME ...]

Reports, per worker count, faces per second for rendering alone (one process, in memory) and for the whole
generation (rendering, PNG writing, json) through ``write_synthface`` into a temporary directory.
"""
import argparse
import os
import os.path as osp
import shutil
import sys
import tempfile
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from mmfacealign.datasets.synthface import SynthFaceConfig, generate_sample, write_synthface  # noqa: E402
from mmfacealign.datasets.synthface.shape_model import load_pdm  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--num', type=int, default=1000, help='faces per measurement')
    p.add_argument('--image-size', type=int, default=128)
    p.add_argument('--workers', type=int, nargs='+', default=[1, 2])
    p.add_argument('--shape-model', default='builtin', help='builtin | auto | real | .npz')
    p.add_argument('--style', default='flat', choices=('flat', '3d'))
    p.add_argument('--no-feature', nargs='+', default=[], help="'3d' style features to switch off")
    args = p.parse_args(argv)
    import cv2
    cv2.setNumThreads(1)
    pdm = load_pdm(args.shape_model)
    cfg = SynthFaceConfig(image_size=args.image_size, num_train=args.num, num_test=0, splits=('train', ),
                          shape_model=args.shape_model, style=args.style,
                          features={n: False for n in args.no_feature})
    for i in range(20):   # warm-up (caches, allocators)
        generate_sample(cfg, pdm, 'train', i)
    t = time.perf_counter()
    for i in range(args.num):
        generate_sample(cfg, pdm, 'train', i)
    render = args.num / (time.perf_counter() - t)
    print(f'SynthFace {args.image_size}x{args.image_size}, style {args.style}'
          + (f' without {", ".join(args.no_feature)}' if args.no_feature else '')
          + f', shape model {pdm.source}, {os.cpu_count()} CPUs')
    print(f'  render only, 1 process:          {render:7.0f} faces/s')
    for w in args.workers:
        tmp = tempfile.mkdtemp(prefix='synthface-bench-')
        try:
            t = time.perf_counter()
            write_synthface(osp.join(tmp, 'sf'), cfg, workers=w, pdm=pdm, log=lambda *a: None)
            rate = args.num / (time.perf_counter() - t)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        print(f'  render + PNG + json, {w} worker(s): {rate:7.0f} faces/s')


if __name__ == '__main__':
    main()
