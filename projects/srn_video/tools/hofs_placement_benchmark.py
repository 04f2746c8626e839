# Copyright (c) mmfacealign contributors. All rights reserved.
"""Does Q-learning make HOFS place harder occlusions? A small seeded benchmark (SRN Sec. 3.2, Eq. 10-12).

A frozen landmark model that never saw occlusion (a ridge regression from 4x4-pooled pixels, fitted on clean
64-px SynthFace-like frames; a randomly initialised SRN scores the same NME wherever the patch goes, so there is
nothing to learn against it) gives the reward: its inter-ocular NME on the occluded frame. On held-out clips the
mean reward of each placement is compared, the same frames and evaluation seeds for all:

* ``random``: RSF, the noise patch around a uniformly random landmark on every frame;
* ``random_walk``: HOFS's actions l-1 / l / l+1 chosen uniformly (epsilon = 1);
* ``untrained_q``: greedy HOFS with the Q-net at its initialisation (no learning);
* ``trained_q``: greedy HOFS after ``--iters`` Q-learning updates against the frozen model.

Only ``trained_q`` above both ``random_walk`` and ``untrained_q`` says that learning found harder placements; above
``random`` alone it does not (an untrained Q-net that sticks to neighbouring landmarks can beat random placement).
Each training seed trains its own Q-net::

    python projects/srn_video/tools/hofs_placement_benchmark.py --seeds 0 1 2 3 --gamma 0.9 --out result.json
"""
import argparse
import json
import os.path as osp
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

_PROJECT = osp.dirname(osp.dirname(osp.abspath(__file__)))       # projects/srn_video: the srn_video package
sys.path[:0] = [_PROJECT, osp.dirname(osp.dirname(_PROJECT))]   # and the repository (mmfacealign)

MEAN, STD = (123.675, 116.28, 103.53), (58.395, 57.12, 57.375)


def make_clips(num, length, size, seed):
    """``num`` clips of ``length`` frames, (num, L, 3, size, size) normalised, and their landmarks (normalised)."""
    from mmfacealign.datasets.synthface.renderer import render_background, render_face, sample_style
    from mmfacealign.datasets.synthface.shape_model import PointDistributionModel, place_shape, pose_shape
    pdm = PointDistributionModel.builtin()
    imgs, pts_all = np.zeros((num, length, size, size, 3), np.uint8), np.zeros((num, length, 68, 2))
    for c in range(num):
        rng = np.random.default_rng([seed, c])
        base, style, bg = pdm.sample(rng), sample_style(rng), render_background(rng, size, size)
        yaw0, roll0, dyaw, droll = rng.normal(0, 15), rng.normal(0, 8), rng.normal(0, 1.5), rng.normal(0, 1)
        centre0, shift, face = size / 2 + rng.uniform(-.03, .03, 2) * size, rng.normal(0, .3, 2), \
            rng.uniform(.72, .88) * size
        for t in range(length):
            shape = pose_shape(base, pdm.depth, np.radians(yaw0 + dyaw * t), 0., np.radians(roll0 + droll * t))
            pts_all[c, t] = place_shape(shape, centre0 + shift * t, face)
            imgs[c, t] = bg
            render_face(imgs[c, t], pts_all[c, t], style, np.random.default_rng([seed, c, 1]))
    x = torch.from_numpy(imgs[..., ::-1].copy()).permute(0, 1, 4, 2, 3).float()
    x = (x - torch.tensor(MEAN)[:, None, None]) / torch.tensor(STD)[:, None, None]
    return x, torch.from_numpy(pts_all).float() / size


def ridge_model(x_fit, g_fit):
    """The frozen reward model: ridge regression from pooled grey pixels to the 136 coordinates."""
    def feats(img):
        pooled = F.avg_pool2d(img.mean(1, keepdim=True), 4).flatten(1)
        return torch.cat([pooled, torch.ones(len(pooled), 1)], 1)

    design, target = feats(x_fit.flatten(0, 1)), g_fit.flatten(0, 1).flatten(1)
    weights = torch.linalg.solve(design.T @ design + torch.eye(design.shape[1]), design.T @ target)

    def frozen(img, hidden):
        return (feats(img) @ weights).view(-1, 68, 2), None
    return frozen


def build_synthesizer(gamma, seed):
    from srn_video.hofs import HOFSSynthesizer
    torch.manual_seed(seed)
    synth = HOFSSynthesizer(q_net=dict(type='HOFSQNet', patch_size=12, hidden_channels=32,
                                       patch_cnn=dict(type='PatchCNN', channels=(8, 16), kernel_sizes=(3, 3),
                                                      init_std=0.25)),
                            batch_size=16, gamma=gamma, epsilon=dict(start=1.0, end=0.1, steps=30), replay_clips=8)
    synth.init_weights()
    return synth


def mean_reward(synthesizer, x_test, g_test, frozen, eval_seeds=(0, 1, 2)):
    rewards = []
    for seed in eval_seeds:
        torch.manual_seed(seed)
        rewards.append(synthesizer.synthesize(x_test, g_test, frozen, list(range(len(x_test))))[2]['hofs_reward'])
    return float(np.mean(rewards))


class RandomWalk(torch.nn.Module):
    """HOFS's actions chosen uniformly: the synthesizer in eval mode with epsilon forced to 1."""

    def __init__(self, synth):
        super().__init__()
        self.synth = synth

    def synthesize(self, *args, **kwargs):
        from srn_video.hofs import synthesizers
        was = self.synth.training
        original = synthesizers.epsilon_greedy
        synthesizers.epsilon_greedy = lambda q, eps: original(q, 1.0)
        try:
            self.synth.eval()
            return self.synth.synthesize(*args, **kwargs)
        finally:
            synthesizers.epsilon_greedy = original
            self.synth.train(was)


def run(seed, gamma, iters, data):
    from srn_video.hofs import RandomOcclusionSynthesis
    x_train, g_train, x_test, g_test, frozen = data
    synth = build_synthesizer(gamma, seed)
    row = dict(seed=seed, gamma=gamma, iters=iters)
    row['random'] = mean_reward(RandomOcclusionSynthesis(compute_reward=True), x_test, g_test, frozen)
    row['random_walk'] = mean_reward(RandomWalk(synth), x_test, g_test, frozen)
    row['untrained_q'] = mean_reward(synth.eval(), x_test, g_test, frozen)
    optim = torch.optim.Adam(synth.q_net.parameters(), lr=3e-3)
    synth.train()
    torch.manual_seed(seed)
    for _ in range(iters):
        idx = torch.randperm(len(x_train))[:4]
        _, losses, _ = synth.synthesize(x_train[idx], g_train[idx], frozen, idx.tolist())
        optim.zero_grad()
        losses['loss_q'].backward()
        optim.step()
    row['trained_q'] = mean_reward(synth.eval(), x_test, g_test, frozen)
    return row


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2, 3], help='training seeds (one Q-net each)')
    p.add_argument('--gamma', type=float, default=0.9)
    p.add_argument('--iters', type=int, default=60, help='Q-learning updates per seed')
    p.add_argument('--out', help='write the rows and their means as json')
    args = p.parse_args(argv)
    from mmpose.utils import register_all_modules

    import mmfacealign  # noqa: F401
    register_all_modules()
    import srn_video  # noqa: F401

    t0 = time.time()
    x_fit, g_fit = make_clips(160, 4, 64, 1)
    x_train, g_train = make_clips(32, 8, 64, 2)
    x_test, g_test = make_clips(16, 8, 64, 3)
    data = (x_train, g_train, x_test, g_test, ridge_model(x_fit, g_fit))
    rows = [run(s, args.gamma, args.iters, data) for s in args.seeds]
    cols = ('random', 'random_walk', 'untrained_q', 'trained_q')
    print(f'mean reward (NME of the frozen ridge model) on 16 held-out clips x 8 frames, 3 evaluation seeds; '
          f'gamma {args.gamma}, {args.iters} Q-learning updates')
    print('| training seed | ' + ' | '.join(cols) + ' |')
    print('|---|' + '---|' * len(cols))
    for r in rows:
        print(f'| {r["seed"]} | ' + ' | '.join(f'{r[c]:.4f}' for c in cols) + ' |')
    means = {c: float(np.mean([r[c] for r in rows])) for c in cols}
    print('| mean | ' + ' | '.join(f'{means[c]:.4f}' for c in cols) + ' |')
    wins = sum(r['trained_q'] > max(r['random_walk'], r['untrained_q']) for r in rows)
    print(f'trained Q-net above both the random walk and the untrained Q-net in {wins} of {len(rows)} seeds; '
          f'{time.time() - t0:.0f} s')
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(dict(rows=rows, means=means, wins=wins, seconds=round(time.time() - t0, 1)), f, indent=1)


if __name__ == '__main__':
    main()
