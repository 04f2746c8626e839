# Copyright (c) mmfacealign contributors. All rights reserved.
"""FaceTracker on long SynthFace videos: NME over frame index (drift), jitter, lag and fps, against per-frame
prediction in ground-truth boxes.

    python tools/benchmarks/tracking.py CONFIG CHECKPOINT [--data-root data/synthface_video_long]
        [--rows gt-boxes track track+redetect track+redetect+smooth ...] [--smooth 1:0.5 0.5:1 ...]
        [--out docs/benchmarks/tracking/results.json] [--markdown docs/benchmarks/tracking/results.md]

The data (``--videos`` test videos of ``--frames`` frames, SynthFace video, seed 0) is written first when
missing. Rows:

* ``gt-boxes``: every frame predicted in its ground-truth landmark box (no tracking: the reference).
* ``track``: FaceTracker started from frame 0's ground-truth box, no detector afterwards (each frame cropped
  around the previous prediction: the drift-prone tracker).
* ``track+redetect``: with a detector every ``--interval`` frames and after a loss. The detector is simulated:
  the frame's ground-truth landmark box, its centre moved by N(0, 0.045 x size) per axis and its width and height
  scaled by exp(N(0, 0.08)) each, the spread left after MTCNN's calibration on SynthFace 3d renders
  (docs/box_calibration.json); MTCNN itself does not find SynthFace's flat faces.
* ``track-nomotion``: ``track`` without the constant-velocity box guess (``motion=False``).
* ``track+redetect-always``: ``track+redetect`` re-anchoring every matched track on its detection
  (``reanchor_iou=1``; the default re-anchors only a track whose box has drifted below 0.6 IoU).
* ``track+redetect+smooth``: the same with the One-Euro filter at ``--smooth MIN_CUTOFF:BETA`` (each value
  one row; the first is also the row's name without suffix).
* ``cut``: pairs of videos joined end to end (a scene cut in the middle), tracked with re-detection: NME of the
  ``--after-cut`` frames after each cut, against ``gt-boxes`` on the same frames.

Per row: mean inter-ocular NME (%) overall and per ``--bin`` frames of the videos (drift shows as NME rising
with frame index), jitter (the project's temporal-jitter metric: the mean normalised displacement of the
prediction on frame pairs where the ground truth is still, % of the inter-ocular distance), lag (the shift in
frames, 0-5 in steps of 0.1, of the ground truth that the prediction matches best on moving frames; 0 for a
prediction without delay), losses (tracks that failed the loss rule, ended or recovered from a detection),
track-id switches, frames without a face, detections per frame and fps (tracker steps, single process).
"""
import argparse
import os
import os.path as osp
import sys
import time

import cv2
import numpy as np

_REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path[:0] = [_REPO, osp.join(_REPO, 'projects', 'srn_video')]

from mmfacealign.apis import FaceTracker, align_faces, init_model  # noqa: E402
from mmfacealign.datasets.synthface.video import SynthFaceVideoConfig, read_video_split, write_synthface_video  # noqa: E402
from mmfacealign.evaluation.functional import inter_ocular_distance, per_face_nme  # noqa: E402
from mmfacealign.models.utils.landmark_groups import outer_eye_corners  # noqa: E402
from mmfacealign.utils.boxes import box_iou, landmark_box  # noqa: E402
from mmfacealign.utils.io import write_benchmark  # noqa: E402

ROWS = ('gt-boxes', 'track', 'track-nomotion', 'track+redetect', 'track+redetect-always', 'track+redetect+smooth',
        'cut')


class SimulatedDetector:
    """The ground-truth landmark box of the current frame with a detector's spread (see the module docstring);
    set ``boxes`` (F, 4) and ``index`` before each frame."""

    def __init__(self, seed: int = 0, centre_std: float = 0.045, scale_std: float = 0.08):
        self.rng = np.random.default_rng(seed)
        self.centre_std, self.scale_std = centre_std, scale_std
        self.boxes, self.index = None, 0

    def __call__(self, frame):
        out = []
        for box in np.asarray(self.boxes[self.index], np.float64).reshape(-1, 4):
            size = box[2:] - box[:2]
            centre = (box[:2] + box[2:]) / 2 + self.rng.normal(0, self.centre_std, 2) * size
            size = size * np.exp(self.rng.normal(0, self.scale_std, 2))
            out.append(np.r_[centre - size / 2, centre + size / 2])
        return np.asarray(out).reshape(-1, 4)


def nme(pred, gt):
    i, j = outer_eye_corners(gt.shape[1])
    return per_face_nme(pred, gt, inter_ocular_distance(gt, i, j))


def lag_frames(pred, gt, moving, shifts=np.arange(0, 5.01, 0.1)):
    """The shift s (frames) minimising the mean distance of pred(t) to gt(t - s) over moving frames t >= 5."""
    t = np.arange(len(gt))
    sel = moving & (t >= 5) & np.isfinite(pred).all((1, 2))
    if not sel.any():
        return float('nan')
    errs = []
    for s in shifts:
        lo = np.floor(t - s).astype(int)
        w = (t - s) - lo
        lo = np.clip(lo, 0, len(gt) - 1)
        hi = np.clip(lo + 1, 0, len(gt) - 1)
        g = gt[lo] * (1 - w)[:, None, None] + gt[hi] * w[:, None, None]
        errs.append(np.linalg.norm(pred[sel] - g[sel], axis=-1).mean())
    return float(shifts[int(np.argmin(errs))])


def run_tracker(model, frames, gt, tracker_kw, detector=None, fps=30.0):
    """Track one video; (F, K, 2) predictions of the face (NaN where none), lost count, ids, seconds."""
    tracker = FaceTracker(model, detector=detector, box_convention='landmark', fps=fps, **tracker_kw)
    boxes = np.stack([landmark_box(g) for g in gt])
    if detector is not None:
        detector.boxes = boxes[:, None]
    pred = np.full(gt.shape, np.nan)
    lost, ids, seconds, detections = 0, set(), 0.0, 0
    for i, frame in enumerate(frames):
        if detector is not None:
            detector.index = i
        res = tracker.step(frame, detections=boxes[i][None] if i == 0 else None)
        seconds += res['time']
        lost += len(res['lost']) + len(res['recovered'])
        detections += int(res['detected'])
        if res['faces']:
            best = max(res['faces'], key=lambda f: box_iou(landmark_box(f['keypoints']), boxes[i])[0, 0])
            pred[i] = best['keypoints']
            ids.add(best['track_id'])
    run_tracker.detections += detections
    return pred, lost, ids, seconds


run_tracker.detections = 0


def summarise(name, preds, gts, videos, args, lost=0, switches=0, seconds=None, extra=None):
    from srn_video.evaluation.temporal_jitter import temporal_jitter
    per = [nme(np.nan_to_num(p, nan=1e6), g) for p, g in zip(preds, gts)]
    missing = sum(int((~np.isfinite(p).all((1, 2))).sum()) for p in preds)
    ok = [np.isfinite(p).all((1, 2)) for p in preds]
    frames = np.concatenate([n[o] for n, o in zip(per, ok)])
    bins = {}
    for start in range(0, max(len(g) for g in gts), args.bin):
        vals = np.concatenate([n[start:start + args.bin][o[start:start + args.bin]] for n, o in zip(per, ok)])
        bins[f'{start}-{start + args.bin - 1}'] = 100 * float(vals.mean()) if len(vals) else float('nan')
    jit, lags = [], []
    for p, g, v in zip(preds, gts, videos):
        i, j = outer_eye_corners(g.shape[1])
        d = np.linalg.norm(g[:, i] - g[:, j], axis=-1)
        ids = np.arange(len(g))
        pp = np.where(np.isfinite(p), p, g)              # frames without a face: no jitter from them
        jit.append(temporal_jitter(pp, g, d, [v] * len(g), ids))
        motion = np.r_[0, np.linalg.norm(np.diff(g, axis=0), axis=-1).mean(-1) / d[1:]]
        lags.append(lag_frames(p, g, motion > 0.02))
    row = dict(row=name, nme=100 * float(frames.mean()), nme_bins=bins, jitter=100 * float(np.nanmean(jit)),
               lag_frames=float(np.nanmean(lags)), lost=int(lost), id_switches=int(switches),
               frames_without_face=missing, frames=int(sum(len(g) for g in gts)))
    if seconds:
        row['fps'] = row['frames'] / seconds
    row.update(extra or {})
    return row


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('config')
    p.add_argument('checkpoint')
    p.add_argument('--data-root', default='data/synthface_video_long')
    p.add_argument('--videos', type=int, default=6)
    p.add_argument('--frames', type=int, default=300)
    p.add_argument('--rows', nargs='+', default=list(ROWS), choices=ROWS)
    p.add_argument('--smooth', nargs='+', default=['1:20'], help='One-Euro MIN_CUTOFF:BETA per smoothed row')
    p.add_argument('--interval', type=int, default=10, help='re-detection interval (frames)')
    p.add_argument('--redetect-occluded', type=float, default=0.4,
                   help="FaceTracker's redetect_occluded (detect when a track's mean occlusion probability exceeds it)")
    p.add_argument('--bin', type=int, default=100, help='frames per NME bin')
    p.add_argument('--after-cut', type=int, default=30)
    p.add_argument('--fps', type=float, default=30.0)
    p.add_argument('--device', default='cpu')
    p.add_argument('--out')
    p.add_argument('--markdown')
    args = p.parse_args(argv)
    if not osp.isfile(osp.join(args.data_root, 'annotations', 'synthface_video_test.json')):
        write_synthface_video(args.data_root, SynthFaceVideoConfig(num_videos_train=0, num_videos_test=args.videos,
                                                                   frames=args.frames, splits=('test', )))
    model = init_model(args.config, args.checkpoint, device=args.device)
    data = read_video_split(args.data_root)
    vids = sorted(data)
    frames = {v: [cv2.imread(f) for f in data[v]['paths']] for v in vids}
    gts = [data[v]['keypoints'] for v in vids]
    rows = []
    redetect = dict(redetect_interval=args.interval, redetect_occluded=args.redetect_occluded)
    for name in args.rows:
        t0 = time.time()
        if name == 'gt-boxes':
            preds, seconds = [], 0.0
            for v, g in zip(vids, gts):
                out = []
                for f, gg in zip(frames[v], g):
                    s = time.perf_counter()
                    out.append(align_faces(model, f, bboxes=landmark_box(gg)[None], box_convention='landmark')[0]
                               ['keypoints'])
                    seconds += time.perf_counter() - s
                preds.append(np.stack(out).astype(np.float64))
            rows.append(summarise(name, preds, gts, vids, args, seconds=seconds))
        elif name == 'cut':
            preds, cut_gts, cut_vids, after, ref = [], [], [], [], []
            base = {v: [align_faces(model, f, bboxes=landmark_box(g)[None], box_convention='landmark')[0]
                        ['keypoints'] for f, g in zip(frames[v], data[v]['keypoints'])] for v in vids}
            lost = sw = 0
            for a, b in zip(vids[0::2], vids[1::2]):
                g = np.concatenate([data[a]['keypoints'], data[b]['keypoints']])
                fr = frames[a] + frames[b]
                pred, lo, ids, _ = run_tracker(model, fr, g, redetect, SimulatedDetector(), args.fps)
                n = len(data[a]['keypoints'])
                after.append(nme(np.nan_to_num(pred[n:n + args.after_cut], nan=1e6), g[n:n + args.after_cut]))
                ref.append(nme(np.stack(base[b][:args.after_cut]).astype(np.float64), g[n:n + args.after_cut]))
                preds.append(pred)
                cut_gts.append(g)
                cut_vids.append(f'{a}+{b}')
                lost, sw = lost + lo, sw + max(0, len(ids) - 2)
            rows.append(summarise(name, preds, cut_gts, cut_vids, args, lost, sw, extra=dict(
                nme_after_cut=100 * float(np.mean(np.concatenate(after))),
                gt_boxes_nme_after_cut=100 * float(np.mean(np.concatenate(ref))))))
        else:
            settings = [None] if not name.endswith('smooth') else args.smooth
            for setting in settings:
                kw = dict(redetect) if 'redetect' in name else {}
                if name.endswith('-nomotion'):
                    kw['motion'] = False
                if name.endswith('-always'):
                    kw['reanchor_iou'] = 1.0
                label = name
                if setting is not None:
                    mc, beta = (float(x) for x in setting.split(':'))
                    kw['smoothing'] = dict(min_cutoff=mc, beta=beta)
                    label = f'{name} ({mc:g} Hz, beta {beta:g})'
                preds, lost, sw, seconds = [], 0, 0, 0.0
                run_tracker.detections = 0
                for v, g in zip(vids, gts):
                    det = SimulatedDetector(seed=v) if 'redetect' in name else None
                    pred, lo, ids, sec = run_tracker(model, frames[v], g, kw, det, args.fps)
                    preds.append(pred)
                    lost, sw, seconds = lost + lo, sw + max(0, len(ids) - 1), seconds + sec
                rows.append(summarise(label, preds, gts, vids, args, lost, sw, seconds, extra=dict(
                    settings=kw, detections_per_frame=run_tracker.detections / sum(len(g) for g in gts))))
        print(f'{rows[-1]["row"]}: NME {rows[-1]["nme"]:.2f}%, jitter {rows[-1]["jitter"]:.2f}%, lag '
              f'{rows[-1]["lag_frames"]:.1f} frames ({time.time() - t0:.0f} s)', flush=True)
    bins = list(rows[0]['nme_bins'])
    lines = ['| row | NME % | ' + ' | '.join(f'NME frames {b}' for b in bins) +
             ' | jitter % | lag (frames) | losses | id switches | frames without face | detections / frame | fps |',
             '|---|---|' + '---|' * len(bins) + '---|---|---|---|---|---|---|']
    for r in rows:
        cut = (f" (after the cut: {r['nme_after_cut']:.2f}, GT boxes {r['gt_boxes_nme_after_cut']:.2f})"
               if 'nme_after_cut' in r else '')
        lines.append(f"| {r['row']} | {r['nme']:.2f}{cut} | " + ' | '.join(f"{r['nme_bins'].get(b, float('nan')):.2f}"
                                                               for b in bins) +
                     f" | {r['jitter']:.2f} | {r['lag_frames']:.1f} | {r['lost']} | {r['id_switches']} | "
                     f"{r['frames_without_face']} | {r.get('detections_per_frame', float('nan')):.2f} | "
                     f"{r.get('fps', float('nan')):.1f} |")
    text = '\n'.join(lines)
    print(text)
    if args.out:
        write_benchmark(args.out, rows, config=args.config, checkpoint=args.checkpoint, data_root=args.data_root,
                        videos=len(vids), frames=[len(g) for g in gts], interval=args.interval, device=args.device)
    if args.markdown:
        os.makedirs(osp.dirname(osp.abspath(args.markdown)), exist_ok=True)
        with open(args.markdown, 'w') as f:
            f.write(text + '\n')


if __name__ == '__main__':
    main()
