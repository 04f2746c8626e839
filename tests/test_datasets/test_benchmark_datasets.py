# Copyright (c) mmfacealign contributors. All rights reserved.
"""The benchmark dataset classes on tiny annotation files written here in MMPose's formats: occlusion flags,
subset tags (annotation field and ``subset_tag``), and mmengine's ConcatDataset over tagged files."""
import json

import numpy as np
import pytest
from mmengine.dataset import ConcatDataset
from mmengine.registry import DefaultScope
from mmpose.registry import DATASETS

from mmfacealign.datasets import (
    FaceAlign300VWDataset,
    FaceAlign300WDataset,
    FaceAlignAFLWDataset,
    FaceAlignCOFWDataset,
    FaceAlignWFLWDataset,
    SynthFaceDataset,
)
from mmfacealign.datasets.benchmark_datasets import WFLW_ATTRIBUTES


def write_coco(path, k, n=3, style='center_scale', vis=2, extra=None, per_ann=None):
    """A COCO-style face json as MMPose's converters write it (``style`` 'center_scale' or 'bbox')."""
    rng = np.random.default_rng(k + n)
    images, anns = [], []
    for i in range(n):
        pts = rng.uniform(20, 80, (k, 2))
        v = np.full((k, 1), vis, dtype=float) if np.isscalar(vis) else np.asarray(vis[i], float).reshape(k, 1)
        ann = dict(id=i, image_id=i, category_id=1, iscrowd=0, num_keypoints=k,
                   keypoints=np.concatenate([pts, v], 1).reshape(-1).tolist(), area=3600.0)
        if style == 'center_scale':
            ann.update(center=[50.0, 50.0], scale=0.3, bbox=[20, 20, 60, 60])
        else:
            ann.update(bbox=[15.0, 15.0, 70.0, 70.0])
        ann.update(extra or {})
        if per_ann:
            ann.update(per_ann(i))
        images.append(dict(id=i, file_name=f'{i:03d}.jpg', width=100, height=100))
        anns.append(ann)
    with open(path, 'w') as f:
        json.dump(dict(images=images, annotations=anns, categories=[dict(id=1, name='face')]), f)
    return str(path)


def build(cls, ann_file, **kwargs):
    return cls(ann_file=ann_file, data_prefix=dict(img='imgs/'), test_mode=True, pipeline=[], **kwargs)


def test_300w_subset_tag_and_no_fake_occlusion(tmp_path):
    # MMPose's converters write v = 1 for every point of 300W / WFLW: that is not an occlusion label
    ds = build(FaceAlign300WDataset, write_coco(tmp_path / 'c.json', 68, vis=1), subset_tag='common')
    assert ds.metainfo['dataset_name'] == '300w' and len(ds) == 3
    info = ds.get_data_info(0)
    assert info['subset'] == 'common' and 'keypoints_occluded' not in info
    assert info['keypoints_visible'].sum() == 68
    # an explicit `occluded` list is used when present
    ds = build(FaceAlign300WDataset, write_coco(tmp_path / 'o.json', 68, extra=dict(occluded=[1] * 5 + [0] * 63)))
    assert ds.get_data_info(0)['keypoints_occluded'].sum() == 5 and ds.get_data_info(0)['subset'] is None


def test_annotation_subset_field_wins_over_subset_tag(tmp_path):
    path = write_coco(tmp_path / 'w.json', 98, per_ann=lambda i: dict(subset=[['pose', 'blur'], [], 'makeup'][i]))
    ds = build(FaceAlignWFLWDataset, path, subset_tag='wflw_full')
    assert [ds.get_data_info(i)['subset'] for i in range(3)] == [['pose', 'blur'], [], 'makeup']
    assert ds.metainfo['dataset_name'] == 'wflw' and ds.get_data_info(0)['keypoints'].shape == (1, 98, 2)
    assert 'keypoints_occluded' not in ds.get_data_info(0)
    assert WFLW_ATTRIBUTES == ('pose', 'expression', 'illumination', 'makeup', 'occlusion', 'blur')


def test_cofw_occlusion_from_visibility(tmp_path):
    vis = np.full((3, 29), 2)
    vis[0, [3, 4, 20]] = 1                                   # COFW: 1 = occluded, 2 = visible
    ds = build(FaceAlignCOFWDataset, write_coco(tmp_path / 'cofw.json', 29, style='bbox', vis=vis))
    info = ds.get_data_info(0)
    assert ds.metainfo['dataset_name'] == 'cofw'
    np.testing.assert_array_equal(np.flatnonzero(info['keypoints_occluded'][0]), [3, 4, 20])
    assert info['keypoints_visible'].sum() == 29              # occluded points are still labelled
    assert ds.get_data_info(1)['keypoints_occluded'].sum() == 0


def test_aflw_box_size_and_300vw(tmp_path):
    ds = build(FaceAlignAFLWDataset, write_coco(tmp_path / 'a.json', 19, extra=dict(box_size=42.5)),
               subset_tag='frontal')
    assert ds.get_data_info(0)['box_size'] == 42.5 and ds.get_data_info(0)['subset'] == 'frontal'
    ds = build(FaceAlign300VWDataset, write_coco(tmp_path / 'v.json', 68), subset_tag=['category1', 'video'])
    assert ds.metainfo['dataset_name'] == '300vw' and ds.get_data_info(2)['subset'] == ['category1', 'video']


def test_wrong_keypoint_count_names_the_file(tmp_path):
    path = write_coco(tmp_path / 'bad.json', 68)
    with pytest.raises(ValueError, match=r'bad.json: annotation id 0 .* has 68 keypoints, but wflw has 98'):
        build(FaceAlignWFLWDataset, path)


def test_bad_subset_tag():
    with pytest.raises(TypeError, match='subset_tag'):
        FaceAlign300WDataset(ann_file='x.json', subset_tag=3, lazy_init=True)
    with pytest.raises(TypeError, match='subset_tag'):
        FaceAlign300WDataset(ann_file='x.json', subset_tag=['ok', ''], lazy_init=True)


def test_concat_dataset_of_tagged_files(tmp_path):
    cfgs = [
        dict(type='FaceAlign300WDataset', ann_file=write_coco(tmp_path / f'{tag}.json', 68, n=n),
             data_prefix=dict(img='imgs/'), test_mode=True, pipeline=[], subset_tag=tag)
        for tag, n in (('common', 3), ('challenge', 2))
    ]
    with DefaultScope.overwrite_default_scope('mmpose'):   # as the runner's default_scope = 'mmpose'
        concat = DATASETS.build(dict(type='ConcatDataset', datasets=cfgs))
    assert isinstance(concat, ConcatDataset) and len(concat) == 5
    assert concat.metainfo['dataset_name'] == '300w'
    assert [concat.get_data_info(i)['subset'] for i in range(5)] == ['common'] * 3 + ['challenge'] * 2


def test_synthface_subset_tag_fills_only_missing_subsets(synthface_root):
    ds = SynthFaceDataset(data_root=synthface_root, ann_file='annotations/synthface_test_masked.json',
                          data_prefix=dict(img='images/'), test_mode=True, pipeline=[], subset_tag='other')
    assert {ds.get_data_info(i)['subset'] for i in range(len(ds))} == {'masked'}
    concat = ConcatDataset([
        SynthFaceDataset(data_root=synthface_root, ann_file=f'annotations/synthface_{s}.json',
                         data_prefix=dict(img='images/'), test_mode=True, pipeline=[])
        for s in ('test', 'test_occluded', 'test_masked')
    ])
    assert {concat.get_data_info(i)['subset'] for i in range(len(concat))} == {'clean', 'occluded', 'masked'}
