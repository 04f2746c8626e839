# Copyright (c) mmfacealign contributors. All rights reserved.
"""FaceAlignmentMetric inside real MMPose / mmengine evaluation on the SynthFace fixture: the val pipeline of
``configs/_base_/data/synthface_128x128.py``, a ConcatDataset of the three test splits, mmengine's Evaluator and
(last) ``Runner.test()`` with the config's test loader and evaluator."""
import json
import os.path as osp

import numpy as np
import pytest
from mmengine.config import Config
from mmengine.evaluator import Evaluator
from mmengine.registry import DefaultScope
from mmengine.structures import InstanceData
from mmpose.registry import DATASETS

from mmfacealign.evaluation import FaceAlignmentMetric

SPLITS = ('test', 'test_occluded', 'test_masked')
# per-split error, in units of the inter-ocular distance, for (visible, occluded) points
OFFSETS = dict(clean=(0.02, 0.02), occluded=(0.03, 0.15), masked=(0.05, 0.11))

def _data_cfg(repo_root, tmp_path, synthface_root):
    """The repo's SynthFace data config (its ConcatDataset test loader and FaceAlignmentMetric evaluators),
    data_root pointed at the fixture."""
    cfg = Config.fromfile(osp.join(repo_root, 'configs', '_base_', 'data', 'synthface_128x128.py'))
    for d in cfg.test_dataloader.dataset.datasets:
        d.data_root = synthface_root
    return cfg


def test_metric_in_mmengine_evaluator_with_known_offsets(synthface_root, repo_root, tmp_path):
    cfg = _data_cfg(repo_root, tmp_path, synthface_root)
    with DefaultScope.overwrite_default_scope('mmpose'):
        dataset = DATASETS.build(cfg.test_dataloader.dataset)
        evaluator = Evaluator(dict(cfg.test_evaluator, outfile_prefix=str(tmp_path / 'sf')))
    assert isinstance(evaluator.metrics[0], FaceAlignmentMetric)
    evaluator.dataset_meta = dataset.metainfo

    expected = {'clean': [], 'occluded': [], 'masked': []}
    occ_points = {'visible': [], 'occluded': []}
    batch = []
    for i in range(len(dataset)):
        item = dataset[i]
        ds = item['data_samples']
        gt = ds.gt_instances.keypoints[0].astype(np.float64)          # original-image pixels (K, 2)
        occ = ds.metainfo['keypoints_occluded'][0] > 0
        tag = ds.metainfo['subset']
        d = np.linalg.norm(gt[36] - gt[45])
        e_vis, e_occ = OFFSETS[tag]
        err = np.where(occ, e_occ, e_vis)                                 # normalised error per point
        angle = np.linspace(0, 2 * np.pi, len(gt), endpoint=False)       # in all directions
        pred = gt + (err * d)[:, None] * np.stack([np.cos(angle), np.sin(angle)], 1)
        ds.pred_instances = InstanceData(keypoints=pred[None].astype(np.float32))
        batch.append(ds)
        expected[tag].append(err.mean())
        occ_points['visible'] += err[~occ].tolist()
        occ_points['occluded'] += err[occ].tolist()
        if len(batch) == 16 or i == len(dataset) - 1:
            evaluator.process(data_samples=batch, data_batch=None)
            batch = []
    metrics = evaluator.evaluate(len(dataset))

    all_nme = np.concatenate([expected[t] for t in expected])
    assert metrics['NME'] == pytest.approx(all_nme.mean(), rel=1e-4)
    assert metrics['full/NME'] == pytest.approx(all_nme.mean(), rel=1e-4)
    for tag, vals in expected.items():
        assert len(vals) > 0, tag
        assert metrics[f'{tag}/NME'] == pytest.approx(np.mean(vals), rel=1e-4)
        assert metrics[f'{tag}/FR@0.1'] == pytest.approx(np.mean(np.array(vals) > 0.1))
        assert metrics[f'{tag}/AUC@0.08'] == pytest.approx(np.mean(np.clip(1 - np.array(vals) / 0.08, 0, None)),
                                                           rel=1e-3)
    assert metrics['clean/NME'] == pytest.approx(0.02, rel=1e-4)
    assert metrics['NME_visible'] == pytest.approx(np.mean(occ_points['visible']), rel=1e-4)
    assert metrics['NME_occluded'] == pytest.approx(np.mean(occ_points['occluded']), rel=1e-4)
    assert 'clean/NME_occluded' not in metrics            # the clean split has no occluded landmark
    assert metrics['masked/NME_occluded'] == pytest.approx(0.11, rel=1e-4)
    with open(tmp_path / 'sf.ced.json') as f:
        assert set(json.load(f)['curves']) == {'full', 'clean', 'occluded', 'masked'}


def test_runner_test_with_the_config_snippet(synthface_root, repo_root, tmp_path):
    """A full ``Runner.test()`` of the baseline model (random weights, CPU) with the snippet's ConcatDataset
    and evaluator: the subset keys are reported and the files land in the run's log directory."""
    from mmengine.runner import Runner
    data = _data_cfg(repo_root, tmp_path, synthface_root)
    cfg = Config.fromfile(osp.join(repo_root, 'configs', 'baselines',
                                   'td-reg_res18-w32_1xb64-15e_synthface-128x128.py'))
    cfg.test_dataloader = data.test_dataloader
    cfg.test_dataloader.update(batch_size=32, num_workers=0, persistent_workers=False)
    cfg.test_evaluator = data.test_evaluator
    cfg.work_dir = str(tmp_path / 'work_dir')
    cfg.visualizer = dict(type='PoseLocalVisualizer', vis_backends=[dict(type='LocalVisBackend')], name='vis_fa')
    cfg.default_hooks.pop('visualization', None)
    cfg.launcher = 'none'
    cfg.experiment_name = 'fa_runner_test'
    runner = Runner.from_cfg(cfg)
    metrics = runner.test()
    for key in ('NME', 'FR@0.1', 'FR@0.08', 'AUC@0.1', 'NME_visible', 'NME_occluded', 'clean/NME',
                'occluded/NME_occluded', 'masked/AUC@0.1', 'full/FR@0.1'):
        assert key in metrics and np.isfinite(metrics[key]), key
    assert osp.isfile(osp.join(runner.log_dir, 'face_alignment.per_image.json'))
    with open(osp.join(runner.log_dir, 'face_alignment.ced.json')) as f:
        ced = json.load(f)
    assert ced['metrics']['NME'] == pytest.approx(metrics['NME'])
    assert ced['dataset_name'] == 'synthface' and ced['norm_indices'] == [36, 45]
