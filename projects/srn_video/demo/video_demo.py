# Copyright (c) mmfacealign contributors. All rights reserved.
"""Face-tracking demo on a video: track one face with SRN, its RNN state carried from frame to frame (SRN Eq. 13).

    python projects/srn_video/demo/video_demo.py VIDEO CONFIG CHECKPOINT --out-video tracked.mp4
        [--out-json tracked.json]
        [--bbox X1 Y1 X2 Y2] [--init mean|previous] [--redetect] [--device cpu] [--max-frames N]

The face of the first frame is given with --bbox, or found by the image demo's default detector (MTCNN, see
``mmfacealign/apis/face_detectors.py``, ``mmfacealign.apis.detect_faces``; the largest face). Every
later frame is cropped around the previous frame's landmark box; a lost track
(projects/srn_video/srn_video/apis/tracker.py states the rule; --max-outside, --max-scale-change and --min-iou set
it) restarts from the detector (without --bbox, or with --redetect) or from the --bbox box. No flip test is applied
while tracking.

Writes the annotated video (landmarks in red, the face box the frame was cropped from in white, yellow on frames
that start a new track, with the frame's flags) and a json with, per frame: frame_index, keypoints (N x [x, y],
null where no face was found), bbox (xyxy), lost, reinitialised, valid, reason. The written video is read back
with OpenCV: it must reopen and hold every frame. Prints a progress bar and the frames per second (model time
alone and the whole loop: reading, tracking, drawing, writing).

The models of mmfacealign's SynthFace configs only see synthetic faces; use a model trained on 300W / 300VW for
real videos.

Exit codes: 0 done; 2 bad arguments (argparse); 3 the video cannot be read; 4 no face found in the first frame
(pass --bbox); 5 the config's head is not SRNHead; 6 the output video cannot be written or does not play back.
"""
import argparse
import json
import os
import os.path as osp
import sys
import time
from dataclasses import asdict

import numpy as np

_PROJECT = osp.dirname(osp.dirname(osp.abspath(__file__)))       # projects/srn_video: the srn_video package
sys.path[:0] = [_PROJECT, osp.dirname(osp.dirname(_PROJECT))]   # and the repository (mmfacealign)

import mmfacealign  # noqa: E402,F401
from mmfacealign.apis import detect_faces  # noqa: E402
from mmfacealign.utils.cli import ToolError, run_tool  # noqa: E402
from mmfacealign.visualization import FaceAlignmentVisualizer  # noqa: E402

EXIT_VIDEO_UNREADABLE = 3
EXIT_NO_FACE = 4
EXIT_NOT_SRN = 5
EXIT_OUTPUT_UNPLAYABLE = 6


DemoError = ToolError      # a failure with its exit code (mmfacealign.utils.cli), shared with the image demo


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('video')
    p.add_argument('config')
    p.add_argument('checkpoint')
    p.add_argument('--out-video', required=True, help='annotated video (.mp4: mp4v, .avi: MJPG)')
    p.add_argument('--out-json', help='per-frame results (default: the video path with .json)')
    p.add_argument('--bbox', type=float, nargs=4, metavar=('X1', 'Y1', 'X2', 'Y2'),
                   help='face box of the first frame (pixels); default: the image demo\'s default detector')
    p.add_argument('--init', choices=('mean', 'previous'), default='mean',
                   help="initial shape of each frame: the mean shape in the box (the paper's) or the previous shape")
    p.add_argument('--redetect', action='store_true',
                   help='with --bbox: restart lost tracks from the detector instead of the --bbox box')
    p.add_argument('--max-outside', type=float, default=0.5, help='lost: share of the landmark box off the image')
    p.add_argument('--max-scale-change', type=float, default=1.5, help='lost: box size factor between frames')
    p.add_argument('--min-iou', type=float, default=0.3, help='lost: IoU of the box with the previous box')
    p.add_argument('--max-frames', type=int, default=None, help='stop after this many frames')
    p.add_argument('--fourcc', default=None, help='four-character codec (default mp4v, MJPG for .avi)')
    p.add_argument('--device', default='cpu')
    return p.parse_args(argv)


def check_srn_config(config: str) -> None:
    """Exit with EXIT_NOT_SRN unless the config's model head is ``SRNHead``."""
    from mmengine.config import Config
    head = Config.fromfile(config).model.get('head', {}) or {}
    if head.get('type') != 'SRNHead':
        raise DemoError(EXIT_NOT_SRN, f'{config}: model.head.type is {head.get("type")!r}; the tracker needs an SRN '
                                      'model (SRNHead, e.g. configs/srn/)')


def draw_frame(vis: FaceAlignmentVisualizer, frame_bgr: np.ndarray, result: dict) -> np.ndarray:
    """The frame (BGR) with the prediction, the face box and the frame's flags drawn."""
    drawn = frame_bgr[..., ::-1].copy()
    keypoints = result['keypoints']
    if np.isfinite(keypoints).all():
        drawn = vis.draw_landmarks(drawn, None, keypoints)
    vis.set_image(drawn)
    if result['bbox'] is not None:
        colour = (255, 255, 0) if result['reinitialised'] else (255, 255, 255)
        vis.draw_bboxes(np.asarray(result['bbox']).reshape(1, 4), edge_colors=colour)
    flags = [name for name in ('lost', 'reinitialised') if result[name]] + ([] if result['valid'] else ['invalid'])
    vis.draw_texts(f'{result["frame_index"]} ' + ' '.join(flags), np.array([2, 2]), font_sizes=8,
                   colors=(255, 255, 255))
    return vis.get_image()[..., ::-1]


def count_frames(path: str) -> int:
    """Frames OpenCV reads back from ``path`` (0 when it does not open)."""
    import cv2
    cap = cv2.VideoCapture(path)
    n = 0
    while cap.isOpened():
        ok, _ = cap.read()
        if not ok:
            break
        n += 1
    cap.release()
    return n


def _jsonable(result: dict) -> dict:
    kp = result['keypoints']
    return dict(
        frame_index=result['frame_index'],
        keypoints=[[float(x), float(y)] for x, y in kp] if np.isfinite(kp).all() else None,
        bbox=None if result['bbox'] is None else [float(v) for v in result['bbox']],
        lost=result['lost'], reinitialised=result['reinitialised'], valid=result['valid'], reason=result['reason'])


def main(argv=None) -> dict:
    return run_tool('video_demo', run, parse_args(argv))


def run(args) -> dict:
    import cv2
    from mmengine.utils import ProgressBar
    from srn_video.apis import SRNTracker

    from mmfacealign.apis import init_model

    check_srn_config(args.config)
    cap = cv2.VideoCapture(args.video) if osp.isfile(args.video) else None
    ok, first = cap.read() if cap is not None and cap.isOpened() else (False, None)
    if not ok:
        raise DemoError(EXIT_VIDEO_UNREADABLE, f'cannot read video {args.video!r} (no such file, not a video, or '
                                               'no frames OpenCV can decode)')
    fps_in = cap.get(cv2.CAP_PROP_FPS) or 25.0
    total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    if args.max_frames is not None:
        total = min(total, args.max_frames) if total > 0 else args.max_frames

    if args.bbox is not None:
        box = np.asarray(args.bbox, np.float64)
    else:
        boxes = detect_faces(first)
        if len(boxes) == 0:
            raise DemoError(EXIT_NO_FACE, f'no face found in the first frame of {args.video}; pass its box with '
                                          '--bbox X1 Y1 X2 Y2')
        box = boxes[0].astype(np.float64)

    model = init_model(args.config, args.checkpoint, device=args.device)
    reinit = dict(max_outside=args.max_outside, max_scale_change=args.max_scale_change, min_iou=args.min_iou)
    use_detector = args.bbox is None or args.redetect
    tracker = SRNTracker(model, init=args.init, reinit=reinit, detector=detect_faces if use_detector else None,
                         bbox=box)

    h, w = first.shape[:2]
    fourcc = args.fourcc or ('MJPG' if args.out_video.lower().endswith('.avi') else 'mp4v')
    os.makedirs(osp.dirname(osp.abspath(args.out_video)), exist_ok=True)
    writer = cv2.VideoWriter(args.out_video, cv2.VideoWriter_fourcc(*fourcc), fps_in, (w, h))
    if not writer.isOpened():
        raise DemoError(EXIT_OUTPUT_UNPLAYABLE, f'cannot write {args.out_video!r} with codec {fourcc}')

    vis = FaceAlignmentVisualizer(name='video_demo')
    progress = ProgressBar(total, file=sys.stdout)
    results = []
    start = time.perf_counter()
    frame = first
    while ok and (args.max_frames is None or len(results) < args.max_frames):
        index = len(results)
        result = dict(frame_index=index, **tracker.step(frame, bbox=box if index == 0 else None))
        results.append(result)
        writer.write(np.ascontiguousarray(draw_frame(vis, frame, result)))
        progress.update()
        ok, frame = cap.read()
    writer.release()
    cap.release()
    wall = time.perf_counter() - start
    print()

    written = count_frames(args.out_video)
    if written != len(results):
        raise DemoError(EXIT_OUTPUT_UNPLAYABLE, f'{args.out_video} does not play back: OpenCV reads {written} of '
                                                f'{len(results)} frames (try --fourcc MJPG with an .avi file)')
    model_time = sum(r['time_model'] for r in results)
    summary = dict(
        frames=len(results), lost=sum(r['lost'] for r in results),
        reinitialised=sum(r['reinitialised'] for r in results), invalid=sum(not r['valid'] for r in results),
        fps_model=len(results) / model_time if model_time > 0 else float('inf'), fps_total=len(results) / wall)
    out_json = args.out_json or osp.splitext(args.out_video)[0] + '.json'
    with open(out_json, 'w') as f:
        json.dump(dict(video=args.video, config=args.config, checkpoint=args.checkpoint, init=args.init,
                       reinit=asdict(tracker.rule), fps_input=fps_in, summary=summary,
                       frames=[_jsonable(r) for r in results]), f)
    print(f'video_demo: {summary["frames"]} frames, {summary["lost"]} lost, {summary["reinitialised"]} new tracks; '
          f'{summary["fps_model"]:.1f} fps model, {summary["fps_total"]:.1f} fps total '
          f'-> {args.out_video}, {out_json}')
    return summary


if __name__ == '__main__':
    main()
