# Copyright (c) mmfacealign contributors. All rights reserved.
"""Model loading for inference on images.

MMPose's ``inference_topdown`` builds its pipeline from ``model.cfg.test_dataloader.dataset.pipeline``. Configs
that test several subsets in one run (SynthFace's clean / occluded / masked splits, 300W's common / challenge)
use a ``ConcatDataset``, and video configs a ``FaceVideoClipDataset`` wrapper, which have no ``pipeline`` of their
own; :func:`init_model` exposes the (first) wrapped dataset's pipeline there, so ``inference_topdown`` and MMPose's
demos work with every mmfacealign config.
"""
import copy
from typing import Optional, Union

from mmengine.config import Config


def inference_config(config: Union[str, Config]) -> Config:
    """The config with ``test_dataloader.dataset.pipeline`` set (from the first dataset of a ConcatDataset)."""
    cfg = Config.fromfile(config) if isinstance(config, str) else copy.deepcopy(config)
    dataset = cfg.test_dataloader.dataset
    while 'pipeline' not in dataset:
        if dataset.get('type') == 'ConcatDataset':
            dataset = dataset.datasets[0]
        elif 'dataset' in dataset:           # wrappers: FaceVideoClipDataset, PoseBalancedDataset, ...
            dataset = dataset.dataset
        else:
            break
    if 'pipeline' not in dataset:
        raise KeyError(f'{cfg.filename}: test_dataloader.dataset has no pipeline to run inference with')
    cfg.test_dataloader.dataset.pipeline = dataset.pipeline
    return cfg


def init_model(config: Union[str, Config], checkpoint: Optional[str] = None, device: str = 'cpu',
               cfg_options: Optional[dict] = None):
    """``mmpose.apis.init_model`` for mmfacealign configs (see the module docstring)."""
    from mmpose.apis import init_model as mmpose_init_model
    cfg = Config.fromfile(config) if isinstance(config, str) else copy.deepcopy(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    return mmpose_init_model(inference_config(cfg), checkpoint, device=device)
