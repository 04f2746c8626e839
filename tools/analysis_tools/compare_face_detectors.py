# Copyright (c) mmfacealign contributors. All rights reserved.
"""Compare the offline face detectors (``mmfacealign.apis.face_detectors``) on the sample photos of scikit-image and
matplotlib: faces found, false positives, best IoU with hand-set boxes and time per image.

    python tools/analysis_tools/compare_face_detectors.py [--detectors mtcnn haar lbp] [--repeats 5] [--json out.json]

Six images: astronaut and Grace Hopper as shipped, the astronaut with the lower face covered and turned by 30
degrees, and two without a face (coffee, a blank grey image). Nothing is downloaded.
"""
import argparse
import json
import os.path as osp
import platform
import sys
import time

import numpy as np

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))  # run from a clone

from mmfacealign.apis.face_detectors import (  # noqa: E402
    DEFAULT_DETECTOR,
    DetectorUnavailable,
    build_detector,
    detector_names,
)
from mmfacealign.evaluation.real_photos import ASTRONAUT_FACE, GRACE_HOPPER_FACE  # noqa: E402
from mmfacealign.utils.boxes import box_iou  # noqa: E402


def _rotated(img, box, degrees):
    """``img`` rotated by ``degrees`` about the face centre, and the face box moved with it (same size)."""
    import cv2
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    m = cv2.getRotationMatrix2D((cx, cy), degrees, 1.0)
    return cv2.warpAffine(img, m, img.shape[1::-1], borderMode=cv2.BORDER_REFLECT), box


def sample_images():
    """``[(name, BGR image, [face boxes])]``: astronaut and Grace Hopper as shipped, astronaut with its lower face
    covered (a grey block over mouth and chin) and turned by 30 degrees in the image plane, and two images without
    faces (coffee, a blank grey image). Needs scikit-image and matplotlib (nothing is fetched: the images ship with
    them)."""
    import cv2
    import matplotlib.cbook
    import skimage.data
    hopper = cv2.imread(matplotlib.cbook.get_sample_data('grace_hopper.jpg', asfileobj=False))
    astronaut = skimage.data.astronaut()[..., ::-1].copy()
    occluded = astronaut.copy()
    x1, y1, x2, y2 = map(int, ASTRONAUT_FACE)
    occluded[y1 + (y2 - y1) * 6 // 10:y2, x1:x2] = 110
    return [
        ('astronaut (skimage)', astronaut, [ASTRONAUT_FACE]),
        ('grace_hopper (matplotlib)', hopper, [GRACE_HOPPER_FACE]),
        ('astronaut, lower face covered', occluded, [ASTRONAUT_FACE]),
        ('astronaut, turned 30 degrees', *(lambda im, b: (im, [b]))(*_rotated(astronaut, ASTRONAUT_FACE, 30))),
        ('coffee (skimage, no face)', skimage.data.coffee()[..., ::-1].copy(), []),
        ('blank 480x640 (no face)', np.full((480, 640, 3), 127, np.uint8), []),
    ]


def compare_detectors(names=None, repeats: int = 3, iou_thr: float = 0.5):
    """Hits (a face box matched at IoU >= ``iou_thr``), false positives and median time per image of each
    detector on :func:`sample_images`; rows of dicts (``error`` set for a detector that cannot load)."""
    images = sample_images()
    rows = []
    for name in names or detector_names():
        try:
            det = build_detector(name)
            det(images[0][1])                                   # warm-up (lazy init, torch threads)
        except DetectorUnavailable as e:
            rows.append(dict(detector=name, error=str(e)))
            continue
        hits = faces = fps = 0
        times, per_image = [], []
        for img_name, img, gt in images:
            ts = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                boxes = det(img)
                ts.append(time.perf_counter() - t0)
            times.append(float(np.median(ts)))
            iou = box_iou(boxes, gt) if len(gt) and len(boxes) else np.zeros((len(boxes), len(gt)))
            matched = iou.max(0, initial=0.0) >= iou_thr
            hits += int(matched.sum())
            faces += len(gt)
            fp = int((iou.max(1, initial=0.0) < iou_thr).sum())
            fps += fp
            per_image.append(dict(image=img_name, boxes=boxes.round(1).tolist(),
                                  best_iou=float(iou.max()) if iou.size else None, false_positives=fp))
        rows.append(dict(detector=name, hits=hits, faces=faces, false_positives=fps,
                         ms_per_image=1000 * float(np.mean(times)), per_image=per_image))
    return rows


def comparison_table(rows) -> str:
    lines = ['| detector | faces found (IoU >= 0.5) | false positives | '
             'best IoU: astronaut / Hopper / covered / turned | ms per image (CPU) |', '|---|---|---|---|---|']
    for r in rows:
        if 'error' in r:
            lines.append(f"| {r['detector']} | not available: {r['error']} | | | |")
            continue
        ious = ' / '.join('-' if p['best_iou'] is None else f"{p['best_iou']:.2f}"
                          for p in r['per_image'] if 'no face' not in p['image'])
        lines.append(f"| {r['detector']}{' (default)' if r['detector'] == DEFAULT_DETECTOR else ''} | "
                     f"{r['hits']}/{r['faces']} | {r['false_positives']} | {ious} | {r['ms_per_image']:.1f} |")
    return '\n'.join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description='Compare the offline face detectors on the sample photos of '
                                            'scikit-image and matplotlib (plus two images without a face).')
    p.add_argument('--detectors', nargs='+', default=None)
    p.add_argument('--repeats', type=int, default=5)
    p.add_argument('--json', help='also write the rows (with every box) here')
    args = p.parse_args(argv)
    result = compare_detectors(args.detectors, repeats=args.repeats)
    import torch
    print(f'{platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads, '
          f'median of {args.repeats} runs per image, 6 images (4 faces, 2 without)')
    print(comparison_table(result))
    for r in result:
        for img in r.get('per_image', []):
            print(f"  {r['detector']:6s} {img['image']:28s} boxes={img['boxes']}")
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(result, f, indent=1)
    return result


if __name__ == '__main__':
    main()
