# Copyright (c) mmfacealign contributors. All rights reserved.
"""RandomRectangleOcclusion: SCDF's random-rectangle occlusion (SCDF's official training recipe)."""
import numpy as np
import pytest
from mmpose.registry import TRANSFORMS
from mmpose.utils import register_all_modules

from mmfacealign.datasets import SynthFaceDataset
from mmfacealign.datasets.transforms import RandomRectangleOcclusion


def _results(size=256, seed=0):
    rng = np.random.default_rng(seed)
    img = np.full((size, size, 3), 7, dtype=np.uint8)
    kpts = rng.uniform(0, size, size=(1, 40, 2)).astype(np.float32)
    return dict(img=img, transformed_keypoints=kpts, keypoints_occluded=np.zeros((1, 40), np.float32))


def test_rectangle_geometry_colour_and_occlusion_flags():
    np.random.seed(0)
    t = RandomRectangleOcclusion(prob=1.)
    inside_seen = 0
    for _ in range(50):
        res = t(_results())
        x1, y1, x2, y2 = res['occlusion_bbox']
        changed = (res['img'] != 7).any(-1)
        # exactly the rectangle is painted, with one colour
        assert len(np.unique(res['img'][y1:y2, x1:x2].reshape(-1, 3), axis=0)) == 1
        changed[y1:y2, x1:x2] = False
        assert not changed.any()
        w, h = x2 - x1, y2 - y1
        if 0 < x1 and 0 < y1 and x2 < 256 and y2 < 256:           # not clipped: 20% of the area, aspect in range
            assert abs(w * h / 256 ** 2 - 0.2) < 0.01
            assert 0.4 - 0.02 <= w / h <= 2.5 + 0.05
        k = res['transformed_keypoints'][0]
        inside = (k[:, 0] >= x1) & (k[:, 0] < x2) & (k[:, 1] >= y1) & (k[:, 1] < y2)
        np.testing.assert_array_equal(res['keypoints_occluded'][0], inside.astype(np.float32))
        inside_seen += inside.sum()
    assert inside_seen > 0


def test_probability_and_random_colours():
    np.random.seed(1)
    t = RandomRectangleOcclusion()                                   # p = 0.5
    applied, colours = 0, set()
    for _ in range(400):
        res = t(_results(size=32))
        if res['occlusion_bbox'] is not None:
            applied += 1
            x1, y1 = res['occlusion_bbox'][:2]
            colours.add(tuple(res['img'][y1, x1]))
        else:
            assert (res['img'] == 7).all() and not res['keypoints_occluded'].any()
    assert 160 < applied < 240
    assert len(colours) > 100                                        # uniform random RGB


def test_fixed_colour_grey_image_and_errors():
    np.random.seed(2)
    res = RandomRectangleOcclusion(prob=1., color=(0, 255, 0))(dict(img=np.zeros((64, 64, 3), np.uint8)))
    x1, y1 = res['occlusion_bbox'][:2]
    assert tuple(res['img'][y1, x1]) == (0, 255, 0) and 'keypoints_occluded' not in res
    grey = RandomRectangleOcclusion(prob=1., color=(200, ))(dict(img=np.zeros((64, 64), np.uint8)))
    assert grey['img'].max() == 200
    # a fixed 3-value colour on grayscale images (2-D or one channel): the mean of the three values
    for img in (np.zeros((64, 64), np.uint8), np.zeros((64, 64, 1), np.uint8)):
        np.random.seed(3)
        out = RandomRectangleOcclusion(prob=1., color=(30, 60, 90))(dict(img=img))
        assert out['img'].shape == img.shape and set(np.unique(out['img'])) == {0, 60}
    np.random.seed(3)
    rgba = RandomRectangleOcclusion(prob=1., color=7)(dict(img=np.zeros((64, 64, 4), np.uint8)))
    assert set(np.unique(rgba['img'])) == {0, 7}
    np.random.seed(3)
    bgra = RandomRectangleOcclusion(prob=1., color=(1, 2, 3))(dict(img=np.zeros((64, 64, 4), np.uint8)))
    x1, y1 = bgra['occlusion_bbox'][:2]
    assert tuple(bgra['img'][y1, x1]) == (1, 2, 3, 255)                   # opaque alpha
    with pytest.raises(ValueError, match='2 values but the image has 3 channels'):
        RandomRectangleOcclusion(prob=1., color=(1, 2))(dict(img=np.zeros((64, 64, 3), np.uint8)))
    for kwargs, match in [(dict(prob=1.5), 'prob'), (dict(area_ratio=0), 'area_ratio'),
                          (dict(aspect_range=(2., 1.)), 'aspect_range'), (dict(color='blue'), 'color')]:
        with pytest.raises(ValueError, match=match):
            RandomRectangleOcclusion(**kwargs)


def test_in_topdown_pipeline(synthface_root):
    register_all_modules()
    np.random.seed(3)
    pipeline = [
        dict(type='LoadImage'),
        dict(type='GetBBoxCenterScale', padding=1.25),
        dict(type='TopdownAffine', input_size=(128, 128)),
        dict(type='RandomRectangleOcclusion', prob=1.),
        dict(type='GenerateTarget', encoder=dict(type='RegressionLabel', input_size=(128, 128))),
        dict(type='PackPoseInputs', meta_keys=('id', 'img_id', 'img_path', 'input_size', 'flip_indices',
                                                'keypoints_occluded', 'occlusion_bbox')),
    ]
    assert TRANSFORMS.get('RandomRectangleOcclusion') is RandomRectangleOcclusion
    ds = SynthFaceDataset(data_root=synthface_root, ann_file='annotations/synthface_train.json',
                          data_prefix=dict(img='images/'), pipeline=pipeline)
    marked = 0
    for i in range(4):
        sample = ds[i]['data_samples']
        x1, y1, x2, y2 = sample.metainfo['occlusion_bbox']
        assert 0 <= x1 < x2 <= 128 and 0 <= y1 < y2 <= 128
        assert ds[i]['inputs'].shape == (3, 128, 128)
        marked += sample.metainfo['keypoints_occluded'].sum()
        # labels stay supervised
        assert sample.gt_instance_labels.keypoint_weights.shape == (1, 68)
    assert marked > 0
