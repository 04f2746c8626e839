# Copyright (c) mmfacealign contributors. All rights reserved.
"""Data-parallel training is the same training: for every model family's SynthFace config, 2 gloo processes with
batch b each (``tools/dist_train.sh``, torchrun, mmengine's ``pytorch`` launcher) follow the loss curve of 1
process with batch 2b, and every trainable parameter gets a gradient.

Why the curves can match. ``DefaultSampler`` shuffles the indices with the shared seed and gives rank r the indices
``r::world_size``, so iteration i of the 2 ranks covers exactly the samples of iteration i of 1 process with batch
2b (checked here from the recorded image paths); DDP averages the gradients of the ranks, and every loss of the
five families is a per-sample mean (or a term of the parameters only, ODN's nuclear and Frobenius norms), so the
averaged gradient is the gradient of the 2b batch and the optimiser (Adam, SCDF's clipping) takes the same step.

What the test setup removes, because it makes the two runs differ by design (not by a bug):
  - random augmentation (``RandomFlip``, ``RandomBBoxTransform``, the occlusion transforms), drawn from each
    process's own random state: the train pipeline keeps only the deterministic transforms of the config's own
    pipeline (its ``GenerateTarget`` with its codec included), and fails on a transform it does not know;
  - BatchNorm batch statistics (per rank b faces against 2b): ``FreezeNormStatsHook`` keeps BatchNorm in eval mode
    (torch's SyncBatchNorm has no CPU implementation; on GPUs ``sync_bn='torch'`` is the way to keep them);
  - validation (not needed) and the last partial batch (the subset is a multiple of 2b).
There is no dropout in the five models, the hooks that compute state from data (SRN's ``MeanShapeHook``) read the
whole annotation file on every rank, and FFLD's ``AlignLossSmoothingHook`` acts only after its 50-iteration window.

Measured here (float32, 2 cores; the reduction order differs between 1 and 2 processes and between thread counts),
the largest relative difference of any loss term over the 4 iterations: baseline 9.1e-8, SCDF 1.6e-7, FFLD 1.2e-7,
ODN 1.1e-7, SRN 8.6e-8; of any weight after the 4 steps (absolute): 7.5e-9, 1.2e-7, 4.3e-8, 7.5e-8, 7.5e-9. The
test allows ``RTOL`` = 1e-5 on the losses and ``WEIGHT_ATOL`` = 1e-5 on the weights (about 60x the worst measured);
with BatchNorm on per-rank batch statistics (the hook left out) the baseline's curves differ by 1.3e-4 to 1.2e-3.
Wall time per family for the two trainings (1 process, then 2) on 2 cores: 29-46 s (40-68 s with another job on
the cores). BatchNorm layers: baseline 21, SCDF 32, FFLD 33, ODN 31 (backbone; SCDF's, FFLD's heads, ODN's neck),
SRN none.

DDP with mmengine's default ``find_unused_parameters=False`` raises at the second iteration if a parameter got no
gradient in the first, so a 2-process run of 4 iterations also proves that nothing is unused; the cheap
single-process check of the same is :func:`test_every_parameter_gets_a_finite_gradient`.
"""
import json
import os
import os.path as osp
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from e2e_utils import subprocess_threads

FAMILIES = {
    'baseline': ('configs/baselines/td-reg_res18-w32_1xb64-15e_synthface-128x128.py', 29531),
    'scdf': ('configs/scdf/td-scdf_res18-w32_1xb64-15e_synthface-128x128.py', 29532),
    'ffld': ('configs/ffld/td-ffld_res18-w32_1xb64-15e_synthface-128x128.py', 29533),
    'odn': ('configs/odn/td-odn_res18-w32_1xb64-15e_synthface-128x128.py', 29534),
    'srn': ('configs/srn/td-srn_pcnn-s_1xb64-15e_synthface-128x128.py', 29535),
}
BATCH = 4            # per rank; the single process takes 2 * BATCH
ITERS = 4            # one epoch of ITERS iterations
RTOL = 1e-5          # relative, per iteration and loss term (measured differences: the module docstring)
WEIGHT_ATOL = 1e-5   # absolute, every floating-point entry of the state dict after ITERS steps

DETERMINISTIC = ('LoadImage', 'GetBBoxCenterScale', 'TopdownAffine', 'GenerateTarget', 'PackPoseInputs')
RANDOM = ('RandomFlip', 'RandomBBoxTransform', 'RandomRectangleOcclusion', 'RandomNoisePatchOcclusion')
HERE = osp.dirname(osp.abspath(__file__))


def deterministic_pipeline(pipeline, config):
    """The config's train pipeline without its random transforms; fails naming a transform of neither kind."""
    unknown = [t['type'] for t in pipeline if t['type'] not in DETERMINISTIC + RANDOM]
    if unknown:
        raise AssertionError(f'{config}: train_dataloader.dataset.pipeline has {unknown}; add them to DETERMINISTIC '
                             'or RANDOM of tests/test_tools/test_dist_equivalence.py')
    kept = [t for t in pipeline if t['type'] in DETERMINISTIC]
    assert any(t['type'] == 'GenerateTarget' for t in kept), f'{config}: no GenerateTarget in the train pipeline'
    return kept


def equivalence_config(repo_root, config, root, work):
    """Write the test's variant of ``config`` to ``work/cfg.py``: deterministic pipeline, a subset of
    ``2 * BATCH * ITERS`` faces, one epoch, frozen BatchNorm statistics, the probe hook, no validation."""
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(repo_root, config))
    loader = cfg.train_dataloader
    loader.batch_size = BATCH
    loader.num_workers = 0
    loader.persistent_workers = False
    loader.dataset.data_root = root.rstrip('/') + '/'
    loader.dataset.indices = 2 * BATCH * ITERS
    loader.dataset.pipeline = deterministic_pipeline(loader.dataset.pipeline, config)
    cfg.train_cfg = dict(by_epoch=True, max_epochs=1, val_interval=100)
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.test_cfg = cfg.test_dataloader = cfg.test_evaluator = None
    cfg.randomness = dict(seed=0)
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=1, save_best=None, max_keep_ckpts=1,
                                        save_optimizer=False, save_param_scheduler=False)
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=1)
    cfg.custom_hooks = [*cfg.get('custom_hooks', []), dict(type='FreezeNormStatsHook'),
                        dict(type='DistEquivalenceProbeHook')]
    cfg.custom_imports = dict(imports=['mmfacealign', 'dist_probe'], allow_failed_imports=False)
    os.makedirs(work, exist_ok=True)
    path = osp.join(work, 'cfg.py')
    cfg.dump(path)
    return path


def _env(threads):
    return dict(os.environ, PATH=osp.dirname(sys.executable) + os.pathsep + os.environ['PATH'],
                PYTHONPATH=HERE + os.pathsep + os.environ.get('PYTHONPATH', ''), OMP_NUM_THREADS=str(threads))


def _records(work, rank):
    with open(osp.join(work, f'probe_rank{rank}.json')) as f:
        return json.load(f)['records']


@pytest.mark.skipif(torch.cuda.is_available(), reason='checks the CPU (gloo) path; on GPUs BN needs sync_bn')
@pytest.mark.parametrize('family', list(FAMILIES))
def test_two_processes_follow_one_process_with_twice_the_batch(family, synthface_root, repo_root, tmp_path):
    config, port = FAMILIES[family]
    cfg_path = equivalence_config(repo_root, config, synthface_root, str(tmp_path / 'cfg'))
    one, two = str(tmp_path / 'one'), str(tmp_path / 'two')
    start = time.time()
    r = subprocess.run([sys.executable, 'tools/train.py', cfg_path, '--work-dir', one, '--cfg-options',
                        f'train_dataloader.batch_size={2 * BATCH}'],
                       cwd=repo_root, capture_output=True, text=True, env=_env(subprocess_threads()), timeout=600)
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
    r = subprocess.run(['bash', 'tools/dist_train.sh', cfg_path, '2', '--work-dir', two],
                       cwd=repo_root, capture_output=True, text=True, env=dict(_env(1), PORT=str(port)),
                       timeout=600)
    log = r.stdout + r.stderr
    assert r.returncode == 0, log[-3000:]
    assert 'Distributed training: True' in log
    wall = time.time() - start

    single = _records(one, 0)
    ranks = [_records(two, 0), _records(two, 1)]
    # every rank ran all iterations: with find_unused_parameters=False, DDP would have raised at the second one
    assert len(single) == ITERS and all(len(r) == ITERS for r in ranks), (len(single), [len(r) for r in ranks])
    for i in range(ITERS):
        # the sampler's split: the 2 ranks' batches together are the single process's batch
        assert sorted(ranks[0][i]['paths'] + ranks[1][i]['paths']) == sorted(single[i]['paths']), i
        assert set(ranks[0][i]['paths']).isdisjoint(ranks[1][i]['paths']), i
    keys = [k for k in single[0] if 'loss' in k]
    expected = np.array([[rec[k] for k in keys] for rec in single])                          # (ITERS, terms)
    got = np.mean([[[rec[k] for k in keys] for rec in r] for r in ranks], axis=0)           # rank mean
    rel = np.abs(got - expected) / np.maximum(np.abs(expected), 1e-12)
    print(f'{family}: {wall:.1f} s; loss 1 process {expected[:, 0].tolist()}, 2 processes {got[:, 0].tolist()}; '
          f'max relative difference per term {dict(zip(keys, rel.max(0).tolist()))}')
    # the curve moves (the optimiser stepped), so equal curves are not equal constants
    assert not np.allclose(expected[0, 0], expected[-1, 0], rtol=1e-3)
    np.testing.assert_allclose(got, expected, rtol=RTOL, atol=1e-7, err_msg=f'{family}: terms {keys}')

    # the weights after ITERS steps (checkpoint of rank 0 against the single process's)
    a = torch.load(osp.join(one, 'epoch_1.pth'), map_location='cpu', weights_only=False)['state_dict']
    b = torch.load(osp.join(two, 'epoch_1.pth'), map_location='cpu', weights_only=False)['state_dict']
    assert a.keys() == b.keys()
    diff = {k: (a[k].float() - b[k].float()).abs().max().item() for k in a if a[k].is_floating_point()}
    worst = max(diff, key=diff.get)
    print(f'{family}: largest weight difference {diff[worst]:.3g} ({worst})')
    assert diff[worst] <= WEIGHT_ATOL, f'{family}: {worst} differs by {diff[worst]:.3g}'


@pytest.mark.parametrize('family', list(FAMILIES))
def test_every_parameter_gets_a_finite_gradient(family, synthface_root, repo_root):
    """One loss backward of the config's model on 4 training faces: every ``requires_grad`` parameter has a finite
    gradient (``None`` means unused: DDP with ``find_unused_parameters=False`` fails on it)."""
    from mmengine.config import Config
    from mmengine.dataset import pseudo_collate
    from mmengine.registry import init_default_scope
    from mmpose.registry import DATASETS, MODELS

    from mmfacealign.engine.hooks import mean_normalised_shape
    config = FAMILIES[family][0]
    init_default_scope('mmpose')
    torch.manual_seed(0)
    cfg = Config.fromfile(osp.join(repo_root, config))
    model = MODELS.build(cfg.model)
    model.init_weights()
    ds_cfg = cfg.train_dataloader.dataset
    ds_cfg.data_root = synthface_root + '/'
    ds_cfg.indices = 4
    ds_cfg.pipeline = deterministic_pipeline(ds_cfg.pipeline, config)
    dataset = DATASETS.build(ds_cfg)
    if hasattr(model.head, 'set_mean_shape'):                 # SRN: what MeanShapeHook does before training
        model.head.set_mean_shape(torch.as_tensor(mean_normalised_shape(dataset, model.head.input_size),
                                                  dtype=torch.float32))
    model.train()
    data = model.data_preprocessor(pseudo_collate([dataset[i] for i in range(4)]), training=True)
    loss, _ = model.parse_losses(model(**data, mode='loss'))
    loss.backward()
    params = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    assert params
    unused = [n for n, p in params if p.grad is None]
    assert unused == [], f'{config}: parameters without a gradient: {unused}'
    bad = [n for n, p in params if not bool(torch.isfinite(p.grad).all())]
    assert bad == [], f'{config}: non-finite gradients: {bad}'
