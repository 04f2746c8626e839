# Copyright (c) mmfacealign contributors. All rights reserved.
"""Build SCDF's top-k Pearson-correlation landmark graph from a training annotation file.

    python tools/misc/build_landmark_graph.py data/wflw/annotations/face_landmarks_wflw_train.json \\
        --top-k 3 --out work_dirs/graphs/wflw98_top3.txt

SCDF (Lin et al., TIP 2021), neighbourhood design (the official WFLW graph, ``98pts_top3.txt``, has k = 3): with ``Cx``,
``Cy`` the Pearson correlations of the landmarks' x and y coordinates over the training faces,
``C = (|Cx| + |Cy|) / 2``, and node i keeps the top-(k+1) entries of row i (itself included). The output is the text
format of ``LandmarkGraph.save`` (one directed edge "i j" per line); a head loads it with ``graph='path/to/graph.txt'``.

Input: an MMPose COCO-style face annotation file (``annotations`` with ``keypoints`` = K x (x, y, v)). Each face
is normalised by its box before the correlation: centred on the box centre and divided by the box size
(``center`` and ``scale * 200`` when present, as in MMPose's 300W/WFLW/COFW files, else the COCO ``bbox``
centre and ``sqrt(w * h)``, else the landmarks' own bounding box). Without it the face's position and size in the
image, shared by all landmarks, would make every pair of landmarks strongly correlated. Faces with an unlabelled
point (``v == 0``) are skipped, since the correlation needs every coordinate.
"""
import argparse
import json
import os
import os.path as osp
import sys
from typing import Tuple

import numpy as np

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from mmfacealign.models.utils.landmark_graph import LandmarkGraph  # noqa: E402


def face_box(ann: dict, kpts: np.ndarray) -> Tuple[np.ndarray, float]:
    """(centre (2,), size) of a face: MMPose ``center``/``scale`` (x 200), else COCO ``bbox``, else landmarks."""
    if 'center' in ann and 'scale' in ann:
        scale = np.asarray(ann['scale'], dtype=np.float64).reshape(-1)
        return np.asarray(ann['center'], dtype=np.float64), float(scale.mean()) * 200.
    if ann.get('bbox') and len(ann['bbox']) == 4 and ann['bbox'][2] > 0 and ann['bbox'][3] > 0:
        x, y, w, h = (float(v) for v in ann['bbox'])
        return np.array([x + w / 2, y + h / 2]), float(np.sqrt(w * h))
    lo, hi = kpts.min(axis=0), kpts.max(axis=0)
    return (lo + hi) / 2, float(np.sqrt(np.prod(np.maximum(hi - lo, 1e-6))))


def load_normalised_shapes(ann_file: str) -> Tuple[np.ndarray, int]:
    """(M, K, 2) box-normalised landmarks of the fully labelled faces, and the number of faces skipped."""
    if not osp.isfile(ann_file):
        raise FileNotFoundError(f'annotation file {ann_file!r} does not exist')
    with open(ann_file, encoding='utf-8') as f:
        data = json.load(f)
    anns = data.get('annotations') if isinstance(data, dict) else None
    if not anns:
        raise ValueError(f'{ann_file}: no "annotations" list (expected an MMPose COCO-style face file)')
    shapes, skipped, num_kpts = [], 0, None
    for ann in anns:
        kpts = np.asarray(ann.get('keypoints', []), dtype=np.float64)
        if kpts.size == 0 or kpts.size % 3:
            raise ValueError(f'{ann_file}: annotation id {ann.get("id")} has no valid "keypoints" (x, y, v) list')
        kpts = kpts.reshape(-1, 3)
        if num_kpts is None:
            num_kpts = len(kpts)
        elif len(kpts) != num_kpts:
            raise ValueError(f'{ann_file}: annotation id {ann.get("id")} has {len(kpts)} keypoints, the first '
                             f'annotation has {num_kpts}')
        if (kpts[:, 2] <= 0).any():
            skipped += 1
            continue
        centre, size = face_box(ann, kpts[:, :2])
        shapes.append((kpts[:, :2] - centre) / size)
    if len(shapes) < 2:
        raise ValueError(f'{ann_file}: need at least 2 fully labelled faces, found {len(shapes)}')
    return np.stack(shapes), skipped


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('ann_file', help='COCO-style training annotation json (MMPose face format)')
    p.add_argument('--top-k', type=int, default=3, help='neighbours per landmark (default 3, SCDF WFLW)')
    p.add_argument('--out', required=True, help='output graph file (text, one "i j" edge per line)')
    p.add_argument('--name', default=None, help='graph name written in the header (default: from --out)')
    return p.parse_args(argv)


def main(argv=None) -> LandmarkGraph:
    args = parse_args(argv)
    shapes, skipped = load_normalised_shapes(args.ann_file)
    name = args.name or osp.splitext(osp.basename(args.out))[0]
    graph = LandmarkGraph.top_k_correlation(shapes, k=args.top_k, name=name)
    out_dir = osp.dirname(osp.abspath(args.out))
    os.makedirs(out_dir, exist_ok=True)
    graph.save(args.out, comment=f'top-{args.top_k} Pearson-correlation graph (SCDF) from '
                                 f'{osp.basename(args.ann_file)}: {len(shapes)} faces, {skipped} skipped')
    print(f'{graph} from {len(shapes)} faces ({skipped} skipped) -> {args.out}')
    return graph


if __name__ == '__main__':
    main()
