# Copyright (c) mmfacealign contributors. All rights reserved.
"""Convert a folder of images with iBUG .pts landmark files into MMPose COCO-style json.

    python tools/dataset_converters/pts2coco.py IMG_ROOT OUT.json [--margin 0.0] [--zero-based]
        [--num-keypoints 68] [--list files.txt] [--strict]

Every image under IMG_ROOT that has a .pts file of the same name beside it becomes one face; file names in the
json are relative to IMG_ROOT (use IMG_ROOT as the config's data_prefix.img). The json works with MMPose's
Face300WDataset (68 points), WFLWDataset (98) and mmfacealign's datasets.

Coordinates: .pts files are 1-based (iBUG/MATLAB: the top-left pixel centre is (1, 1)); 1 is subtracted to get
MMPose's 0-based pixel centres. Pass --zero-based if your files already use 0-based coordinates.
Boxes: the landmark box, grown by --margin x its size on each side (0 = MMPose's tight 300W/WFLW boxes).
Images: any format OpenCV reads (jpg, png, bmp, ppm/pgm/pbm, tif, webp, ...; see pts_io.IMAGE_EXTS). A .pts file
without a readable image (none of the same name, or one that does not decode) is left out and named in a warning;
--strict makes that an error (exit status 1, no json written).
"""
import argparse
import os.path as osp
import sys
import warnings

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from mmfacealign.datasets.pts_io import pts_folder_to_coco  # noqa: E402
from mmfacealign.utils.io import dump_json_atomic  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('img_root', help='folder with images and .pts files (searched recursively)')
    p.add_argument('out', help='output json')
    p.add_argument('--margin', type=float, default=0.0, help='box margin as a share of the landmark-box size')
    p.add_argument('--zero-based', action='store_true', help='.pts coordinates are already 0-based')
    p.add_argument('--num-keypoints', type=int, help='require this many points in every file')
    p.add_argument('--list', help='text file of image paths relative to IMG_ROOT (default: all annotated)')
    p.add_argument('--strict', action='store_true', help='fail if a .pts file has no readable image')
    args = p.parse_args(argv)
    images = None
    if args.list:
        with open(args.list, encoding='utf-8') as f:
            images = [ln.strip() for ln in f if ln.strip()]
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always', UserWarning)
            coco = pts_folder_to_coco(args.img_root, images, margin=args.margin, one_based=not args.zero_based,
                                      num_keypoints=args.num_keypoints, strict=args.strict)
    except (OSError, ValueError) as e:
        sys.exit(f'pts2coco: {e}')
    for w in caught:
        if issubclass(w.category, UserWarning):
            print(f'pts2coco: warning: {w.message}', file=sys.stderr)
        else:
            warnings.showwarning(w.message, w.category, w.filename, w.lineno)
    dump_json_atomic(coco, args.out)
    print(f'pts2coco: {len(coco["annotations"])} faces from {args.img_root} -> {args.out}')


if __name__ == '__main__':
    main()
