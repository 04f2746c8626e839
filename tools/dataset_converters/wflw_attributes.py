# Copyright (c) mmfacealign contributors. All rights reserved.
"""Add WFLW's attribute subsets to MMPose's WFLW annotations, or write a fresh COCO json with them.

    # tag MMPose's test json (from wflw_annotations.tar or wflw2coco.py) in place of a copy:
    python tools/dataset_converters/wflw_attributes.py \\
        data/wflw/WFLW_annotations/list_98pt_rect_attr_train_test/list_98pt_rect_attr_test.txt \\
        --json data/wflw/annotations/face_landmarks_wflw_test.json \\
        --out data/wflw/annotations/face_landmarks_wflw_test_attr.json

    # or build a json of its own (image sizes are read from --img-root):
    python tools/dataset_converters/wflw_attributes.py .../list_98pt_rect_attr_test.txt \\
        --img-root data/wflw/images --out data/wflw/annotations/face_landmarks_wflw_test_attr.json

Each line of ``list_98pt_rect_attr_{train,test}.txt`` holds 196 floats (98 landmarks, x y), 4 ints (face box
x_min y_min x_max y_max), 6 ints (attribute flags: pose, expression, illumination, make-up, occlusion, blur) and
the image path relative to ``WFLW_images``. Every annotation gets ``subset``: the list of attributes whose flag is
1, named ``pose``, ``expression``, ``illumination``, ``makeup``, ``occlusion``, ``blur`` (an empty list for faces
with none). ``FaceAlignWFLWDataset`` carries the tags and ``FaceAlignmentMetric`` reports each attribute subset
and ``full`` in one run.

Matching (``--json``): an annotation is matched to the txt faces of the same image (same relative path, else
same file name), choosing the face whose landmarks are nearest (mean point distance); a match farther than
``--max-dist`` pixels, or an image missing from the txt, is an error naming the annotation (``--allow-unmatched``
leaves such annotations untagged instead).

Fresh json: MMPose's center/scale convention, ``center`` = centre of the landmark box, ``scale`` =
max(w, h) / 200 of that box, ``bbox`` = the landmark box (x, y, w, h), keypoints with v = 2; the WFLW face box is
kept as ``wflw_box`` (x1, y1, x2, y2). Output is written atomically (temporary file, then rename).
"""
import argparse
import json
import os.path as osp
import posixpath
import sys
from collections import defaultdict
from typing import Dict, List, Optional, Tuple

import numpy as np

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from mmfacealign.utils.io import dump_json_atomic  # noqa: E402

WFLW_ATTRIBUTES = ('pose', 'expression', 'illumination', 'makeup', 'occlusion', 'blur')
NUM_POINTS = 98
NUM_FIELDS = 2 * NUM_POINTS + 4 + 6 + 1


def parse_attr_txt(path: str) -> List[dict]:
    """Read ``list_98pt_rect_attr_*.txt``.

    Returns:
        list of dict: ``landmarks`` (98, 2) float64, ``box`` (4,) x1 y1 x2 y2, ``attributes`` (6,) int,
        ``tags`` (list of str), ``image`` (str, '/'-separated), ``line`` (1-based line number).
    """
    records = []
    with open(path, encoding='utf-8') as f:
        for lineno, line in enumerate(f, 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != NUM_FIELDS:
                raise ValueError(f'{path}:{lineno}: expected {NUM_FIELDS} fields (196 coordinates, 4 box values, '
                                 f'6 attribute flags, image path), got {len(parts)}')
            try:
                coords = np.array(parts[:2 * NUM_POINTS], dtype=np.float64).reshape(NUM_POINTS, 2)
                box = np.array(parts[2 * NUM_POINTS:2 * NUM_POINTS + 4], dtype=np.float64)
                attrs = np.array([int(v) for v in parts[2 * NUM_POINTS + 4:2 * NUM_POINTS + 10]])
            except ValueError as e:
                raise ValueError(f'{path}:{lineno}: {e}') from None
            if not np.isin(attrs, (0, 1)).all():
                raise ValueError(f'{path}:{lineno}: attribute flags must be 0 or 1, got {attrs.tolist()}')
            records.append(
                dict(landmarks=coords, box=box, attributes=attrs, image=parts[-1].replace('\\', '/'),
                     tags=[name for name, flag in zip(WFLW_ATTRIBUTES, attrs) if flag], line=lineno))
    if not records:
        raise ValueError(f'{path}: no annotation lines')
    return records


def _norm(p: str) -> str:
    return posixpath.normpath(p.replace('\\', '/'))


def tag_coco(coco: dict, records: List[dict], max_dist: float = 1.0,
             allow_unmatched: bool = False) -> Tuple[dict, Dict[str, int]]:
    """Add ``subset`` tags to the annotations of an MMPose WFLW json (modified in place and returned).

    Args:
        coco (dict): MMPose COCO-style WFLW json.
        records (list): from :func:`parse_attr_txt`.
        max_dist (float): largest mean landmark distance (pixels) accepted as the same face.
        allow_unmatched (bool): leave unmatched annotations untagged instead of raising.

    Returns:
        tuple: ``(coco, counts)`` with counts ``matched``, ``unmatched`` and one per attribute.
    """
    by_path, by_name = defaultdict(list), defaultdict(list)
    for r in records:
        by_path[_norm(r['image'])].append(r)
        by_name[osp.basename(r['image'])].append(r)
    images = {img['id']: img for img in coco.get('images', [])}
    counts = dict(matched=0, unmatched=0, **{a: 0 for a in WFLW_ATTRIBUTES})
    problems = []
    for ann in coco.get('annotations', []):
        img = images.get(ann.get('image_id'))
        if img is None:
            problems.append(f'annotation id {ann.get("id")}: image id {ann.get("image_id")} not in "images"')
            continue
        fname = img['file_name']
        cands = by_path.get(_norm(fname)) or by_name.get(osp.basename(fname), [])
        kpts = np.asarray(ann.get('keypoints', []), dtype=np.float64)
        if kpts.size != 3 * NUM_POINTS:
            raise ValueError(f'annotation id {ann.get("id")} ({fname}) has {kpts.size / 3:g} keypoints, '
                             f'expected {NUM_POINTS} (is this a WFLW json?)')
        kpts = kpts.reshape(NUM_POINTS, 3)[:, :2]
        if not cands:
            problems.append(f'annotation id {ann.get("id")}: image {fname!r} is not in the attribute file')
            continue
        dists = [float(np.linalg.norm(r['landmarks'] - kpts, axis=1).mean()) for r in cands]
        best = int(np.argmin(dists))
        if dists[best] > max_dist:
            problems.append(f'annotation id {ann.get("id")}: nearest face of {fname!r} in the attribute file '
                            f'(line {cands[best]["line"]}) is {dists[best]:.2f} px away (> --max-dist {max_dist})')
            continue
        ann['subset'] = list(cands[best]['tags'])
        counts['matched'] += 1
        for t in ann['subset']:
            counts[t] += 1
    counts['unmatched'] = len(problems)
    if problems and not allow_unmatched:
        shown = '\n  '.join(problems[:10])
        more = f'\n  ... ({len(problems) - 10} more)' if len(problems) > 10 else ''
        raise ValueError(f'{len(problems)} annotation(s) could not be matched to the attribute file:\n  {shown}{more}'
                         '\n(use --allow-unmatched to leave them untagged)')
    return coco, counts


def records_to_coco(records: List[dict], img_root: str) -> dict:
    """A fresh MMPose-style WFLW json (center/scale boxes, ``subset`` tags) from the attribute file.

    Args:
        records (list): from :func:`parse_attr_txt`.
        img_root (str): the folder the image paths are relative to (``WFLW_images``), to read image sizes.
    """
    import cv2
    images, annotations, image_ids = [], [], {}
    for r in records:
        fname = _norm(r['image'])
        if fname not in image_ids:
            path = osp.join(img_root, fname)
            img = cv2.imread(path, cv2.IMREAD_UNCHANGED)
            if img is None:
                raise FileNotFoundError(f'cannot read image {path!r} (line {r["line"]}); check --img-root')
            image_ids[fname] = len(images)
            images.append(dict(id=len(images), file_name=fname, height=int(img.shape[0]), width=int(img.shape[1])))
        pts = r['landmarks']
        x1, y1 = pts.min(axis=0)
        x2, y2 = pts.max(axis=0)
        w, h = float(x2 - x1), float(y2 - y1)
        kpts = np.concatenate([pts, np.full((NUM_POINTS, 1), 2.0)], axis=1)
        annotations.append(
            dict(id=len(annotations), image_id=image_ids[fname], category_id=1, iscrowd=0,
                 keypoints=[round(float(v), 4) for v in kpts.reshape(-1)], num_keypoints=NUM_POINTS,
                 bbox=[float(x1), float(y1), w, h], area=w * h, center=[float(x1 + x2) / 2, float(y1 + y2) / 2],
                 scale=max(w, h) / 200.0, wflw_box=[float(v) for v in r['box']], subset=list(r['tags'])))
    return dict(images=images, annotations=annotations,
                categories=[dict(supercategory='person', id=1, name='face', keypoints=[], skeleton=[])])


def main(argv: Optional[List[str]] = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('attr_txt', help='list_98pt_rect_attr_{train,test}.txt')
    p.add_argument('--out', required=True, help='output json (may equal --json to update it in place)')
    p.add_argument('--json', help="MMPose's WFLW json to tag (else a fresh json is written)")
    p.add_argument('--img-root', help='WFLW_images folder (fresh json only: image sizes)')
    p.add_argument('--max-dist', type=float, default=1.0,
                   help='largest mean landmark distance in pixels for a match (default 1.0)')
    p.add_argument('--allow-unmatched', action='store_true', help='leave unmatched annotations untagged')
    args = p.parse_args(argv)
    try:
        records = parse_attr_txt(args.attr_txt)
        if args.json:
            with open(args.json, encoding='utf-8') as f:
                coco = json.load(f)
            coco, counts = tag_coco(coco, records, args.max_dist, args.allow_unmatched)
        else:
            if not args.img_root:
                raise ValueError('a fresh json needs --img-root (image sizes); or pass --json to tag an existing '
                                 'MMPose json')
            coco = records_to_coco(records, args.img_root)
            counts = dict(matched=len(coco['annotations']), unmatched=0)
            for a in WFLW_ATTRIBUTES:
                counts[a] = sum(a in ann['subset'] for ann in coco['annotations'])
    except (OSError, ValueError) as e:
        sys.exit(f'wflw_attributes: {e}')
    dump_json_atomic(coco, args.out)
    per_attr = ', '.join(f'{a} {counts[a]}' for a in WFLW_ATTRIBUTES)
    print(f'wflw_attributes: {counts["matched"]} faces tagged ({per_attr}); {counts["unmatched"]} untagged '
          f'-> {args.out}')


if __name__ == '__main__':
    main()
