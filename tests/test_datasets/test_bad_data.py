# Copyright (c) mmfacealign contributors. All rights reserved.
"""Bad data in the face datasets (``FaceLandmarkDatasetMixin``, the rule in ``face_datasets.py``'s docstring):
a problem with a file stops with an error naming it; a problem with one annotation's values skips that face with
a warning naming the annotation file and the annotation id. Tiny COCO-style files are written here."""
import json
import logging

import cv2
import numpy as np
import pytest
from mmengine.dataset import pseudo_collate
from mmengine.logging import MMLogger
from mmengine.registry import DefaultScope
from torch.utils.data import DataLoader

from mmfacealign.datasets import FaceAlign300WDataset, FaceAlignCOFWDataset, SynthFaceDataset


def write_coco(path, k=68, n=4, style='center_scale', edit=None, size=64):
    """``n`` faces of ``k`` points in a ``size`` x ``size`` image each; ``edit(i, ann)`` changes annotation i."""
    rng = np.random.default_rng(0)
    images, anns = [], []
    for i in range(n):
        pts = rng.uniform(size * 0.25, size * 0.75, (k, 2))
        ann = dict(id=100 + i, image_id=i, category_id=1, iscrowd=0, num_keypoints=k,
                   keypoints=np.concatenate([pts, np.full((k, 1), 2.)], 1).reshape(-1).tolist())
        if style == 'center_scale':
            ann.update(center=[size / 2, size / 2], scale=size / 2 / 200)
        else:
            ann.update(bbox=[size * 0.2, size * 0.2, size * 0.6, size * 0.6])
        if edit:
            edit(i, ann)
        images.append(dict(id=i, file_name=f'{i:03d}.png', width=size, height=size))
        anns.append(ann)
    with open(path, 'w') as f:
        json.dump(dict(images=images, annotations=anns, categories=[dict(id=1, name='face')]), f)
    return str(path)


def build(path, cls=FaceAlign300WDataset, img_dir='imgs/', **kwargs):
    kwargs.setdefault('pipeline', [])
    return cls(ann_file=str(path), data_prefix=dict(img=str(img_dir)), test_mode=True, **kwargs)


@pytest.fixture
def warnings_log():
    """The WARNING lines that mmengine's current logger receives during the test."""
    logger = MMLogger.get_current_instance()
    lines = []
    handler = logging.Handler(level=logging.WARNING)
    handler.emit = lambda record: lines.append(record.getMessage())
    logger.addHandler(handler)
    yield lines
    logger.removeHandler(handler)


def test_nan_keypoints_are_skipped_with_a_warning(tmp_path, warnings_log):
    def edit(i, ann):
        if i == 1:
            ann['keypoints'][3] = float('nan')              # json writes NaN, which json.load reads back
        if i == 2:
            ann['keypoints'][10] = None                      # null
            ann['keypoints'][12] = 0                         # ... even on an unlabelled point (v = 0)
    ds = build(write_coco(tmp_path / 'nan.json', edit=edit))
    assert [ds.get_data_info(i)['id'] for i in range(len(ds))] == [100, 103]
    assert all(np.isfinite(ds.get_data_info(i)['keypoints']).all() for i in range(len(ds)))
    [msg] = warnings_log
    assert 'nan.json' in msg and 'skipped 2 of 4' in msg and 'NaN' in msg
    assert 'id 101 (image 001.png)' in msg and 'id 102 (image 002.png)' in msg


def test_keypoints_far_outside_the_image_are_skipped_near_ones_kept(tmp_path, warnings_log):
    def edit(i, ann):
        if i == 0:
            ann['keypoints'][0] = -10.0                      # just outside (a face cut by the border): kept
        if i == 3:
            ann['keypoints'][3 * 5 + 1] = 1e6                # corrupt coordinate: skipped
        if i == 2:
            ann['keypoints'][3 * 7:3 * 8] = [5e5, 5e5, 0]    # far away but unlabelled (v = 0): not judged
    ds = build(write_coco(tmp_path / 'far.json', edit=edit))
    assert [ds.get_data_info(i)['id'] for i in range(len(ds))] == [100, 101, 102]
    assert ds.get_data_info(0)['keypoints'][0, 0, 0] == -10
    [msg] = warnings_log
    assert 'far.json' in msg and 'more than one image size outside' in msg and 'id 103 (image 003.png)' in msg


@pytest.mark.parametrize('style', ['center_scale', 'bbox'])
def test_zero_size_box_is_skipped_with_a_warning(tmp_path, warnings_log, style):
    def edit(i, ann):
        if i == 2:
            if style == 'center_scale':
                ann['scale'] = 0.0
            else:
                ann['bbox'][3] = 0.0
    cls = FaceAlign300WDataset if style == 'center_scale' else FaceAlignCOFWDataset
    k = 68 if style == 'center_scale' else 29
    ds = build(write_coco(tmp_path / 'box.json', k=k, style=style, edit=edit), cls=cls)
    assert [ds.get_data_info(i)['id'] for i in range(len(ds))] == [100, 101, 103]
    [msg] = warnings_log
    assert 'box.json' in msg and 'zero size' in msg and 'id 102 (image 002.png)' in msg


def test_empty_split_is_an_error_naming_the_file(tmp_path):
    empty = tmp_path / 'empty.json'
    empty.write_text(json.dumps(dict(images=[], annotations=[], categories=[dict(id=1, name='face')])))
    with pytest.raises(ValueError, match=r"empty\.json' is an empty split: 0 images and 0 annotations"):
        build(empty)
    no_anns = tmp_path / 'no_anns.json'
    no_anns.write_text(json.dumps(dict(images=[dict(id=0, file_name='a.png', width=9, height=9)])))
    with pytest.raises(ValueError, match=r'no_anns\.json.*1 images and 0 annotations'):
        build(no_anns)
    # every face skipped: no usable face left is an error too, after the warning that lists them
    all_nan = write_coco(tmp_path / 'all_nan.json', n=2, edit=lambda i, ann: ann['keypoints'].__setitem__(0, None))
    with pytest.raises(ValueError, match=r'all_nan\.json.*no usable face \(2 skipped'):
        build(all_nan)


def test_keypoint_count_mismatch_and_missing_fields_are_errors(tmp_path):
    def drop_point(i, ann):
        if i == 1:
            ann['keypoints'] = ann['keypoints'][:-3]
    with pytest.raises(ValueError, match=r"count\.json: annotation id 101 \(image '001\.png'\) has 67 keypoints, "
                       r'but 300w has 68'):
        build(write_coco(tmp_path / 'count.json', edit=drop_point))
    # a 98-point WFLW file given to a 68-point dataset class fails on its first annotation
    with pytest.raises(ValueError, match=r'wflw\.json: annotation id 100 .* 98 keypoints, but synthface has 68'):
        build(write_coco(tmp_path / 'wflw.json', k=98), cls=SynthFaceDataset)
    with pytest.raises(ValueError, match=r"field\.json: annotation id 102 .*field 'center' is missing"):
        build(write_coco(tmp_path / 'field.json', edit=lambda i, ann: i == 2 and ann.pop('center')))
    with pytest.raises(ValueError, match=r'nokpts\.json: annotation id 100 .*"keypoints" must be a list'):
        build(write_coco(tmp_path / 'nokpts.json', edit=lambda i, ann: ann.pop('keypoints')))
    bad_json = tmp_path / 'broken.json'
    bad_json.write_text('{"images": [')
    with pytest.raises(ValueError, match=r"broken\.json' is not valid JSON"):
        build(bad_json)


def _image_dataset(tmp_path, broken):
    """Four 64x64 images on disk; image ``broken`` replaced by ``b'not a png'`` (or removed if 'missing')."""
    img_dir = tmp_path / 'imgs'
    img_dir.mkdir()
    for i in range(4):
        cv2.imwrite(str(img_dir / f'{i:03d}.png'), np.full((64, 64, 3), 60 * i, np.uint8))
    bad = img_dir / '002.png'
    if broken == 'missing':
        bad.unlink()
    else:
        bad.write_bytes(b'not a png')
    with DefaultScope.overwrite_default_scope('mmpose'):   # as the runner's default_scope = 'mmpose'
        ds = build(write_coco(tmp_path / 'ann.json'), img_dir=str(img_dir) + '/',
                   pipeline=[dict(type='LoadImage'), dict(type='GetBBoxCenterScale')])
    return ds, str(bad)


@pytest.mark.parametrize('broken', ['corrupt', 'missing'])
def test_unreadable_image_in_a_dataloader_worker_names_the_path(tmp_path, broken):
    ds, bad_path = _image_dataset(tmp_path, broken)
    assert ds[0]['img'].shape == (64, 64, 3)
    loader = DataLoader(ds, batch_size=2, num_workers=1, collate_fn=pseudo_collate)
    with pytest.raises(Exception) as info:
        list(loader)
    assert 'DataLoader worker' in str(info.value) and bad_path in str(info.value)
