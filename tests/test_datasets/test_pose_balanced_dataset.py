# Copyright (c) mmfacealign contributors. All rights reserved.
"""Pose-based data balancing (SCDF's official training recipe)."""
import json
import os.path as osp

import numpy as np
import pytest
from mmengine.dataset import ClassBalancedDataset, DefaultSampler
from mmpose.registry import DATASETS

from mmfacealign.datasets import PoseBalancedDataset, normalise_shapes, pose_balanced_repeats


def test_repeats_hand_checked():
    # rank-1 shapes: base + t * v, so the first principal component is v and |projection| = |t - mean(t)|
    rng = np.random.default_rng(0)
    base = rng.normal(size=(2, 2))
    v = rng.normal(size=(2, 2))
    v /= np.linalg.norm(v)
    t = np.array([3, -1.5, -1.5, 1.2] + [-0.2] * 6)                       # mean 0
    shapes = base[None] + t[:, None, None] * v[None]
    # |t| in [0.2, 3], 3 bins of width 0.933: [0.2 x6] [1.2, 1.5, 1.5] [3] -> counts 6, 3, 1
    # repeats round(6 / count): 1, 2, 6
    np.testing.assert_array_equal(pose_balanced_repeats(shapes, num_bins=3), [6, 2, 2, 2] + [1] * 6)
    np.testing.assert_array_equal(pose_balanced_repeats(shapes, num_bins=1), [1] * 10)
    with pytest.raises(ValueError, match='num_bins'):
        pose_balanced_repeats(shapes, num_bins=0)


def test_normalise_shapes_invariances():
    rng = np.random.default_rng(1)
    shape = rng.normal(size=(68, 2))
    a = np.deg2rad(30)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    moved = 3. * shape @ rot.T + [40., -7.]
    shapes = np.stack([shape, moved, rng.normal(size=(68, 2))])
    proc = normalise_shapes(shapes, 'procrustes')
    np.testing.assert_allclose(proc[0], proc[1], atol=1e-9)                # similarity removed
    cent = normalise_shapes(shapes, 'centroid')
    np.testing.assert_allclose(cent[1], cent[0] @ rot.T, atol=1e-9)       # rotation kept
    np.testing.assert_allclose(np.sqrt((cent ** 2).sum(-1).mean(-1)), 1.)
    np.testing.assert_array_equal(normalise_shapes(shapes, 'none'), shapes)
    with pytest.raises(ValueError, match='mode must be one of'):
        normalise_shapes(shapes, 'pca')


def test_normalise_shapes_box_frame_is_the_official_default():
    # 'box' (official: PCA in the frame of each face's crop): translation and box size removed, rotation kept
    rng = np.random.default_rng(2)
    shape = rng.uniform(10, 50, size=(68, 2))
    box = np.array([10., 20., 50., 40.])                                   # centre (30, 30), size max(40, 20)
    np.testing.assert_allclose(normalise_shapes(shape[None], boxes=box[None])[0], (shape - 30.) / 40.)
    moved = 2. * shape + [100., -5.]
    moved_box = 2. * box + [100., -5., 100., -5.]
    out = normalise_shapes(np.stack([shape, moved]), 'box', np.stack([box, moved_box]))
    np.testing.assert_allclose(out[0], out[1], atol=1e-12)
    with pytest.raises(ValueError, match="needs boxes"):
        normalise_shapes(shape[None], 'box')


def _synthface(root):
    return dict(type='SynthFaceDataset', data_root=root, ann_file='annotations/synthface_train.json',
                data_prefix=dict(img='images/'), pipeline=[])


def test_wrapper_on_synthface_balances_yaw(synthface_root):
    ds = DATASETS.build(dict(type='PoseBalancedDataset', dataset=_synthface(synthface_root),
                             normalise='procrustes'))
    assert isinstance(ds, ClassBalancedDataset)                           # mmengine's repeat machinery
    base = ds.dataset
    r = ds.repeat_factors
    assert len(r) == len(base) == 192 and len(ds) == int(r.sum()) > len(base)
    assert r.min() == 1 and r.max() > 1
    # index mapping: sample j appears r[j] times, in order
    expected = np.repeat(np.arange(len(base)), r)
    for idx in (0, len(ds) // 2, len(ds) - 1):
        assert ds.get_data_info(idx)['id'] == base.get_data_info(int(expected[idx]))['id']
        assert ds[idx]['id'] == base[int(expected[idx])]['id']
    assert ds.metainfo['dataset_name'] == 'synthface'
    # the first component is out-of-plane pose: repeated faces have larger |yaw|
    anns = json.load(open(osp.join(synthface_root, 'annotations', 'synthface_train.json')))['annotations']
    by_id = {a['id']: abs(a['pose']['yaw']) for a in anns}
    yaw = np.array([by_id[base.get_data_info(i)['id']] for i in range(len(base))])
    assert yaw[r > 1].mean() > 2 * yaw[r == 1].mean()
    # works with mmengine's sampler unchanged
    assert len(list(iter(DefaultSampler(ds, shuffle=True, seed=0)))) == len(ds)


def test_wrapper_lazy_init_and_errors(synthface_root):
    ds = PoseBalancedDataset(_synthface(synthface_root), normalise='centroid', lazy_init=True)
    assert not ds._fully_initialized
    assert len(ds) >= 192 and ds._fully_initialized
    with pytest.raises(TypeError, match='BaseDataset or a config dict'):
        PoseBalancedDataset([1, 2, 3])
    with pytest.raises(ValueError, match='mode must be'):
        PoseBalancedDataset(_synthface(synthface_root), normalise='bad', lazy_init=True)


def test_wrapper_default_box_frame(synthface_root):
    ds = PoseBalancedDataset(_synthface(synthface_root))
    assert ds.normalise == 'box'
    base = ds.dataset
    infos = [base.get_data_info(i) for i in range(len(base))]
    shapes = np.stack([np.asarray(i['keypoints'], dtype=np.float64).reshape(-1, 2) for i in infos])
    boxes = np.stack([np.asarray(i['bbox'], dtype=np.float64).reshape(4) for i in infos])
    np.testing.assert_array_equal(ds.repeat_factors, pose_balanced_repeats(normalise_shapes(shapes, 'box', boxes)))
    assert len(ds) == int(ds.repeat_factors.sum()) and ds.repeat_factors.max() > 1
