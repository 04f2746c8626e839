# Copyright (c) mmfacealign contributors. All rights reserved.
"""Evaluate the SRN tracker (SRN Eq. 13: the RNN state carried over a whole video) on SynthFace video.

Every test video is tracked from its first frame's ground-truth landmark box (``track_video``: later frames are
cropped around the previous prediction, the stated re-initialisation rule applies), and compared with per-frame
prediction in each frame's ground-truth box (no state carried: the image model's protocol). CONFIG may be the image
SRN config or a video config of this project (an ``SRNVideoEstimator`` checkpoint). Prints per-frame
inter-ocular NME per category, the jitter on ground-truth-still frame pairs (``temporal_jitter``), the lost-track
count and the frames per second (model time, single process):

    python projects/srn_video/tools/eval_tracker.py CONFIG CHECKPOINT [--data-root data/synthface_video]
        [--init mean|previous] [--out results.json]
"""
import argparse
import json
import os.path as osp
import sys

import cv2
import numpy as np

_PROJECT = osp.dirname(osp.dirname(osp.abspath(__file__)))       # projects/srn_video: the srn_video package
sys.path[:0] = [_PROJECT, osp.dirname(osp.dirname(_PROJECT))]   # and the repository (mmfacealign)

from srn_video.apis import track_video  # noqa: E402
from srn_video.evaluation.temporal_jitter import temporal_jitter  # noqa: E402

from mmfacealign.datasets.synthface.video import read_video_split  # noqa: E402
from mmfacealign.models.utils.landmark_groups import outer_eye_corners  # noqa: E402


def nme(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Per-frame inter-ocular NME of (F, K, 2) arrays (the layout's outer eye corners)."""
    from mmfacealign.evaluation.functional import inter_ocular_distance, per_face_nme
    return per_face_nme(pred, gt, inter_ocular_distance(gt, *outer_eye_corners(gt.shape[1])))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('config')
    p.add_argument('checkpoint')
    p.add_argument('--data-root', default='data/synthface_video')
    p.add_argument('--init', default='mean', choices=('mean', 'previous'))
    p.add_argument('--device', default='cpu')
    p.add_argument('--out', help='write the per-video results to this json')
    args = p.parse_args(argv)
    from srn_video.apis import SRNTracker

    from mmfacealign.apis import init_model
    model = init_model(args.config, args.checkpoint, device=args.device)
    single = SRNTracker(model, device=args.device)          # per-frame prediction: state and shape not carried
    rows, model_time, frames_done = {}, 0., 0
    for vid, video in read_video_split(args.data_root).items():
        paths, gt, category = video['paths'], video['keypoints'], video['category']
        frames = [cv2.imread(p) for p in paths]
        lo, hi = gt[0].min(0), gt[0].max(0)
        tracked = track_video(model, frames, bbox=[*lo, *hi], init=args.init, device=args.device)
        model_time += sum(r['time_model'] for r in tracked)
        frames_done += len(frames)
        pred = np.stack([np.asarray(r['keypoints'], np.float64) for r in tracked])
        boxes = [np.r_[g.min(0), g.max(0)][None] for g in gt]
        per_frame = np.stack([single.predict(f, b[0])[0] for f, b in zip(frames, boxes)])
        i, j = outer_eye_corners(gt.shape[1])
        d = np.linalg.norm(gt[:, i] - gt[:, j], axis=-1)
        ids = np.arange(len(frames))
        rows[vid] = dict(category=category, lost=int(sum(r['lost'] for r in tracked)),
                         tracker_nme=float(nme(pred, gt).mean()), per_frame_nme=float(nme(per_frame, gt).mean()),
                         tracker_jitter=temporal_jitter(pred, gt, d, [vid] * len(ids), ids),
                         per_frame_jitter=temporal_jitter(per_frame, gt, d, [vid] * len(ids), ids))
    print(f"{'category':<10} {'videos':>6} {'tracker NME%':>13} {'GT-box NME%':>12} {'tracker jit%':>13} "
          f"{'GT-box jit%':>12} {'lost':>5}")
    for cat in sorted({r['category'] for r in rows.values()}) + ['all']:
        sel = [r for r in rows.values() if cat in ('all', r['category'])]

        def mean(key, sel=sel):
            vals = [r[key] for r in sel if np.isfinite(r[key])]
            return 100 * float(np.mean(vals)) if vals else float('nan')
        print(f"{cat:<10} {len(sel):>6} {mean('tracker_nme'):>13.2f} {mean('per_frame_nme'):>12.2f} "
              f"{mean('tracker_jitter'):>13.2f} {mean('per_frame_jitter'):>12.2f} {sum(r['lost'] for r in sel):>5}")
    print(f'tracker: {frames_done} frames, {frames_done / model_time:.1f} fps (model time, {args.device})')
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(dict(videos=rows, fps_model=frames_done / model_time), f, indent=1)


if __name__ == '__main__':
    main()
