# Copyright (c) mmfacealign contributors. All rights reserved.
"""projects/srn_video/demo/video_demo.py on a short generated clip: a playable annotated video, the per-frame
json, the errors."""
import json
import os.path as osp
import sys

import cv2
import numpy as np
import pytest
import torch
from srn_video.apis import landmark_box, track_video
from test_srn_video_tracker import CONFIG, render_clip, tiny_srn

sys.path.insert(0, osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'test_tools'))
from e2e_utils import load_tool  # noqa: E402

_demo = load_tool('projects/srn_video/demo/video_demo.py')
EXIT_NO_FACE, EXIT_NOT_SRN, EXIT_VIDEO_UNREADABLE = _demo.EXIT_NO_FACE, _demo.EXIT_NOT_SRN, _demo.EXIT_VIDEO_UNREADABLE
count_frames, main = _demo.count_frames, _demo.main


def write_video(path: str, frames, fps: float = 10.0) -> str:
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*'MJPG'), fps, (w, h))
    for frame in frames:
        writer.write(frame)
    writer.release()
    assert count_frames(path) == len(frames)
    return path


def read_video(path: str):
    cap = cv2.VideoCapture(path)
    frames = []
    ok, frame = cap.read()
    while ok:
        frames.append(frame)
        ok, frame = cap.read()
    cap.release()
    return frames


@pytest.fixture(scope='module')
def clip_and_checkpoint(tmp_path_factory):
    root = tmp_path_factory.mktemp('video_demo')
    frames, pts = render_clip(6)
    video = write_video(str(root / 'clip.avi'), frames)
    model = tiny_srn()
    ckpt = str(root / 'srn_tiny.pth')
    torch.save(dict(state_dict=model.state_dict(), meta=dict(dataset_meta=model.dataset_meta)), ckpt)
    return root, video, ckpt, model, landmark_box(pts[0])


def test_demo_writes_a_playable_video_and_json(clip_and_checkpoint, capsys):
    root, video, ckpt, model, box = clip_and_checkpoint
    out = str(root / 'tracked.mp4')
    summary = main([video, CONFIG, ckpt, '--out-video', out, '--bbox', *map(str, box)])
    assert count_frames(out) == 6                                  # reopens with OpenCV, every frame
    assert cv2.VideoCapture(out).read()[1].shape == (128, 128, 3)
    printed = capsys.readouterr().out
    assert 'fps model' in printed and 'fps total' in printed and summary['frames'] == 6
    with open(str(root / 'tracked.json')) as f:
        data = json.load(f)
    assert [r['frame_index'] for r in data['frames']] == list(range(6))
    assert [r['reinitialised'] for r in data['frames']] == [True] + [False] * 5
    assert set(data['frames'][0]) == {'frame_index', 'keypoints', 'bbox', 'lost', 'reinitialised', 'valid', 'reason'}
    np.testing.assert_allclose(data['frames'][0]['bbox'], box)
    # the json holds the tracker's results on the decoded frames (the checkpoint's weights)
    expected = track_video(model, read_video(video), bbox=box)
    np.testing.assert_allclose(np.array([r['keypoints'] for r in data['frames']]),
                               np.stack([r['keypoints'] for r in expected]), atol=1e-3)
    # an .avi (MJPG) output, cut at 3 frames
    out_avi = str(root / 'tracked3.avi')
    assert main([video, CONFIG, ckpt, '--out-video', out_avi, '--bbox', *map(str, box), '--max-frames', '3',
                 '--init', 'previous'])['frames'] == 3
    assert count_frames(out_avi) == 3


def test_demo_errors(clip_and_checkpoint, capsys):
    root, video, ckpt, _, box = clip_and_checkpoint
    out = str(root / 'err.mp4')
    missing = str(root / 'missing.mp4')
    with pytest.raises(SystemExit) as e:
        main([missing, CONFIG, ckpt, '--out-video', out])
    assert e.value.code == EXIT_VIDEO_UNREADABLE and f'cannot read video {missing!r}' in capsys.readouterr().err
    garbage = root / 'garbage.mp4'
    garbage.write_text('not a video')
    with pytest.raises(SystemExit) as e:
        main([str(garbage), CONFIG, ckpt, '--out-video', out])
    assert e.value.code == EXIT_VIDEO_UNREADABLE
    blank = write_video(str(root / 'blank.avi'), [np.full((128, 128, 3), 127, np.uint8)] * 2)
    with pytest.raises(SystemExit) as e:
        main([blank, CONFIG, ckpt, '--out-video', out])
    assert e.value.code == EXIT_NO_FACE and 'pass its box with --bbox' in capsys.readouterr().err
    baseline = 'configs/baselines/td-reg_res18-w32_1xb64-15e_synthface-128x128.py'
    with pytest.raises(SystemExit) as e:
        main([video, baseline, ckpt, '--out-video', out, '--bbox', *map(str, box)])
    err = capsys.readouterr().err
    assert e.value.code == EXIT_NOT_SRN and baseline in err and "'RegressionHead'" in err
