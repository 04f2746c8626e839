# Copyright (c) mmfacealign contributors. All rights reserved.
"""tools/dist_train.sh runs DDP through torchrun; on a machine without CUDA it falls back to gloo on the CPU."""
import glob
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch


@pytest.mark.skipif(torch.cuda.is_available(), reason='checks the CPU (gloo) path')
def test_dist_train_two_cpu_processes(synthface_root, repo_root, tmp_path):
    root = synthface_root + '/'
    work = str(tmp_path / 'ddp')
    env = dict(os.environ, PATH=osp.dirname(sys.executable) + os.pathsep + os.environ['PATH'],
               PORT='29517', OMP_NUM_THREADS='1')
    r = subprocess.run(
        ['bash', 'tools/dist_train.sh', 'configs/baselines/td-reg_res18-w32_1xb64-15e_synthface-128x128.py', '2',
         '--work-dir', work, '--cfg-options', 'train_cfg.max_epochs=1', 'train_dataloader.batch_size=16',
         f'train_dataloader.dataset.data_root={root}', f'val_dataloader.dataset.data_root={root}',
         'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
         'val_dataloader.num_workers=0', 'val_dataloader.persistent_workers=False'],
        cwd=repo_root, capture_output=True, text=True, env=env)
    log = r.stdout + r.stderr
    assert r.returncode == 0, log[-3000:]
    # 192 faces over 2 processes x batch 16 = 6 iterations per epoch, and one checkpoint written by rank 0
    assert 'Epoch(train) [1][6/6]' in log
    assert 'Distributed training: True' in log
    assert glob.glob(osp.join(work, 'epoch_1.pth'))
