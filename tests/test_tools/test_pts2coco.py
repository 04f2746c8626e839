# Copyright (c) mmfacealign contributors. All rights reserved.
import json
import os.path as osp
import subprocess
import sys

import cv2
import numpy as np
import pytest

from mmfacealign.datasets.pts_io import pts_folder_to_coco, read_pts
from mmfacealign.utils.boxes import landmark_box


def _write_pts(path, pts):
    with open(path, 'w') as f:
        f.write(f'version: 1\nn_points:  {len(pts)}\n{{\n')
        for x, y in pts:
            f.write(f'{x:.3f} {y:.3f}\n')
        f.write('}\n')


@pytest.fixture
def pts_folder(tmp_path, synthface_root):
    """Three SynthFace images with .pts files in iBUG's 1-based convention, in nested folders."""
    coco = json.load(open(osp.join(synthface_root, 'annotations', 'synthface_test.json')))
    root = tmp_path / 'faces'
    (root / 'sub').mkdir(parents=True)
    truth = {}
    for i, rel in enumerate(['a.png', 'sub/b.png', 'sub/c.png']):
        img = cv2.imread(osp.join(synthface_root, 'images', coco['images'][i]['file_name']))
        cv2.imwrite(str(root / rel), img)
        pts = np.array(coco['annotations'][i]['keypoints']).reshape(-1, 3)[:, :2]
        _write_pts(str(root / rel).replace('.png', '.pts'), pts + 1.0)   # 1-based on disk
        truth[rel] = pts
    cv2.imwrite(str(root / 'unannotated.png'), img)
    return str(root), truth


def test_read_pts_and_errors(tmp_path):
    p = tmp_path / 'x.pts'
    _write_pts(str(p), [[1, 2], [3.5, 4]])
    np.testing.assert_array_equal(read_pts(str(p)), [[1, 2], [3.5, 4]])
    p.write_text('version: 1\nn_points: 3\n{\n1 2\n3 4\n}\n')
    with pytest.raises(ValueError, match=r'x\.pts: n_points says 3 but 2'):
        read_pts(str(p))
    p.write_text('version: 1\nn_points: 1\n{\n1 b\n}\n')
    with pytest.raises(ValueError, match=r'x\.pts, line 4'):
        read_pts(str(p))
    p.write_text('garbage')
    with pytest.raises(ValueError, match='not an iBUG .pts file'):
        read_pts(str(p))


def test_landmark_box_margin():
    """One box convention (xyxy, mmfacealign.utils.boxes); the converter writes COCO's x, y, w, h from it."""
    pts = np.array([[10.0, 20.0], [30.0, 60.0]])
    np.testing.assert_allclose(landmark_box(pts), [10, 20, 30, 60])
    np.testing.assert_allclose(landmark_box(pts, 0.1), [8, 16, 32, 64])


def test_folder_conversion_shifts_to_zero_based_and_loads(pts_folder, tmp_path):
    root, truth = pts_folder
    coco = pts_folder_to_coco(root, margin=0.0)
    assert [im['file_name'] for im in coco['images']] == ['a.png', 'sub/b.png', 'sub/c.png']
    for im, ann in zip(coco['images'], coco['annotations']):
        kpts = np.array(ann['keypoints']).reshape(-1, 3)
        np.testing.assert_allclose(kpts[:, :2], truth[im['file_name']], atol=2e-3)
        assert (kpts[:, 2] == 2).all() and im['width'] == im['height'] == 128
        assert ann['scale'] == pytest.approx(max(ann['bbox'][2:]) / 200, abs=1e-5)
        x, y, w, h = ann['bbox']                              # COCO's x, y, w, h of the landmark extent
        lo, hi = kpts[:, :2].min(0), kpts[:, :2].max(0)
        np.testing.assert_allclose([x, y, x + w, y + h], [*lo, *hi], atol=2e-3)
    keep = pts_folder_to_coco(root, one_based=False)
    shift = np.array(keep['annotations'][0]['keypoints']).reshape(-1, 3)[:, :2] - truth['a.png']
    np.testing.assert_allclose(shift, 1.0, atol=2e-3)

    # the json loads in MMPose's Face300WDataset unchanged
    out = tmp_path / 'ann.json'
    out.write_text(json.dumps(coco))
    from mmpose.datasets import Face300WDataset
    ds = Face300WDataset(data_root='', ann_file=str(out), data_prefix=dict(img=root + '/'), test_mode=True,
                         pipeline=[])
    assert len(ds) == 3
    np.testing.assert_allclose(ds.get_data_info(1)['keypoints'][0], truth['sub/b.png'], atol=2e-3)


def test_cli_and_bad_input(pts_folder, tmp_path, repo_root):
    root, _ = pts_folder
    out = tmp_path / 'out' / 'ann.json'
    tool = osp.join(repo_root, 'tools', 'dataset_converters', 'pts2coco.py')
    r = subprocess.run([sys.executable, tool, root, str(out), '--margin', '0.1', '--num-keypoints', '68'],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert len(json.load(open(out))['annotations']) == 3
    r = subprocess.run([sys.executable, tool, root, str(tmp_path / 'x.json'), '--num-keypoints', '98'],
                       capture_output=True, text=True)
    assert r.returncode != 0 and 'a.pts: 68 points, expected 98' in r.stderr
    assert not (tmp_path / 'x.json').exists()


def test_every_opencv_format_is_paired_and_orphan_pts_are_named(tmp_path, pts_folder):
    """A .ppm (or .tif, .webp, .pgm, upper-case .PNG) beside its .pts is converted; a .pts whose image is absent,
    in a format OpenCV does not read, or undecodable is left out and named in a warning (strict: an error)."""
    root, truth = pts_folder
    img = cv2.imread(osp.join(root, 'a.png'))
    pts = truth['a.png'] + 1.0
    for name in ('p.ppm', 'g.pgm', 't.tif', 'w.webp', 'u.PNG'):
        assert cv2.imwrite(osp.join(root, 'sub', name), img if name != 'g.pgm' else img[..., 0])
        _write_pts(osp.join(root, 'sub', osp.splitext(name)[0] + '.pts'), pts)
    _write_pts(osp.join(root, 'sub', 'lonely.pts'), pts)                 # no image at all
    with open(osp.join(root, 'sub', 'anim.gif'), 'wb') as f:              # a format the loaders do not read
        f.write(b'GIF89a')
    _write_pts(osp.join(root, 'sub', 'anim.pts'), pts)
    with open(osp.join(root, 'broken.jpg'), 'wb') as f:                   # listed extension, undecodable
        f.write(b'not a jpeg')
    _write_pts(osp.join(root, 'broken.pts'), pts)

    with pytest.warns(UserWarning) as caught:
        coco = pts_folder_to_coco(root)
    names = [im['file_name'] for im in coco['images']]
    assert names == ['a.png', 'sub/b.png', 'sub/c.png', 'sub/g.pgm', 'sub/p.ppm', 'sub/t.tif', 'sub/u.PNG',
                     'sub/w.webp']
    assert [ann['id'] for ann in coco['annotations']] == list(range(8)) == [im['id'] for im in coco['images']]
    np.testing.assert_allclose(np.array(coco['annotations'][4]['keypoints']).reshape(-1, 3)[:, :2], truth['a.png'],
                               atol=2e-3)
    assert all(im['width'] == im['height'] == 128 for im in coco['images'])
    [msg] = [str(w.message) for w in caught]
    assert '2 .pts file(s) have no image' in msg and 'sub/anim.pts' in msg and 'sub/lonely.pts' in msg
    assert '1 image(s) cannot be read' in msg and 'broken.jpg' in msg and '.ppm' in msg

    with pytest.raises(FileNotFoundError, match=r'sub/anim\.pts, sub/lonely\.pts.*broken\.jpg'):
        pts_folder_to_coco(root, strict=True)


def test_cli_warns_about_orphans_and_strict_fails(pts_folder, tmp_path, repo_root):
    root, _ = pts_folder
    _write_pts(osp.join(root, 'sub', 'lonely.pts'), [[1, 2], [3, 4]])
    tool = osp.join(repo_root, 'tools', 'dataset_converters', 'pts2coco.py')
    out = tmp_path / 'ann.json'
    r = subprocess.run([sys.executable, tool, root, str(out)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert 'pts2coco: warning:' in r.stderr and 'sub/lonely.pts' in r.stderr
    assert len(json.load(open(out))['annotations']) == 3
    r = subprocess.run([sys.executable, tool, root, str(tmp_path / 'strict.json'), '--strict'],
                       capture_output=True, text=True)
    assert r.returncode != 0 and 'sub/lonely.pts' in r.stderr and not (tmp_path / 'strict.json').exists()


def test_only_orphans_is_an_error(tmp_path):
    _write_pts(str(tmp_path / 'x.pts'), [[1, 2]])
    with pytest.raises(FileNotFoundError, match=r'1 \.pts file\(s\) have no image.*x\.pts'):
        pts_folder_to_coco(str(tmp_path))
