# Copyright (c) mmfacealign contributors. All rights reserved.
"""End to end through the real mmengine runner: train the baseline config on SynthFace with tools/train.py,
resume it, evaluate it with tools/test.py, and compare with predicting the mean shape.

Budget: a from-scratch ResNet regressing from pooled features needs about 10k training samples before it beats
the mean shape (measured: 96-240 iterations of batch 32 stay at the mean-shape NME; 160 of batch 64 reach only
0.84x the mean-shape NME with seed 0), so this trains 224 iterations of batch 64 on 1024 faces, seeded."""
import json
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
from e2e_utils import run, synthface_options

CONFIG = 'configs/baselines/td-reg_res18-w32_1xb64-15e_synthface-128x128.py'


def mean_shape_nme(root: str) -> float:
    """Inter-ocular NME on the clean test split of predicting the training set's mean shape in each box."""
    def load(split):
        with open(osp.join(root, 'annotations', f'synthface_{split}.json')) as f:
            anns = json.load(f)['annotations']
        k = np.array([a['keypoints'] for a in anns]).reshape(len(anns), -1, 3)[..., :2]
        c = np.array([a['center'] for a in anns])
        s = np.array([a['scale'] for a in anns]) * 200
        return k, c, s

    k, c, s = load('train')
    mean = ((k - c[:, None]) / s[:, None, None]).mean(0)
    k, c, s = load('test')
    pred = c[:, None] + mean[None] * s[:, None, None]
    return float((np.linalg.norm(pred - k, axis=2).mean(1) / np.linalg.norm(k[:, 36] - k[:, 45], axis=1)).mean())


@pytest.fixture(scope='module')
def trained(repo_root, tmp_path_factory):
    from mmfacealign.datasets.synthface import SynthFaceConfig, write_synthface
    data = str(tmp_path_factory.mktemp('synthface1k') / 'sf')
    write_synthface(data, SynthFaceConfig(num_train=1024, num_val=48, num_test=48, seed=5, shape_model='builtin'),
                    workers=2, log=lambda *a: None)
    work = str(tmp_path_factory.mktemp('baseline'))
    common = synthface_options(data)
    # 1024 faces / batch 64 = 16 iterations per epoch; 14 epochs = 224 iterations; short warm-up, no decay
    schedule = ['train_cfg.max_epochs=14', 'train_cfg.val_interval=14', 'default_hooks.checkpoint.interval=5',
                'default_hooks.checkpoint.max_keep_ckpts=3',
                'default_hooks.logger.interval=16', 'param_scheduler.0.end=10', 'param_scheduler.1.milestones=[100]',
                'randomness.seed=0']
    run(['tools/train.py', CONFIG, '--work-dir', work, '--cfg-options', *common, *schedule], repo_root)
    return dict(work=work, common=common, schedule=schedule, root=data)


def test_training_beats_the_mean_shape(trained, repo_root):
    out = osp.join(trained['work'], 'metrics.json')
    ckpt = osp.join(trained['work'], 'epoch_14.pth')
    run(['tools/test.py', CONFIG, ckpt, '--work-dir', trained['work'], '--out', out, '--cfg-options',
         *trained['common']], repo_root)
    with open(out) as f:
        nme = json.load(f)['clean/NME']   # the clean test split, as mean_shape_nme
    baseline = mean_shape_nme(trained['root'])
    print(f'baseline NME {nme:.4f}, mean-shape NME {baseline:.4f}')
    assert nme < 0.8 * baseline, (nme, baseline)


def test_checkpoints_resume_under_safe_torch_load(trained, repo_root):
    import torch
    ckpt = osp.join(trained['work'], 'epoch_5.pth')
    # torch's default (weights_only) load accepts our checkpoints once mmfacealign is imported
    import mmfacealign  # noqa: F401
    state = torch.load(ckpt, map_location='cpu')
    assert state['meta']['epoch'] == 5 and 'message_hub' in state
    work2 = trained['work'] + '_resumed'
    r = run(['tools/train.py', CONFIG, '--work-dir', work2, '--resume', ckpt, '--cfg-options', *trained['common'],
             *trained['schedule'], 'train_cfg.max_epochs=6', 'train_cfg.val_interval=6'], repo_root)
    log = r.stdout + r.stderr
    assert 'resumed epoch: 5' in log, log[-2000:]
    assert osp.isfile(osp.join(work2, 'epoch_6.pth'))


def test_draw_predictions_and_demo(trained, repo_root, tmp_path):
    """The quick-start's drawing tool and the image demo run on the trained checkpoint."""
    import cv2
    ckpt = osp.join(trained['work'], 'epoch_14.pth')
    out = str(tmp_path / 'preds.png')
    run(['tools/analysis_tools/vis_predictions.py', CONFIG, ckpt, '--out', out, '--num', '4', '--cols', '2',
         '--tile', '96', '--cfg-options', f'test_dataloader.dataset.datasets.0.data_root={trained["root"]}/'],
        repo_root)
    assert cv2.imread(out).shape == (2 * 98 + 2, 2 * 98 + 2, 3)

    img = osp.join(trained['root'], 'images', 'test', '000000.png')
    demo_out = str(tmp_path / 'demo.png')
    r = run(['demo/image_demo.py', img, CONFIG, ckpt, '--out', demo_out, '--bbox', '20', '20', '108', '108'],
            repo_root)
    assert '1 face(s)' in r.stdout and cv2.imread(demo_out).shape == (128, 128, 3)
    blank = str(tmp_path / 'blank.png')
    cv2.imwrite(blank, np.full((96, 96, 3), 127, np.uint8))
    r = subprocess.run([sys.executable, 'demo/image_demo.py', blank, CONFIG, ckpt, '--out', demo_out],
                       cwd=repo_root, capture_output=True, text=True)
    assert r.returncode != 0 and 'no face found' in r.stderr and '--bbox' in r.stderr
