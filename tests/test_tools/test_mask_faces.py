# Copyright (c) mmfacealign contributors. All rights reserved.
"""tools/dataset_converters/mask_faces.py: a masked copy of a 68-point set, equal to the on-the-fly transform."""
import json
import os.path as osp
import subprocess
import sys

import cv2
import numpy as np

from mmfacealign.datasets.synthface.mean_shape import template_shape
from mmfacealign.datasets.transforms import FaceMaskOcclusion


def _dataset(root):
    pts = (template_shape() - template_shape().mean(0)) * 40 + 100
    img = np.full((200, 200, 3), 120, np.uint8)
    cv2.imwrite(osp.join(root, 'face.png'), img)
    kpts = np.concatenate([pts, np.full((68, 1), 2.)], 1).ravel().tolist()
    coco = dict(images=[dict(id=5, file_name='face.png', width=200, height=200)],
                annotations=[dict(id=1, image_id=5, keypoints=kpts, bbox=[40, 60, 120, 100], num_keypoints=68)],
                categories=[dict(id=1, name='face')])
    with open(osp.join(root, 'ann.json'), 'w') as f:
        json.dump(coco, f)
    return img, pts


def test_mask_faces_writes_masked_images_and_flags(repo_root, tmp_path):
    img, pts = _dataset(str(tmp_path))
    out = tmp_path / 'out'
    r = subprocess.run([sys.executable, 'tools/dataset_converters/mask_faces.py', str(tmp_path / 'ann.json'),
                        str(tmp_path), str(out), '--seed', '3'], cwd=repo_root, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    with open(out / 'annotations' / 'ann.json') as f:
        ann = json.load(f)['annotations'][0]
    expected = FaceMaskOcclusion(seed=3)(dict(img=img, keypoints=pts[None], img_id=5,
                                              keypoints_occluded=np.zeros((1, 68), np.float32)))
    assert ann['occluded'] == expected['keypoints_occluded'][0].astype(int).tolist() and sum(ann['occluded']) > 20
    written = cv2.imread(str(out / 'images' / 'face.png'))
    np.testing.assert_array_equal(written, expected['img'])              # PNG: lossless, same drawing


def test_mask_faces_refuses_other_layouts(repo_root, tmp_path):
    with open(tmp_path / 'ann.json', 'w') as f:
        json.dump(dict(images=[dict(id=1, file_name='x.png')], annotations=[
            dict(id=1, image_id=1, keypoints=[0] * 29 * 3)]), f)
    cv2.imwrite(str(tmp_path / 'x.png'), np.zeros((8, 8, 3), np.uint8))
    r = subprocess.run([sys.executable, 'tools/dataset_converters/mask_faces.py', str(tmp_path / 'ann.json'),
                        str(tmp_path), str(tmp_path / 'out')], cwd=repo_root, capture_output=True, text=True)
    assert r.returncode != 0 and 'annotation id 1 has 29 keypoints' in r.stderr
    assert not (tmp_path / 'out' / 'annotations').exists()                 # nothing half-written
