# Copyright (c) mmfacealign contributors. All rights reserved.
"""Model loading for inference: the one place that reads a config, its input size and a checkpoint.

* :func:`load_config`: a path, an OpenMMLab name ``package::relative/path.py`` (``mmengine.hub.get_config``, e.g.
  ``mmpose::face_2d_keypoint/...``) or a ``Config``, with ``cfg_options`` merged in;
* :func:`input_size_of`: the model input (w, h) of a config;
* :func:`load_weights`: a checkpoint into a model through mmengine's ``load_checkpoint`` (``strict=True`` by
  default, ``module.`` prefixes of wrapped models removed), its ``meta.dataset_meta`` copied to the model; a
  mismatch raises :class:`CheckpointMismatchError` with mmengine's listing of the missing, unexpected and
  mis-shaped keys (MMPose's ``init_model`` only logs it and runs with random weights);
* :func:`init_model`.

The demo, the Python API (``load_aligner``), the ONNX export and the benchmark tools all load through these.

MMPose's ``inference_topdown`` builds its pipeline from ``model.cfg.test_dataloader.dataset.pipeline``. Configs
that test several subsets in one run (SynthFace's clean / occluded / masked splits, 300W's common / challenge)
use a ``ConcatDataset``, and video configs a ``FaceVideoClipDataset`` wrapper, which have no ``pipeline`` of their
own; :func:`init_model` exposes the (first) wrapped dataset's pipeline there, so ``inference_topdown`` and MMPose's
demos work with every mmfacealign config.
"""
import copy
import os.path as osp
from typing import Optional, Tuple, Union

from mmengine.config import Config

#: Exit status of the command-line tools (demo, export) for a checkpoint that does not fit its config.
EXIT_CHECKPOINT_MISMATCH = 5


class CheckpointMismatchError(RuntimeError):
    """The checkpoint's parameters do not match the model built from the config (names or shapes)."""

    exit_code = EXIT_CHECKPOINT_MISMATCH


def load_config(config: Union[str, Config], cfg_options: Optional[dict] = None) -> Config:
    """A ``Config`` (a copy) from a path, a ``package::relative/path.py`` name or a ``Config``; ``cfg_options``
    (a dict of dotted keys, as ``--cfg-options``) merged in."""
    if isinstance(config, Config):
        cfg = copy.deepcopy(config)
    elif '::' in config and not osp.isfile(config):
        from mmengine.hub import get_config
        cfg = get_config(config)
    else:
        cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    return cfg


def input_size_of(cfg: Config) -> Tuple[int, int]:
    """(w, h) of the model input: the test pipeline's ``TopdownAffine.input_size``, else the head's codec."""
    try:
        pipeline = inference_config(cfg).test_dataloader.dataset.pipeline
    except (KeyError, AttributeError):
        pipeline = []
    for step in pipeline:
        if step.get('type') == 'TopdownAffine' and 'input_size' in step:
            return tuple(int(s) for s in step['input_size'])
    decoder = cfg.model.get('head', {}).get('decoder') or {}
    if 'input_size' in decoder:
        return tuple(int(s) for s in decoder['input_size'])
    raise KeyError(f'{cfg.filename}: no input size found (test pipeline TopdownAffine.input_size or '
                   'model.head.decoder.input_size)')


def load_weights(model, checkpoint: str, strict: bool = True, config_name: Optional[str] = None) -> dict:
    """Load ``checkpoint`` (a path or URL, ``state_dict`` + ``meta`` as the runner saves it) into ``model`` with
    mmengine's ``load_checkpoint`` (``module.`` prefixes removed) and copy ``meta.dataset_meta`` to
    ``model.dataset_meta``; returns the checkpoint's ``meta``.

    ``strict=True``: a missing, unexpected or mis-shaped key raises :class:`CheckpointMismatchError` with
    mmengine's listing of them. ``strict=False``: mmengine loads the matching parameters and logs the rest as a
    warning. A file that does not exist raises ``FileNotFoundError`` naming it."""
    from mmengine.runner import load_checkpoint
    if '://' not in checkpoint and not osp.isfile(checkpoint):
        raise FileNotFoundError(f'checkpoint {checkpoint!r} not found')
    try:
        ckpt = load_checkpoint(model, checkpoint, map_location='cpu', strict=strict,
                               revise_keys=[(r'^module\.', '')])
    except RuntimeError as err:
        if 'do not match exactly' not in str(err):            # mmengine's mismatch report
            raise
        of = f' of config {config_name}' if config_name else ''
        raise CheckpointMismatchError(f'checkpoint {checkpoint} does not match the model{of}: {err}') from err
    meta = ckpt.get('meta', {}) if isinstance(ckpt, dict) else {}
    if isinstance(meta, dict) and 'dataset_meta' in meta:
        model.dataset_meta = meta['dataset_meta']
    return meta if isinstance(meta, dict) else {}


def inference_config(config: Union[str, Config]) -> Config:
    """The config with ``test_dataloader.dataset.pipeline`` set (from the first dataset of a ConcatDataset)."""
    cfg = load_config(config)
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
    return mmpose_init_model(inference_config(load_config(config, cfg_options)), checkpoint, device=device)
