# Copyright (c) mmfacealign contributors. All rights reserved.
"""ResumableEpochBasedTrainLoop on a toy model, in process: resumed from a mid-epoch iteration checkpoint, or from
one saved at an epoch's last iteration (before the epoch's end hooks), it ends with the uninterrupted run's weights,
having loaded only the samples it still had to train on; mmengine's EpochBasedTrainLoop (shown for contrast) trains
the resumed epoch's first batches again; a dataloader with another batch count resumes at the epoch's start with a
warning. The seeded augmentation (SeededAugmentSampler) makes the noise added to each sample the same in all runs."""
import os.path as osp

import numpy as np
import torch
from mmengine.model import BaseModel
from torch import nn

from mmfacealign.datasets import seeded_augmentation

EPOCHS, SAMPLES, BATCH = 3, 12, 2          # 6 batches per epoch, 18 iterations; a checkpoint every 4 iterations


class NoisyLine(torch.utils.data.Dataset):
    """y = 3 x - 1 with random noise on x drawn from np.random (seeded per sample by a SeededIndex); counts loads."""

    loads = 0

    def __len__(self):
        return SAMPLES

    def __getitem__(self, idx):
        NoisyLine.loads += 1
        with seeded_augmentation(getattr(idx, 'aug_seed', None)):
            x = int(idx) / SAMPLES + 0.1 * np.random.randn()
        return dict(inputs=torch.tensor([x, 3 * x - 1], dtype=torch.float32))


class Line(BaseModel):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(1, 1)

    def forward(self, inputs, data_samples=None, mode='loss'):
        xy = torch.stack(inputs)
        return dict(loss=((self.fc(xy[:, :1]) - xy[:, 1:]) ** 2).mean())


def _run(work, name, loop='ResumableEpochBasedTrainLoop', resume=None, batch=BATCH):
    from mmengine.runner import Runner
    torch.manual_seed(0)
    NoisyLine.loads = 0
    runner = Runner(
        model=Line(), work_dir=work, experiment_name=name, randomness=dict(seed=0),
        train_dataloader=dict(dataset=NoisyLine(), batch_size=batch, num_workers=0,
                              sampler=dict(type='SeededAugmentSampler', shuffle=True)),
        train_cfg=dict(type=loop, max_epochs=EPOCHS),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1, momentum=0.9)),
        param_scheduler=[dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=10),
                         dict(type='MultiStepLR', by_epoch=True, milestones=[2], gamma=0.5)],
        default_hooks=dict(checkpoint=dict(type='AtomicCheckpointHook', interval=4, by_epoch=False),
                           logger=dict(type='LoggerHook', interval=100)),
        load_from=resume, resume=resume is not None,
        default_scope='mmpose', env_cfg=dict(dist_cfg=dict(backend='gloo')), log_level='WARNING')
    runner.train()
    return runner, torch.cat([p.detach().flatten() for p in runner.model.parameters()])


def test_resume_mid_epoch_and_at_epoch_end_match_uninterrupted(tmp_path):
    ref_runner, ref = _run(str(tmp_path / 'ref'), 'loop_ref')
    assert ref_runner.iter == EPOCHS * SAMPLES // BATCH and NoisyLine.loads == EPOCHS * SAMPLES
    # iter_8: epoch 2 after 2 of its 6 batches; iter_12: epoch 2's last iteration, before its end hooks
    for ckpt, loads in (('iter_8.pth', 4 * BATCH + SAMPLES), ('iter_12.pth', SAMPLES)):
        runner, weights = _run(str(tmp_path / ckpt), f'loop_{ckpt}', resume=osp.join(str(tmp_path / 'ref'), ckpt))
        assert runner.iter == ref_runner.iter
        assert NoisyLine.loads == loads, (ckpt, NoisyLine.loads)          # skipped batches were not loaded
        assert torch.equal(weights, ref), (ckpt, weights, ref)


def test_mmengine_epoch_loop_repeats_the_resumed_epoch(tmp_path):
    _, ref = _run(str(tmp_path / 'ref'), 'stock_ref', loop='EpochBasedTrainLoop')
    runner, weights = _run(str(tmp_path / 'resumed'), 'stock_resumed', loop='EpochBasedTrainLoop',
                           resume=osp.join(str(tmp_path / 'ref'), 'iter_8.pth'))
    assert runner.iter == EPOCHS * SAMPLES // BATCH + 2                 # the 2 trained batches ran again
    assert not torch.equal(weights, ref)


def test_changed_batch_count_restarts_the_epoch_with_a_warning(tmp_path, capsys):
    _run(str(tmp_path / 'ref'), 'batch_ref')
    runner, _ = _run(str(tmp_path / 'resumed'), 'batch_resumed', resume=osp.join(str(tmp_path / 'ref'), 'iter_8.pth'),
                     batch=3)
    assert NoisyLine.loads == 2 * SAMPLES                               # epochs 2 and 3 in full
    assert 'saved with 6 batches per epoch, train_dataloader now gives 4' in capsys.readouterr().out
