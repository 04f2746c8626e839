# Copyright (c) mmfacealign contributors. All rights reserved.
"""demo/video_demo.py: a webcam (camera index 0) through a fake capture, with the default real-photo model and a
detector that returns the rendered face's box: per-frame JSON Lines with a track id, the written video reopens
with every frame; a file that does not exist and a capture that does not open are named."""
import importlib.util
import json
import os.path as osp

import cv2
import numpy as np
import pytest

from mmfacealign.datasets.synthface.shape_model import load_pdm
from mmfacealign.datasets.synthface.video import SynthFaceVideoConfig, generate_video
from mmfacealign.utils.boxes import landmark_box


def demo_module(repo_root):
    spec = importlib.util.spec_from_file_location('video_demo', osp.join(repo_root, 'demo', 'video_demo.py'))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


class FakeCapture:
    """What cv2.VideoCapture(0) gives a program: read() -> (ok, BGR frame) until the frames run out."""

    def __init__(self, frames, opened=True):
        self.frames, self.i, self.opened, self.released = frames, 0, opened, False

    def isOpened(self):
        return self.opened

    def get(self, prop):
        return 25.0 if prop == cv2.CAP_PROP_FPS else 0.0

    def read(self):
        if self.i >= len(self.frames):
            return False, None
        self.i += 1
        return True, self.frames[self.i - 1]

    def release(self):
        self.released = True


@pytest.fixture(scope='module')
def clip():
    frames, anns = generate_video(SynthFaceVideoConfig(frames=8, num_videos_test=1), load_pdm('builtin'), 'test', 0)
    return frames, [a['keypoints'] for a in anns]


def test_webcam_input_through_a_fake_capture(repo_root, tmp_path, monkeypatch, clip):
    import mmfacealign.apis.face_detectors as face_detectors
    demo = demo_module(repo_root)
    frames, points = clip
    cap = FakeCapture(frames)
    opened = []
    monkeypatch.setattr(demo, 'open_capture', lambda source: opened.append(source) or cap)
    calls = []

    def detector(frame):                          # the face's box on the frame the tracker asks about
        calls.append(len(calls))
        index = next(i for i, f in enumerate(frames) if f is frame)
        return landmark_box(points[index])[None]
    monkeypatch.setattr(face_detectors, 'build_detector', lambda *a, **k: detector)
    out_video, out_json = str(tmp_path / 'cam.avi'), str(tmp_path / 'cam.jsonl')
    summary = demo.main(['0', '--out-video', out_video, '--out-json', out_json, '--no-show',
                         '--redetect-interval', '4', '--detector', 'haar'])
    assert opened == [0] and cap.released                      # '0' is the first camera, released at the end
    assert summary['frames'] == 8 and summary['tracks'] == 1 and summary['lost'] == 0
    lines = [json.loads(line) for line in open(out_json)]
    assert [r['frame_index'] for r in lines] == list(range(8))
    assert [r['detected'] for r in lines] == [True, False, False, False, True, False, False, False]
    assert len(calls) == 2
    for r, pts in zip(lines, points):
        (face, ) = r['faces']
        assert face['track_id'] == 0 and len(face['keypoints']) == 68
        # the default model is not trained on this face style; the landmarks must still lie on the face
        assert np.abs(np.mean(face['keypoints'], 0) - pts.mean(0)).max() < 0.25 * np.ptp(pts, 0).max()
    assert lines[1]['time'] == pytest.approx(1 / 25)            # the capture's frame rate
    video = cv2.VideoCapture(out_video)
    assert int(video.get(cv2.CAP_PROP_FRAME_COUNT)) == 8
    ok, first = video.read()
    assert ok and first.shape == frames[0].shape


def test_bad_inputs_are_named(repo_root, tmp_path, monkeypatch, capsys):
    demo = demo_module(repo_root)
    with pytest.raises(SystemExit) as e:
        demo.main([str(tmp_path / 'missing.mp4')])
    assert e.value.code == 3 and 'missing.mp4: no such video file' in capsys.readouterr().err
    monkeypatch.setattr(demo, 'open_capture', lambda source: FakeCapture([], opened=False))
    with pytest.raises(SystemExit) as e:
        demo.main(['rtsp://camera.local/stream'])
    assert e.value.code == 3 and "cannot open 'rtsp://camera.local/stream'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        demo.main(['0', '--no-smooth', '--beta', '2'])
    assert e.value.code == 2 and '--no-smooth' in capsys.readouterr().err
