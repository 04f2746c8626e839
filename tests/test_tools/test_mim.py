# Copyright (c) mmfacealign contributors. All rights reserved.
"""The README's mim commands: `mim train mmfacealign CONFIG`, `mim test mmfacealign CONFIG --checkpoint CKPT` and
`mim train mmpose CONFIG` with a config of ours (a few iterations on the small SynthFace fixture)."""
import json
import os
import os.path as osp
import subprocess
import sys

CONFIG = 'configs/baselines/td-reg_res18-w32_1xb64-15e_synthface-128x128.py'
MIM = osp.join(osp.dirname(sys.executable), 'mim')


def mim(args, cwd):
    env = dict(os.environ, PATH=osp.dirname(sys.executable) + os.pathsep + os.environ['PATH'])
    r = subprocess.run([MIM, *args], cwd=cwd, capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return r.stdout + r.stderr


def test_mim_train_and_test(synthface_root, repo_root, tmp_path):
    root = synthface_root + '/'
    data = [f'train_dataloader.dataset.data_root={root}', f'val_dataloader.dataset.data_root={root}',
            *[f'test_dataloader.dataset.datasets.{i}.data_root={root}' for i in range(3)],
            'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
            'val_dataloader.num_workers=0', 'val_dataloader.persistent_workers=False',
            'test_dataloader.num_workers=0', 'test_dataloader.persistent_workers=False']
    short = ['train_cfg.max_epochs=1', 'train_cfg.val_interval=1', 'default_hooks.checkpoint.interval=1']
    for package in ('mmfacealign', 'mmpose'):
        work = str(tmp_path / package)
        log = mim(['train', package, CONFIG, '--work-dir', work, '--cfg-options', *data, *short], repo_root)
        assert 'Training command is' in log and osp.isfile(osp.join(work, 'epoch_1.pth')), log[-2000:]
        expected = 'mmfacealign/.mim/tools/train.py' if package == 'mmfacealign' else 'mmpose/.mim/tools/train.py'
        assert expected in log
    out = str(tmp_path / 'metrics.json')
    # mim finds our config by name in mmfacealign/.mim/configs
    ckpt = str(tmp_path / 'mmfacealign' / 'epoch_1.pth')
    log = mim(['test', 'mmfacealign', osp.basename(CONFIG), '--checkpoint', ckpt,
               '--work-dir', str(tmp_path / 'test'), '--out', out, '--cfg-options', *data], repo_root)
    with open(out) as f:
        metrics = json.load(f)
    assert {'clean/NME', 'occluded/NME', 'masked/NME', 'full/NME'} <= set(metrics), log[-2000:]
