# Copyright (c) mmfacealign contributors. All rights reserved.
"""Latency of the end-to-end ONNX graph (image + boxes in, image-pixel landmarks out) against the network-only
graph with MMPose's Python pre- and post-processing around it (``ORTFaceAligner`` through ``align_faces``: the test
pipeline's crop, the data preprocessor, decoding), and against PyTorch (``align_faces``, flip test off), on a real
photo (scikit-image's astronaut) at 1 and 4 faces; with the landmark difference of each from PyTorch.

    python tools/benchmarks/end_to_end_onnx.py CONFIG CHECKPOINT [--threads 2] [--repeats 50]
        [--out docs/benchmarks/end_to_end_onnx/results.json]

Each path is timed in alternation (rounds of one call of each), the median over ``--repeats`` rounds; onnxruntime
with ``--threads`` intra-op threads, torch with as many.
"""
import argparse
import os.path as osp
import statistics
import sys
import tempfile
import time

import numpy as np

_REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, _REPO)

from mmfacealign.apis import align_faces  # noqa: E402
from mmfacealign.deployment import ORTFaceAligner, build_model, export_onnx  # noqa: E402
from mmfacealign.deployment.end_to_end import export_end_to_end, run_end_to_end  # noqa: E402
from mmfacealign.deployment.onnx_export import ort_session  # noqa: E402
from mmfacealign.utils.io import write_benchmark  # noqa: E402

BOXES = np.array([[175, 65, 275, 185], [160, 50, 270, 170], [140, 30, 310, 220], [-40, -30, 90, 110]], np.float32)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('config')
    p.add_argument('checkpoint')
    p.add_argument('--threads', type=int, default=2)
    p.add_argument('--repeats', type=int, default=50)
    p.add_argument('--out')
    args = p.parse_args(argv)
    import skimage.data
    import torch
    torch.set_num_threads(args.threads)
    image = np.ascontiguousarray(skimage.data.astronaut()[..., ::-1])
    model = build_model(args.config, args.checkpoint, cfg_options={'model.test_cfg.flip_test': False})
    from mmfacealign.apis import input_size_of
    size = input_size_of(model.cfg)
    tmp = tempfile.mkdtemp()
    e2e_path, net_path = osp.join(tmp, 'e2e.onnx'), osp.join(tmp, 'net.onnx')
    export_end_to_end(model, e2e_path, size)
    export_onnx(model, net_path, size)
    e2e = ort_session(e2e_path, num_threads=args.threads)
    aligner = ORTFaceAligner(net_path, args.config, num_threads=args.threads)
    rows = []
    for n in (1, 4):
        boxes = BOXES[:n]
        paths = {
            'end-to-end graph': lambda: run_end_to_end(e2e, image, boxes)['keypoints'],
            'network graph + Python pipeline': lambda: np.stack(
                [f['keypoints'] for f in align_faces(aligner, image, bboxes=boxes, box_convention='landmark')]),
            'PyTorch': lambda: np.stack(
                [f['keypoints'] for f in align_faces(model, image, bboxes=boxes, box_convention='landmark')]),
        }
        ref = paths['PyTorch']()
        times = {k: [] for k in paths}
        for fn in paths.values():
            fn()
        for _ in range(args.repeats):
            for k, fn in paths.items():
                t = time.perf_counter()
                fn()
                times[k].append(time.perf_counter() - t)
        for k, fn in paths.items():
            rows.append(dict(faces=n, path=k, latency_ms=1e3 * statistics.median(times[k]),
                             max_px_vs_pytorch=float(np.abs(fn() - ref).max())))
            print(f"{n} face(s), {k}: {rows[-1]['latency_ms']:.2f} ms, max {rows[-1]['max_px_vs_pytorch']:.3g} px "
                  'from PyTorch', flush=True)
    if args.out:
        write_benchmark(args.out, rows, config=args.config, checkpoint=args.checkpoint, threads=args.threads,
                        repeats=args.repeats, image='skimage.data.astronaut (512x512)', torch=torch.__version__)


if __name__ == '__main__':
    main()
