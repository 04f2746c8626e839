# Copyright (c) mmfacealign contributors. All rights reserved.
"""Every config of the project parses, builds its model, its datasets' pipelines and its evaluator, and every
metafile entry names a config that exists (so a model-zoo row never points at a broken file)."""
import glob
import os.path as osp

import pytest
import yaml
from mmengine.config import Config
from mmengine.utils import import_modules_from_strings
from mmpose.registry import HOOKS, METRICS, MODELS, TRANSFORMS
from mmpose.utils import register_all_modules

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = sorted(p for pattern in (('configs', '**', '*.py'), ('projects', '*', 'configs', '**', '*.py'))
                 for p in glob.glob(osp.join(REPO, *pattern), recursive=True) if '_base_' not in p)


def _pipelines(dataset_cfg):
    if dataset_cfg.get('type') == 'ConcatDataset':
        for d in dataset_cfg['datasets']:
            yield from _pipelines(d)
    elif 'dataset' in dataset_cfg:                      # wrappers (PoseBalancedDataset, ...)
        yield from _pipelines(dataset_cfg['dataset'])
    else:
        yield dataset_cfg.get('pipeline', [])


@pytest.mark.parametrize('path', CONFIGS, ids=[osp.relpath(p, REPO) for p in CONFIGS])
def test_config_builds(path):
    register_all_modules()
    cfg = Config.fromfile(path)
    assert 'mmfacealign' in cfg.custom_imports['imports']
    import_modules_from_strings(cfg.custom_imports['imports'])          # projects/ register their own modules
    model = MODELS.build(cfg.model)
    assert sum(p.numel() for p in model.parameters()) > 0
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        for pipeline in _pipelines(cfg[loader]['dataset']):
            for t in pipeline:
                TRANSFORMS.build(t)
    evaluators = cfg.test_evaluator if isinstance(cfg.test_evaluator, list) else [cfg.test_evaluator]
    for metric in evaluators:
        METRICS.build(metric)
    for hook in cfg.get('custom_hooks', []):
        HOOKS.build(hook)


def test_metafiles_name_existing_configs():
    with open(osp.join(REPO, 'model-index.yml')) as f:
        index = yaml.safe_load(f)
    names = []
    for meta in index['Import']:
        with open(osp.join(REPO, meta)) as f:
            for model in yaml.safe_load(f)['Models']:
                assert osp.isfile(osp.join(REPO, model['Config'])), model['Config']
                assert model['Name'] == osp.splitext(osp.basename(model['Config']))[0]
                names.append(model['Name'])
    assert len(names) == len(set(names))
    assert glob.glob(osp.join(REPO, 'configs', '*', 'metafile.yml')) and all(
        osp.relpath(p, REPO) in index['Import'] for p in glob.glob(osp.join(REPO, 'configs', '*', 'metafile.yml')))
