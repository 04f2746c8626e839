# Copyright (c) mmfacealign contributors. All rights reserved.
"""Every config's train, val and test datasets build from a small folder in MMPose's dataset layout, and each
gives a sample through its pipeline.

``test_all_configs.py`` builds the models, transforms and metrics of each config; this one builds the datasets
themselves, with their wrappers (``ConcatDataset`` of subset files, ``FaceVideoClipDataset``,
``PoseBalancedDataset``) exactly as the config writes them, over annotation files written the way MMPose's
converters write them (``center``/``scale``/``bbox``/``keypoints``, images under ``data_prefix``; frame names as
MMPose's ``300vw2coco.py`` writes them, ``NNN/imgs/000001.png``, so clip datasets find videos of consecutive
frames). Only ``data_root`` is moved into a temporary folder.
"""
import copy
import json
import os
import os.path as osp

import cv2
import numpy as np
import pytest
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.utils import import_modules_from_strings
from mmpose.datasets.datasets.utils import parse_pose_metainfo
from mmpose.registry import DATASETS
from mmpose.utils import register_all_modules
from test_all_configs import CONFIGS, REPO

FRAMES = 12              # frames per video: longer than every config's clip
IMAGE = 160


def _leaves(cfg):
    """The frame-level dataset configs inside wrappers (ConcatDataset, clip and balancing wrappers)."""
    if 'datasets' in cfg:
        for d in cfg['datasets']:
            yield from _leaves(d)
    elif isinstance(cfg.get('dataset'), dict):
        yield from _leaves(cfg['dataset'])
    else:
        yield cfg


def _num_keypoints(leaf):
    cls = DATASETS.get(leaf['type'])
    assert cls is not None, f'dataset type {leaf["type"]!r} is not registered'
    meta = leaf.get('metainfo') or cls.METAINFO
    return parse_pose_metainfo(copy.deepcopy(meta))['num_keypoints']


def _write_split(root, leaf, rng, video):
    """One video (number ``video``) of FRAMES frames at ``root/data_prefix/NNN/imgs/0000NN.png`` and its
    COCO-style json (300VW's test files each hold their own videos)."""
    k = _num_keypoints(leaf)
    img_dir = osp.join(root, leaf.get('data_prefix', {}).get('img', ''))
    images, anns = [], []
    for i in range(FRAMES):
        name = f'{video:03d}/imgs/{i + 1:06d}.png'
        path = osp.join(img_dir, name)
        if not osp.exists(path):
            os.makedirs(osp.dirname(path), exist_ok=True)
            cv2.imwrite(path, rng.integers(0, 255, (IMAGE, IMAGE, 3), dtype=np.uint8))
        pts = rng.uniform(45, 115, (k, 2))
        kpts = np.concatenate([pts, np.ones((k, 1))], 1).reshape(-1).tolist()
        anns.append(dict(id=i, image_id=i, category_id=1, iscrowd=0, num_keypoints=k, keypoints=kpts,
                         center=[80.0, 80.0], scale=0.45, bbox=[35.0, 35.0, 90.0, 90.0], area=8100.0,
                         box_size=90.0))            # AFLW's converter writes box_size
        images.append(dict(id=i, file_name=name, width=IMAGE, height=IMAGE))
    ann_file = osp.join(root, leaf['ann_file'])
    os.makedirs(osp.dirname(ann_file), exist_ok=True)
    with open(ann_file, 'w') as f:
        json.dump(dict(images=images, annotations=anns, categories=[dict(id=1, name='face')]), f)


@pytest.mark.parametrize('path', CONFIGS, ids=[osp.relpath(p, REPO) for p in CONFIGS])
def test_config_datasets_build_and_give_a_sample(path, tmp_path):
    register_all_modules()
    cfg = Config.fromfile(path)
    import_modules_from_strings(cfg.custom_imports['imports'])
    rng = np.random.default_rng(0)
    with DefaultScope.overwrite_default_scope('mmpose'):
        for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
            ds_cfg = copy.deepcopy(cfg[loader]['dataset'].to_dict())
            for video, leaf in enumerate(_leaves(ds_cfg), start=1):
                leaf['data_root'] = str(tmp_path / leaf.get('data_root', '').strip('/'))
                _write_split(leaf['data_root'], leaf, rng, video)
            dataset = DATASETS.build(ds_cfg)
            assert len(dataset) > 0, f'{loader}: empty dataset'
            sample = dataset[0]
            frames = sample if isinstance(sample, list) else [sample]      # clip datasets give L frames
            for frame in frames:
                assert frame['inputs'].ndim == 3 and frame['data_samples'].gt_instances.keypoints.shape[0] == 1
