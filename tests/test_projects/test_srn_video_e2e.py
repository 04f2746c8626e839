# Copyright (c) mmfacealign contributors. All rights reserved.
"""SRN video mode end to end through the mmengine runner: HOFS fine-tuning of a (randomly initialised, mean-shape-
set) SRN checkpoint on SynthFace video clips lowers both the SRN loss and the Q-net's Bellman loss, is interrupted
after 4 of 5 epochs and resumed (--resume) with the Q-net, frozen reward copy and replay memory restored, and tests
every frame (ClipTestLoop) with per-category NME and the temporal jitter; eval_tracker and hofs_vs_random run."""
import json
import os.path as osp
import sys

import numpy as np
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpose.models import build_pose_estimator

sys.path.insert(0, osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'test_tools'))
from e2e_utils import load_tool, read_scalars, run  # noqa: E402

CONFIG = 'projects/srn_video/configs/srn-video_pcnn-s_hofs_synthface-video-128x128.py'


def _pretrained(repo_root, path):
    """A checkpoint of the image SRN (SynthFace config) with seeded weights and a mean shape: what HOFS loads."""
    init_default_scope('mmpose')
    cfg = Config.fromfile(osp.join(repo_root, 'configs/srn/td-srn_pcnn-s_1xb64-15e_synthface-128x128.py'))
    torch.manual_seed(0)
    model = build_pose_estimator(cfg.model)
    model.init_weights()
    model.head.set_mean_shape(torch.rand(68, 2) * 0.4 + 0.3)
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), path)


def _options(root):
    root = root.rstrip('/') + '/'
    opts = [f'train_dataloader.dataset.dataset.data_root={root}', f'val_dataloader.dataset.dataset.data_root={root}',
            f'test_dataloader.dataset.dataset.data_root={root}']
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        opts += [f'{loader}.num_workers=0', f'{loader}.persistent_workers=False']
    # training clips of 3 frames every 8 (the test clips stay 8): 6 videos x 16 frames -> 12 clips; 2 clips a batch:
    # 6 iterations an epoch, 5 epochs = 30 (evaluation by tools/test.py only); 2 cascade iterations instead of the
    # config's 3 (the cascade still runs; a third of the compute less)
    return opts + ['train_dataloader.batch_size=2', 'train_dataloader.dataset.clip_len=3',
                   'model.head.num_iterations=2',
                   'train_dataloader.dataset.stride=8', 'train_cfg.max_epochs=5', 'train_cfg.val_begin=100',
                   'default_hooks.checkpoint.interval=1', 'default_hooks.logger.interval=1', 'randomness.seed=0',
                   'optim_wrapper.optimizer.lr=5e-4', 'model.q_only_iters=4',
                   'model.occlusion_synthesis.epsilon.steps=20', 'model.occlusion_synthesis.batch_size=16',
                   # gamma 0 for the first 4 epochs: the Bellman target (Eq. 11) is the reward itself, a fixed
                   # regression target that loss_q must fit (with gamma > 0 the targets move with Q and loss_q need
                   # not fall in a short run); the resumed epoch runs the config's gamma 0.9 (next states, bootstrap)
                   'model.occlusion_synthesis.gamma=0.0']


def test_hofs_fine_tuning_trains_resumes_and_tests_every_frame(synthface_video_root, repo_root, tmp_path, capsys):
    work = str(tmp_path / 'hofs')
    ckpt = str(tmp_path / 'pretrained.pth')
    _pretrained(repo_root, ckpt)
    opts = _options(synthface_video_root)
    # 4 epochs, then a resumed run to 5: the Q-net, the frozen copy and the replay memory come back
    run(['tools/train.py', CONFIG, '--work-dir', work, '--cfg-options', f'load_from={ckpt}', *opts,
         'train_cfg.max_epochs=4'], repo_root)
    first = read_scalars(work)
    resumed = run(['tools/train.py', CONFIG, '--work-dir', work, '--resume', '--cfg-options', *opts,
                   'model.occlusion_synthesis.gamma=0.9'], repo_root)
    log = resumed.stdout + resumed.stderr
    assert 'reward model and Q-net come from the checkpoint' in log and 'replay memory restored' in log, log[-2000:]
    last = read_scalars(work)                                    # the resumed run's log
    logs = first + last
    kpt = np.array([e['loss_kpt'] for e in logs if 'loss_kpt' in e])
    q = np.array([e['loss_q'] for e in first if 'loss_q' in e])
    assert len(q) == 24 and len(kpt) == 26, (len(q), len(kpt))          # 24 + 6 iterations, 4 of them Q-only
    # seeded (mean of the last vs the first 5 logged values): loss_kpt over 26 iterations, loss_q over the 24
    # of gamma 0
    assert kpt[-5:].mean() < 0.9 * kpt[:5].mean(), kpt
    assert q[-5:].mean() < 0.75 * q[:5].mean(), q
    # gamma 0 bootstraps nothing; with gamma 0.9 the targets take the next frames' values (Eq. 11), and loss_q
    # stays finite
    assert all(e['hofs_bootstrap'] == 0 for e in first if 'hofs_bootstrap' in e)
    boot = np.array([e['hofs_bootstrap'] for e in last if 'hofs_bootstrap' in e])
    q_last = np.array([e['loss_q'] for e in last if 'loss_q' in e])
    assert len(boot) == 6 and (boot != 0).all() and np.isfinite(q_last).all(), (boot, q_last)
    state = torch.load(osp.join(work, 'epoch_5.pth'), map_location='cpu', weights_only=False)
    assert bool(state['state_dict']['hofs_ready']) and len(state['hofs_replay']) > 0
    # the frozen reward copy is the loaded checkpoint's head, untouched by fine-tuning
    pre = torch.load(ckpt, map_location='cpu')['state_dict']
    torch.testing.assert_close(state['state_dict']['reward_model.head.hsrm.memory.weight'],
                               pre['head.hsrm.memory.weight'])
    assert not torch.allclose(state['state_dict']['head.hsrm.memory.weight'], pre['head.hsrm.memory.weight'])

    # the placement comparison tool runs on the checkpoint (its Q-net and frozen copy) and the config's test clips
    sys.path.insert(0, osp.join(repo_root, 'projects', 'srn_video', 'tools'))
    import hofs_vs_random
    hofs_vs_random.main([osp.join(repo_root, CONFIG), osp.join(work, 'epoch_5.pth'), '--seeds', '1', '--cfg-options',
                         f'test_dataloader.dataset.dataset.data_root={synthface_video_root}/'])
    printed = capsys.readouterr().out
    rewards = {line.split('  ')[0].strip(): float(line.split()[-1]) for line in printed.splitlines()
               if 'per seed' in line}
    assert len(rewards) == 4 and all(v > 0 for v in rewards.values()), printed

    # tools/test.py in this process (a subprocess would spend most of its time importing)
    out = osp.join(work, 'metrics.json')
    load_tool('tools/test.py').main([osp.join(repo_root, CONFIG), osp.join(work, 'epoch_5.pth'), '--work-dir', work,
                                     '--out', out, '--cfg-options', *opts])
    with open(out) as f:
        metrics = json.load(f)
    for key in ('NME', 'category1/NME', 'category2/NME', 'category3/NME', 'jitter'):
        assert np.isfinite(metrics[key]) and metrics[key] > 0, (key, metrics)
    # every frame is scored: 3 test videos x 16 frames (ClipTestLoop), not one frame per clip
    per_image = [osp.join(dp, f) for dp, _, fs in __import__('os').walk(work) for f in fs
                 if f == 'face_alignment.per_image.json']
    with open(sorted(per_image)[-1]) as f:
        assert json.load(f)['num_images'] == 48


def test_eval_tracker_reports_every_category(synthface_video_root, repo_root, tmp_path, capsys):
    """projects/srn_video/tools/eval_tracker.py on the small SynthFace video: tracker and per-frame rows per
    category, finite NME, a fps figure, and the json."""
    sys.path.insert(0, osp.join(repo_root, 'projects', 'srn_video', 'tools'))
    import eval_tracker
    ckpt = str(tmp_path / 'pretrained.pth')
    _pretrained(repo_root, ckpt)
    out = str(tmp_path / 'tracker.json')
    config = osp.join(repo_root, 'configs/srn/td-srn_pcnn-s_1xb64-15e_synthface-128x128.py')
    eval_tracker.main([config, ckpt, '--data-root', synthface_video_root, '--out', out])
    printed = capsys.readouterr().out
    assert all(f'category{k}' in printed for k in (1, 2, 3)) and 'fps' in printed
    with open(out) as f:
        result = json.load(f)
    assert len(result['videos']) == 3 and result['fps_model'] > 0
    for row in result['videos'].values():
        assert np.isfinite(row['per_frame_nme']) and row['per_frame_nme'] > 0
