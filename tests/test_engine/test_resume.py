# Copyright (c) mmfacealign contributors. All rights reserved.
"""Exact resume after a hard kill: per-sample augmentation seeds (SeededAugmentSampler), mid-epoch batch skipping
(ResumableEpochBasedTrainLoop), atomic checkpoints (AtomicCheckpointHook) and auto-resume that skips truncated
checkpoints (find_resumable_checkpoint).

The end-to-end test SIGKILLs a ``tools/train.py`` run of the baseline (its process group, DataLoader worker
included) right after it saved a mid-epoch iteration checkpoint, leaves a truncated newer checkpoint in the work
dir, resumes with ``--resume`` and compares the final weights with an uninterrupted run. One family is enough: the
mechanism (sampler, loop, hook) is the same for every config built on the baseline, and the model-specific part,
the training step, is covered for every family by tests/test_tools/test_determinism.py."""
import os
import os.path as osp
import pickle
import random
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import torch

from mmfacealign.datasets import SeededAugmentSampler, SeededIndex, augmentation_seed
from mmfacealign.engine.hooks import find_resumable_checkpoint, is_complete_checkpoint

sys.path.insert(0, osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'test_tools'))
from e2e_utils import synthface_options  # noqa: E402

CONFIG = 'configs/baselines/td-reg_res18-w32_1xb64-15e_synthface-128x128.py'
#: max abs difference allowed between the resumed and the uninterrupted final weights. Same machine, same thread
#: count, same data order and augmentation: the arithmetic is the same, so it is 0 (measured 0.0)
WEIGHT_TOLERANCE = 0.0


# ---------------------------------------------------------------------------------------------- sampler and data
def test_sampler_tags_default_sampler_order_with_seeds():
    data = list(range(20))
    plain = SeededAugmentSampler(data, shuffle=True, seed=7, seed_augmentation=False)
    seeded = SeededAugmentSampler(data, shuffle=True, seed=7)
    for epoch in (0, 1):
        plain.set_epoch(epoch)
        seeded.set_epoch(epoch)
        a, b = list(plain), list(seeded)
        assert a == b and all(type(i) is int for i in a)               # DefaultSampler's order, untouched
        assert all(i.aug_seed == augmentation_seed(7, epoch, int(i)) for i in b)
    assert augmentation_seed(7, 0, 3) != augmentation_seed(7, 1, 3) != augmentation_seed(7, 0, 4)
    i = pickle.loads(pickle.dumps(SeededIndex(3, 12345)))                # how indices reach DataLoader workers
    assert (int(i), i.aug_seed, [10, 11, 12, 13][i]) == (3, 12345, 13)


def test_sample_augmentation_depends_on_seed_only(synthface_root, repo_root):
    """The same SeededIndex gives the same augmented sample whatever the global random state before it, leaves
    that state untouched, and another epoch's seed gives another augmentation."""
    from mmengine.config import Config
    from mmpose.registry import DATASETS
    from mmpose.utils import register_all_modules
    register_all_modules()
    cfg = Config.fromfile(osp.join(repo_root, CONFIG)).train_dataloader.dataset
    cfg.data_root = synthface_root.rstrip('/') + '/'
    dataset = DATASETS.build(cfg)

    def sample(idx):
        return dataset[idx]['inputs'].numpy()

    np.random.seed(0)
    random.seed(0)
    first = sample(SeededIndex(5, augmentation_seed(0, 2, 5)))
    np.random.rand(17)                                                   # another prior state
    state = np.random.get_state()[1].copy(), random.getstate()
    again = sample(SeededIndex(5, augmentation_seed(0, 2, 5)))
    assert np.array_equal(first, again)
    assert np.array_equal(np.random.get_state()[1], state[0]) and random.getstate() == state[1]
    others = [sample(SeededIndex(5, augmentation_seed(0, e, 5))) for e in (3, 4, 5)]
    assert any(not np.array_equal(first, o) for o in others)


# ----------------------------------------------------------------------------------- checkpoint files and a kill
def _torch_bytes(obj) -> bytes:
    import io
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def test_find_resumable_checkpoint(tmp_path):
    work = str(tmp_path)
    assert find_resumable_checkpoint(work) is None                      # nothing saved: train from scratch
    old, new = osp.join(work, 'iter_5.pth'), osp.join(work, 'iter_10.pth')
    data = _torch_bytes({'meta': {'iter': 5}, 'state_dict': {'w': torch.arange(50000.)}})
    with open(old, 'wb') as f:
        f.write(data)
    with open(osp.join(work, 'best_NME_iter_10.pth'), 'wb') as f:        # no optimizer state: never resumed
        f.write(data)
    assert find_resumable_checkpoint(work) == old                        # no last_checkpoint: newest complete
    time.sleep(0.01)
    with open(new, 'wb') as f:                                           # newer, cut short by a kill
        f.write(data[:len(data) // 2])
    os.utime(new)
    assert is_complete_checkpoint(old) and not is_complete_checkpoint(new)
    record = osp.join(work, 'last_checkpoint')
    for content in (new, '', osp.join(work, 'iter_99.pth')):             # truncated, empty, missing
        with open(record, 'w') as f:
            f.write(content)
        assert find_resumable_checkpoint(work) == old
    os.remove(old)
    with pytest.raises(FileNotFoundError, match='last_checkpoint.*no other complete checkpoint'):
        find_resumable_checkpoint(work)


KILL_DURING_SAVE = textwrap.dedent('''
    import os, sys, time, types
    import torch
    from mmengine.hooks import CheckpointHook
    from mmengine.logging import MessageHub, MMLogger
    from mmfacealign.engine.hooks import AtomicCheckpointHook

    work, hook_type = sys.argv[1], sys.argv[2]

    class FakeRunner:
        """What CheckpointHook uses of a Runner; the second save stops half written until killed."""
        work_dir, epoch, iter, max_iters = work, 0, 0, 100
        logger = MMLogger.get_instance('kill_during_save')
        message_hub = MessageHub.get_instance('kill_during_save')
        train_loop = types.SimpleNamespace(max_iters=100)

        def save_checkpoint(self, out_dir, filename, *args, **kwargs):
            data = {'meta': {'iter': self.iter + 1}, 'state_dict': {'w': torch.zeros(200000)}}
            path = os.path.join(out_dir, filename)
            import io
            buf = io.BytesIO()
            torch.save(data, buf)
            data = buf.getvalue()
            with open(path, 'wb') as f:
                if self.iter + 1 == 5:
                    f.write(data)
                    return
                f.write(data[:len(data) // 2])
                f.flush()
                os.fsync(f.fileno())
                print('WRITING', flush=True)
                time.sleep(60)
                f.write(data[len(data) // 2:])

    hook = {'atomic': AtomicCheckpointHook, 'stock': CheckpointHook}[hook_type](
        interval=5, by_epoch=False, max_keep_ckpts=1)
    runner = FakeRunner()
    hook.before_train(runner)
    for it in (4, 9):
        runner.iter = it
        hook.after_train_iter(runner, batch_idx=it)
''')


def test_kill_during_checkpoint_save(tmp_path, repo_root):
    """SIGKILL a process while its checkpoint hook writes iter_10.pth (after iter_5.pth, max_keep_ckpts=1), once
    with each hook (two processes side by side). AtomicCheckpointHook: iter_5.pth is kept and named by
    last_checkpoint, iter_10.pth does not exist (only its .partial file); mmengine's CheckpointHook (for contrast):
    iter_5.pth already deleted, iter_10.pth truncated, last_checkpoint names the deleted file: nothing to resume."""
    procs = {}
    for hook in ('atomic', 'stock'):
        work = str(tmp_path / hook)
        os.makedirs(work)
        procs[hook] = (work, subprocess.Popen([sys.executable, '-c', KILL_DURING_SAVE, work, hook], cwd=repo_root,
                                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    for hook, (work, proc) in procs.items():
        seen = []
        for line in proc.stdout:                                         # mmengine logs to stdout first
            seen.append(line)
            if line.strip() == 'WRITING':
                break
        assert seen and seen[-1].strip() == 'WRITING', ''.join(seen) + proc.stderr.read()
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        with open(osp.join(work, 'last_checkpoint')) as f:
            assert f.read().strip() == osp.join(work, 'iter_5.pth')
        names = sorted(os.listdir(work))
        if hook == 'atomic':
            assert names == ['.iter_10.pth.partial', 'iter_5.pth', 'last_checkpoint'], names
            assert find_resumable_checkpoint(work) == osp.join(work, 'iter_5.pth')
        else:
            assert names == ['iter_10.pth', 'last_checkpoint'], names
            assert not is_complete_checkpoint(osp.join(work, 'iter_10.pth'))
            with pytest.raises(FileNotFoundError, match='does not exist'):
                find_resumable_checkpoint(work)


# ------------------------------------------------------------------------------------ kill a training, resume it
# 48 faces / batch 8 = 6 iterations per epoch, 2 epochs; an iteration checkpoint every 4 iterations (none at an
# epoch end but the last), the warm-up (by iteration) and a step decay after epoch 1 (by epoch) both cross the kill
def _train_cmd(root, work):
    opts = [o for o in synthface_options(root) if not o.startswith('val_')] + [   # --no-validate
        'train_dataloader.num_workers=1', 'train_dataloader.persistent_workers=True',   # a worker, as configs do
        'train_dataloader.dataset.indices=48', 'train_dataloader.batch_size=8', 'train_cfg.max_epochs=2',
        'default_hooks.logger.interval=1', 'default_hooks.checkpoint.by_epoch=False',
        'default_hooks.checkpoint.interval=4', 'default_hooks.checkpoint.save_best=None',
        'param_scheduler.0.end=20', 'param_scheduler.1.milestones=[1]', 'randomness.seed=0']
    return [sys.executable, 'tools/train.py', CONFIG, '--work-dir', work, '--no-validate', '--cfg-options', *opts]


def _env():
    # one thread: the same in the three runs (the arithmetic, hence the comparison, depends on it), and no OpenMP
    # spin-waiting when other jobs share the cores (measured: 2 threads under load took 4-8 s per iteration)
    return dict(os.environ, OMP_NUM_THREADS='1')


def _weights(path):
    return torch.load(path, map_location='cpu', weights_only=False)['state_dict']


def test_sigkill_mid_epoch_then_resume_matches_uninterrupted(synthface_root, repo_root, tmp_path):
    full, killed = str(tmp_path / 'full'), str(tmp_path / 'killed')
    # the uninterrupted run and the run to kill side by side (one thread each)
    ref_log = open(tmp_path / 'full.log', 'w')
    ref = subprocess.Popen(_train_cmd(synthface_root, full), cwd=repo_root, env=_env(), stdout=ref_log,
                           stderr=subprocess.STDOUT)
    # kill the whole process group (the DataLoader worker too) as soon as the first iteration checkpoint exists
    log = open(tmp_path / 'killed.log', 'w')
    proc = subprocess.Popen(_train_cmd(synthface_root, killed), cwd=repo_root, env=_env(), stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    first = osp.join(killed, 'iter_4.pth')
    deadline = time.time() + 180
    while not (osp.isfile(osp.join(killed, 'last_checkpoint')) and osp.isfile(first)):
        assert proc.poll() is None and time.time() < deadline, open(tmp_path / 'killed.log').read()[-3000:]
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    log.close()
    assert proc.returncode == -signal.SIGKILL
    text = open(tmp_path / 'killed.log').read()
    done = re.findall(r'Epoch\(train\)\s*\[(\d+)\]\[\s*(\d+)/\d+\]', text)
    print(f'killed after logged iteration {done[-1] if done else None} (epoch, batch)')
    assert not osp.isfile(osp.join(killed, 'iter_8.pth'))
    assert ref.wait(timeout=300) == 0, open(tmp_path / 'full.log').read()[-3000:]
    ref_log.close()

    # a newer checkpoint cut short by the kill, named by last_checkpoint (what mmengine's in-place save can
    # leave), and a stale .partial file: neither may be resumed from
    complete = open(osp.join(killed, 'last_checkpoint')).read().strip()
    assert complete == first, complete
    data = open(first, 'rb').read()
    truncated = osp.join(killed, 'iter_8.pth')
    with open(truncated, 'wb') as f:
        f.write(data[:len(data) // 2])
    shutil.copy(truncated, osp.join(killed, '.iter_12.pth.partial'))
    with open(osp.join(killed, 'last_checkpoint'), 'w') as f:
        f.write(truncated)

    r = subprocess.run(_train_cmd(synthface_root, killed) + ['--resume'], cwd=repo_root, env=_env(),
                       capture_output=True, text=True)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-3000:]
    assert f'resuming from the newest complete checkpoint, {first}' in out, out[-3000:]
    assert 'resumed epoch: 0, iter: 4' in out, out[-3000:]
    assert 'after its first 4 of 6 batches (already trained), skipped in the sampler' in out, out[-3000:]
    assert not osp.exists(osp.join(killed, '.iter_12.pth.partial'))

    a, b = _weights(osp.join(full, 'iter_12.pth')), _weights(osp.join(killed, 'iter_12.pth'))
    assert a.keys() == b.keys()
    diff = max(float((a[k].double() - b[k].double()).abs().max()) if a[k].numel() else 0. for k in a)
    print(f'max abs weight difference, resumed vs uninterrupted: {diff:g}')
    assert diff <= WEIGHT_TOLERANCE
