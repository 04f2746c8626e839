# Copyright (c) mmfacealign contributors. All rights reserved.
"""Does HOFS find harder occlusions than random placement? (SRN Sec. 3.2, Eq. 10.)

Loads a HOFS fine-tuning checkpoint (its Q-net and its frozen copy of the pre-trained SRN) and, on the test clips of
the config, compares the reward, i.e. the frozen model's inter-ocular NME with its state carried over each clip, of

* the clean clips,
* random placement (RSF: the noise patch around a uniformly random landmark on every frame),
* a random walk over the HOFS actions (l-1, l, l+1 chosen uniformly: epsilon = 1),
* greedy HOFS (the Q-net's highest value among l-1, l, l+1 on every frame: epsilon = 0),

over several seeds (the random landmark of the first frame and the noise differ per seed):

    python projects/srn_video/tools/hofs_vs_random.py \\
        projects/srn_video/configs/srn-video_pcnn-s_hofs_synthface-video-128x128.py work_dirs/srn_video/hofs/epoch_1.pth
"""
import argparse
import os.path as osp
import sys
from unittest import mock

import numpy as np
import torch

_PROJECT = osp.dirname(osp.dirname(osp.abspath(__file__)))       # projects/srn_video: the srn_video package
sys.path[:0] = [_PROJECT, osp.dirname(osp.dirname(_PROJECT))]   # and the repository (mmfacealign)


def normalised_gt(data_samples, length: int) -> torch.Tensor:
    """Ground truth in normalised input coordinates (B, L, N, 2) from the test samples (no rotation at test)."""
    out = []
    for ds in data_samples:
        kp = torch.as_tensor(np.asarray(ds.gt_instances.keypoints)[0], dtype=torch.float32)
        centre = torch.as_tensor(np.asarray(ds.metainfo['input_center']), dtype=torch.float32)
        scale = torch.as_tensor(np.asarray(ds.metainfo['input_scale']), dtype=torch.float32)
        out.append((kp - (centre - scale / 2)) / scale)
    gt = torch.stack(out)
    return gt.view(-1, length, *gt.shape[1:])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('config')
    p.add_argument('checkpoint')
    p.add_argument('--seeds', type=int, default=3)
    p.add_argument('--cfg-options', nargs='+', default=[], help='key=value overrides (e.g. a data_root)')
    args = p.parse_args(argv)
    import srn_video  # noqa: F401
    from mmengine.config import Config, DictAction
    from mmengine.registry import init_default_scope
    from mmengine.runner import Runner, load_checkpoint
    from mmpose.models import build_pose_estimator
    from mmpose.registry import MODELS
    from srn_video.hofs import rewards, synthesizers
    init_default_scope('mmpose')
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        parser = argparse.ArgumentParser()
        parser.add_argument('--o', nargs='+', action=DictAction)
        cfg.merge_from_dict(parser.parse_args(['--o', *args.cfg_options]).o)
    model = build_pose_estimator(cfg.model)
    load_checkpoint(model, args.checkpoint, map_location='cpu')
    model.eval()
    synth = model.occlusion_synthesis
    if not hasattr(synth, 'q_net') or model.reward_model is None or not bool(model.hofs_ready):
        sys.exit(f'hofs_vs_random: {args.checkpoint} is not a HOFS fine-tuning checkpoint of {args.config} '
                 '(no trained Q-net and frozen reward model)')
    rsf = MODELS.build(dict(type='RandomOcclusionSynthesis', mean=model.data_preprocessor.mean.flatten().tolist(),
                            std=model.data_preprocessor.std.flatten().tolist()))
    loader = Runner.build_dataloader(dict(cfg.test_dataloader, num_workers=0, persistent_workers=False))

    def clip_reward(images, gt):
        hidden, out = None, []
        for t in range(images.shape[1]):
            r, hidden = rewards.reward_step(model._reward_step, images[:, t], hidden, gt[:, t])
            out.append(r)
        return torch.stack(out, 1)                                   # (B, L)

    results = {k: [] for k in ('clean', 'random placement', 'random walk (eps 1)', 'greedy HOFS (eps 0)')}
    for seed in range(args.seeds):
        torch.manual_seed(seed)
        sums = {k: [] for k in results}
        for batch in loader:
            data = model.data_preprocessor(batch, False)
            length = model.clip_length(data['data_samples'])
            n, c, h, w = data['inputs'].shape
            images = data['inputs'].view(n // length, length, c, h, w)
            gt = normalised_gt(data['data_samples'], length)
            with torch.no_grad():
                sums['clean'].append(clip_reward(images, gt))
                sums['random placement'].append(clip_reward(rsf.synthesize(images, gt)[0], gt))
                orig = synthesizers.epsilon_greedy
                with mock.patch.object(synthesizers, 'epsilon_greedy', lambda q, eps, generator=None: orig(q, 1.)):
                    sums['random walk (eps 1)'].append(clip_reward(synth.synthesize(images, gt)[0], gt))
                sums['greedy HOFS (eps 0)'].append(clip_reward(synth.synthesize(images, gt)[0], gt))
        for k, v in sums.items():
            results[k].append(float(torch.cat(v).mean()))
    print(f'reward = NME % of the frozen pre-trained SRN, {args.seeds} seeds (mean +- std over seeds)')
    for k, v in results.items():
        print(f'{k:<22} {100 * np.mean(v):6.3f} +- {100 * np.std(v):.3f}   per seed: '
              + ' '.join(f'{100 * x:.3f}' for x in v))


if __name__ == '__main__':
    main()
