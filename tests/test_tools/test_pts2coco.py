# Copyright (c) mmfacealign contributors. All rights reserved.
import json
import os.path as osp
import subprocess
import sys

import cv2
import numpy as np
import pytest

from mmfacealign.datasets.pts_io import landmark_box, pts_folder_to_coco, read_pts


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
    pts = np.array([[10.0, 20.0], [30.0, 60.0]])
    np.testing.assert_allclose(landmark_box(pts), [10, 20, 20, 40])
    np.testing.assert_allclose(landmark_box(pts, 0.1), [8, 16, 24, 48])


def test_folder_conversion_shifts_to_zero_based_and_loads(pts_folder, tmp_path):
    root, truth = pts_folder
    coco = pts_folder_to_coco(root, margin=0.0)
    assert [im['file_name'] for im in coco['images']] == ['a.png', 'sub/b.png', 'sub/c.png']
    for im, ann in zip(coco['images'], coco['annotations']):
        kpts = np.array(ann['keypoints']).reshape(-1, 3)
        np.testing.assert_allclose(kpts[:, :2], truth[im['file_name']], atol=2e-3)
        assert (kpts[:, 2] == 2).all() and im['width'] == im['height'] == 128
        assert ann['scale'] == pytest.approx(max(ann['bbox'][2:]) / 200, abs=1e-5)
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
