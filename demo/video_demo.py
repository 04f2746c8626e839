# Copyright (c) mmfacealign contributors. All rights reserved.
"""Face-landmark demo on a video, a webcam or a stream: every face tracked (FaceTracker), drawn and saved.

    python demo/video_demo.py INPUT                      # the default real-photo model
    python demo/video_demo.py INPUT [CONFIG CHECKPOINT] [--out-video out.mp4] [--out-json out.jsonl]
        [--show | --no-show] [--detector default|mtcnn|haar|lbp] [--redetect-interval 10] [--max-faces N]
        [--smooth | --no-smooth] [--min-cutoff 1.0] [--beta 0.5] [--max-frames N] [--device cpu]

INPUT is a video file, a camera index (``0`` for the first webcam) or a stream URL (``rtsp://``, ``http://``,
anything OpenCV's ``VideoCapture`` opens). Every face is tracked (mmfacealign.apis.FaceTracker: the detector on the
first frame, every --redetect-interval frames and when a track is lost; tracks continue from their own landmarks
in between, associated to detections by box overlap, so each face keeps its track id), and its landmarks are
smoothed by the One-Euro filter (--min-cutoff Hz: the smoothing of a still face, lower is smoother; --beta: how
fast the smoothing lets go when the face moves, higher is less lag; --no-smooth: the model's raw output).

Outputs: --out-video (the frames with landmarks in red, face boxes in white, track ids; .mp4: mp4v, .avi: MJPG;
default for a file INPUT: ``demo_results/<name>_tracked.mp4``), --out-json (JSON Lines: one object per frame,
written as it is made, so a live stream's file is valid at any moment:
``{"frame_index", "time", "detected", "faces": [{"track_id", "bbox", "score", "keypoints", "keypoint_scores"
[, "keypoints_occluded"]}], "lost": [{"track_id", "reason"}]}``), and a live window (--show; the default for a
camera or stream when a display exists; q or Esc stops). A camera or stream runs until it ends, --max-frames, or
the window is closed.

Exit codes: 0 done; 2 bad arguments; 3 the input cannot be opened or gives no frame; 5 the checkpoint does not
match the config; 6 the detector or backend is not available; 7 the output video cannot be written.
"""
import argparse
import json
import os
import os.path as osp
import sys
import time
from typing import Optional

import numpy as np

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import mmfacealign  # noqa: E402,F401
from mmfacealign.apis.face_detectors import DetectorUnavailable, detector_names  # noqa: E402
from mmfacealign.apis.inference import EXIT_CHECKPOINT_MISMATCH, CheckpointMismatchError  # noqa: E402
from mmfacealign.utils.cli import ToolError, run_tool  # noqa: E402

EXIT_UNREADABLE = 3
EXIT_BAD_CHECKPOINT = EXIT_CHECKPOINT_MISMATCH
EXIT_UNAVAILABLE = 6
EXIT_OUTPUT = 7


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('input', help='video file, camera index (0) or stream URL')
    p.add_argument('config', nargs='?')
    p.add_argument('checkpoint', nargs='?')
    p.add_argument('--out-video')
    p.add_argument('--out-json')
    show = p.add_mutually_exclusive_group()
    show.add_argument('--show', dest='show', action='store_true', default=None)
    show.add_argument('--no-show', dest='show', action='store_false')
    p.add_argument('--detector', default='default')
    p.add_argument('--min-face-size', type=int, default=24)
    p.add_argument('--redetect-interval', type=int, default=10)
    p.add_argument('--max-faces', type=int)
    smooth = p.add_mutually_exclusive_group()
    smooth.add_argument('--smooth', dest='smooth', action='store_true', default=True)
    smooth.add_argument('--no-smooth', dest='smooth', action='store_false')
    p.add_argument('--min-cutoff', type=float, default=None, help='One-Euro cutoff at rest (Hz)')
    p.add_argument('--beta', type=float, default=None, help='One-Euro speed coefficient')
    p.add_argument('--fps', type=float, help='frame rate for the smoothing (default: the input\'s, else 30)')
    p.add_argument('--max-frames', type=int)
    p.add_argument('--device', default='cpu')
    return p.parse_args(argv)


def source_of(text: str):
    """A camera index (int) for a string of digits, else the path or URL itself."""
    return int(text) if text.isdigit() else text


def is_live(source) -> bool:
    return isinstance(source, int) or '://' in str(source)


def open_capture(source):
    """``cv2.VideoCapture`` of a camera index, file or URL (tests replace this with a fake capture)."""
    import cv2
    return cv2.VideoCapture(source)


def display_available() -> bool:
    return bool(os.environ.get('DISPLAY') or os.environ.get('WAYLAND_DISPLAY')) or sys.platform in ('win32',
                                                                                                     'darwin')


def draw_tracks(frame: np.ndarray, result: dict, dataset_meta: Optional[dict] = None) -> np.ndarray:
    """The frame (BGR) with each tracked face drawn (draw_faces) and its track id above its box."""
    import cv2

    from mmfacealign.apis import draw_faces
    faces = [dict(f, bbox=f['bbox']) for f in result['faces']]
    out = draw_faces(frame, faces, dataset_meta=dataset_meta)
    for f in result['faces']:
        x1, y1 = int(f['bbox'][0]), int(max(12, f['bbox'][1] - 4))
        cv2.putText(out, f"id {f['track_id']}", (x1, y1), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1,
                    cv2.LINE_AA)
    return out


def frame_json(result: dict) -> dict:
    faces = []
    for f in result['faces']:
        face = dict(track_id=int(f['track_id']), bbox=[round(float(v), 2) for v in f['bbox']],
                    score=round(float(f['score']), 4),
                    keypoints=np.round(np.asarray(f['keypoints'], np.float64), 2).tolist(),
                    keypoint_scores=np.round(np.asarray(f['keypoint_scores'], np.float64), 4).tolist())
        if 'keypoints_occluded' in f:
            face['keypoints_occluded'] = np.round(np.asarray(f['keypoints_occluded'], np.float64), 4).tolist()
        faces.append(face)
    return dict(frame_index=int(result['frame_index']), time=round(float(result['t']), 4),
                detected=bool(result['detected']), faces=faces, lost=result['lost'])


def run(args) -> dict:
    import cv2

    from mmfacealign.apis import DEFAULT_SMOOTHING, FaceTracker, load_aligner
    source = source_of(args.input)
    live = is_live(source)
    if not live and not osp.isfile(str(source)):
        raise ToolError(EXIT_UNREADABLE, f'{source}: no such video file (a camera is a number, e.g. 0)')
    if (args.config is None) != (args.checkpoint is None):
        raise ToolError(2, 'give both CONFIG and CHECKPOINT, or neither (the default real-photo model)')
    if args.detector not in ('default', *detector_names()):
        raise ToolError(2, f"--detector: one of default, {', '.join(detector_names())}; got {args.detector!r}")
    if not args.smooth and (args.min_cutoff is not None or args.beta is not None):
        raise ToolError(2, '--min-cutoff / --beta set the smoothing that --no-smooth turns off')
    cap = open_capture(source)
    if not cap.isOpened():
        raise ToolError(EXIT_UNREADABLE, f'cannot open {args.input!r} (camera, file or stream)')
    fps = args.fps or (cap.get(cv2.CAP_PROP_FPS) or 0) or 30.0
    try:
        model = load_aligner(args.config, args.checkpoint, device=args.device)
    except CheckpointMismatchError as e:
        raise ToolError(EXIT_BAD_CHECKPOINT, str(e)) from e
    except FileNotFoundError as e:
        raise ToolError(EXIT_BAD_CHECKPOINT, str(e)) from e
    smoothing = None
    if args.smooth:
        smoothing = dict(DEFAULT_SMOOTHING)
        if args.min_cutoff is not None:
            smoothing['min_cutoff'] = args.min_cutoff
        if args.beta is not None:
            smoothing['beta'] = args.beta
    try:
        tracker = FaceTracker(model, detector=args.detector, redetect_interval=args.redetect_interval,
                              max_faces=args.max_faces, smoothing=smoothing, fps=fps,
                              min_face_size=args.min_face_size)
    except DetectorUnavailable as e:
        raise ToolError(EXIT_UNAVAILABLE, str(e)) from e
    except ValueError as e:
        raise ToolError(2, str(e)) from e
    name = 'camera' if isinstance(source, int) else osp.splitext(osp.basename(str(source).rstrip('/')))[0] or 'stream'
    out_video = args.out_video or (None if live else osp.join('demo_results', f'{name}_tracked.mp4'))
    out_json = args.out_json or (osp.splitext(out_video)[0] + '.jsonl' if out_video else None)
    show = display_available() and live if args.show is None else args.show
    writer, json_file = None, None
    if out_json:
        os.makedirs(osp.dirname(osp.abspath(out_json)), exist_ok=True)
        json_file = open(out_json, 'w')
    summary = dict(frames=0, faces=0, tracks=set(), lost=0, out_video=out_video, out_json=out_json)
    start = time.perf_counter()
    try:
        while args.max_frames is None or summary['frames'] < args.max_frames:
            ok, frame = cap.read()
            if not ok or frame is None:
                break
            t = summary['frames'] / fps
            result = tracker.step(frame, t=t)
            result['t'] = t
            drawn = draw_tracks(frame, result, getattr(model, 'dataset_meta', None))
            if out_video and writer is None:
                os.makedirs(osp.dirname(osp.abspath(out_video)), exist_ok=True)
                fourcc = cv2.VideoWriter_fourcc(*('MJPG' if out_video.lower().endswith('.avi') else 'mp4v'))
                writer = cv2.VideoWriter(out_video, fourcc, fps, (frame.shape[1], frame.shape[0]))
                if not writer.isOpened():
                    raise ToolError(EXIT_OUTPUT, f'{out_video}: cannot write a video there')
            if writer is not None:
                writer.write(drawn)
            if json_file is not None:
                json_file.write(json.dumps(frame_json(result)) + '\n')
                json_file.flush()
            summary['frames'] += 1
            summary['faces'] += len(result['faces'])
            summary['tracks'].update(f['track_id'] for f in result['faces'])
            summary['lost'] += len(result['lost'])
            if show:
                cv2.imshow('mmfacealign video demo (q: quit)', drawn)
                if cv2.waitKey(1) & 0xFF in (ord('q'), 27):
                    break
    finally:
        cap.release()
        if writer is not None:
            writer.release()
        if json_file is not None:
            json_file.close()
        if show:
            cv2.destroyAllWindows()
    if summary['frames'] == 0:
        raise ToolError(EXIT_UNREADABLE, f'{args.input!r} gave no frame')
    seconds = time.perf_counter() - start
    summary['tracks'] = len(summary['tracks'])
    summary['fps'] = summary['frames'] / seconds
    print(f"video_demo: {summary['frames']} frames, {summary['tracks']} track(s), {summary['lost']} lost, "
          f"{summary['fps']:.1f} fps" + (f' -> {out_video}' if out_video else '')
          + (f', {out_json}' if out_json else ''))
    return summary


def main(argv: Optional[list] = None) -> dict:
    return run_tool('video_demo', run, parse_args(argv))


if __name__ == '__main__':
    main()
