# Copyright (c) mmfacealign contributors. All rights reserved.
"""HOFS (SRN Sec. 3.2, Eq. 10-12): actions, noise patch, Q-net, epsilon-greedy, replay, Bellman target, synthesizers."""

import numpy as np
import pytest
import torch
from srn_video.hofs import (
    ClipReplayMemory,
    EpsilonSchedule,
    HOFSQNet,
    HOFSSynthesizer,
    NoisePatchActions,
    NoOcclusion,
    RandomOcclusionSynthesis,
    adjacent_landmarks,
    bellman_targets,
    epsilon_greedy,
    interocular_nme,
    noise_patch_boxes,
    q_learning_loss,
)

from mmfacealign.datasets.transforms.occlusion import RandomNoisePatchOcclusion
from mmfacealign.models import SRNHead

SMALL_CNN = dict(type='PatchCNN', channels=(16, 32, 32), kernel_sizes=(5, 3, 3))
TINY_CNN = dict(type='PatchCNN', channels=(4, 8), kernel_sizes=(3, 3))
MEAN, STD = (123.675, 116.28, 103.53), (58.395, 57.12, 57.375)


def small_srn_head():
    return SRNHead(num_joints=68, patch_size=24, patch_cnn=SMALL_CNN, input_size=(128, 128),
                   hsrm=dict(type='HierarchicalStructuralRelation', region_channels=16, hidden_channels=16,
                             component_channels=8))


def random_faces(b, n=68, seed=0):
    g = torch.Generator().manual_seed(seed)
    return 0.25 + 0.5 * torch.rand(b, n, 2, generator=g)


# ------------------------------------------------------------------------------------------------------ actions
def test_adjacent_landmarks_wrap_and_clamp():
    prev = torch.tensor([0, 5, 67])
    assert adjacent_landmarks(prev, 68).tolist() == [[67, 0, 1], [4, 5, 6], [66, 67, 0]]
    assert adjacent_landmarks(prev, 68, mode='clamp').tolist() == [[0, 0, 1], [4, 5, 6], [66, 67, 67]]
    with pytest.raises(ValueError, match='mode'):
        adjacent_landmarks(prev, 68, mode='reflect')


@pytest.mark.parametrize('width', [128, 224])
def test_noise_patch_box_matches_the_image_transform(width):
    """The torch rule gives the box of mmfacealign's RandomNoisePatchOcclusion (centre, border rule, clipping)."""
    centres = np.array([[64.2, 70.7], [3., 5.], [width - 2., width - 40.], [30., width / 2], [width / 2, 31.]])
    corner, side = noise_patch_boxes(torch.as_tensor(centres), width, width)
    assert side == round(48 * width / 224)
    transform = RandomNoisePatchOcclusion(include_last=True)
    for i, c in enumerate(centres):
        kpts = np.zeros((1, 5, 2))
        kpts[0, i] = c
        np.random.seed(0)
        while True:                                    # the transform picks its landmark at random: retry until i
            res = transform(dict(img=np.zeros((width, width, 3), np.uint8), transformed_keypoints=kpts.copy()))
            if res['occlusion_landmark'] == i:
                break
        x1, y1 = corner[i].tolist()
        expected = (max(x1, 0), max(y1, 0), min(x1 + side, width), min(y1 + side, width))
        assert res['occlusion_bbox'] == expected


def test_paint_location_size_and_values():
    """128 px: side round(48 * 128 / 224) = 27, border rule 28.6 px (not triggered here); a landmark at pixel
    (64, 70): top-left round(64 - 13.5) = 50 and round(70 - 13.5) = 56 (half to even, as Python's round in the
    image transform), so columns 50..76 and rows 56..82 are noise, the rest untouched."""
    acts = NoisePatchActions(mean=MEAN, std=STD)
    img = torch.zeros(1, 3, 128, 128)
    lm = torch.full((1, 3, 2), 0.1)
    lm[0, 1] = torch.tensor([64 / 128, 70 / 128])
    out = acts.paint(img, lm, torch.tensor([1]), generator=torch.Generator().manual_seed(0))
    changed = (out != 0).any(1)[0]
    ys, xs = torch.nonzero(changed, as_tuple=True)
    assert (xs.min().item(), xs.max().item(), ys.min().item(), ys.max().item()) == (50, 76, 56, 82)
    assert changed.sum().item() == 27 * 27
    low = (0 - torch.tensor(MEAN)) / torch.tensor(STD)
    high = (255 - torch.tensor(MEAN)) / torch.tensor(STD)
    patch = out[0, :, 56:83, 50:77]
    assert ((patch >= low[:, None, None]) & (patch <= high[:, None, None])).all()
    # uniform over [0, 255]: the pixel-space mean of 2187 values is 127.5 +- 3 (3 sigma of 73.6 / sqrt(2187) ~ 4.7)
    pixels = patch * torch.tensor(STD)[:, None, None] + torch.tensor(MEAN)[:, None, None]
    assert abs(pixels.mean().item() - 127.5) < 5
    assert torch.equal(img, torch.zeros(1, 3, 128, 128))          # input untouched


def test_candidates_paint_around_their_landmarks():
    acts = NoisePatchActions()
    gt = random_faces(2, n=68, seed=1)
    img = torch.zeros(2, 3, 96, 96)
    cand, index = acts.candidates(img, gt, torch.tensor([0, 40]))
    assert cand.shape == (2, 3, 3, 96, 96) and index.tolist() == [[67, 0, 1], [39, 40, 41]]
    corner, side = noise_patch_boxes(gt[torch.arange(2)[:, None], index].reshape(-1, 2) * 96, 96, 96)
    for k, (x1, y1) in enumerate(corner.tolist()):
        changed = (cand.flatten(0, 1)[k] != 0).any(0)
        ys, xs = torch.nonzero(changed, as_tuple=True)
        assert (xs.min().item(), ys.min().item()) == (max(x1, 0), max(y1, 0))
        assert (xs.max().item(), ys.max().item()) == (min(x1 + side, 96) - 1, min(y1 + side, 96) - 1)


# ------------------------------------------------------------------------------------------------------ Q-net
def test_q_net_init_copies_the_srn_patch_cnn():
    torch.manual_seed(0)
    head = small_srn_head()
    head.init_weights()
    q_net = HOFSQNet(num_joints=68, patch_size=24, patch_cnn=SMALL_CNN)
    q_net.init_weights()
    src = head.patch_cnn.state_dict()
    assert not torch.equal(q_net.patch_cnn.state_dict()['layers.0.weight'], src['layers.0.weight'])
    q_net.init_from_srn(head)
    for key, value in src.items():
        assert torch.equal(q_net.patch_cnn.state_dict()[key], value)
    patches = q_net.state_patches(torch.randn(5, 3, 128, 128), random_faces(5))
    assert patches.shape == (5, 68, 3, 24, 24) and q_net(patches).shape == (5, )
    with pytest.raises(ValueError, match='patch_cnn'):
        HOFSQNet(patch_size=24, patch_cnn=dict(SMALL_CNN, channels=(8, 32, 32))).init_from_srn(head)
    with pytest.raises(ValueError, match='patch_size'):
        HOFSQNet(patch_size=28, patch_cnn=SMALL_CNN).init_from_srn(head)


# ------------------------------------------------------------------------------------------------------ Q-learning
def test_epsilon_greedy_extremes_and_mix():
    q = torch.tensor([[0.1, 0.9, 0.3], [2., -1., 0.], [0., 0., 5.]]).repeat(2000, 1)
    assert epsilon_greedy(q, 0.).tolist() == [1, 0, 2] * 2000
    g = torch.Generator().manual_seed(0)
    counts = torch.bincount(epsilon_greedy(q, 1., generator=g), minlength=3).float()
    # 6000 uniform picks: each count 2000 +- 3 sigma (sigma = sqrt(6000 / 3 * 2 / 3) = 36.5)
    assert ((counts - 2000).abs() < 110).all(), counts
    mixed = epsilon_greedy(q, 0.3, generator=g)
    greedy_share = (mixed == q.argmax(1)).float().mean().item()
    assert abs(greedy_share - (0.7 + 0.3 / 3)) < 0.03                      # 0.8 +- 3 sigma (0.0155)


def test_epsilon_schedule():
    lin = EpsilonSchedule(1.0, 0.1, 100)
    assert lin(0) == 1.0 and lin(50) == pytest.approx(0.55) and lin(100) == pytest.approx(0.1)
    assert lin(1000) == pytest.approx(0.1)
    exp = EpsilonSchedule(1.0, 0.1, 100, mode='exp')
    assert exp(100) == pytest.approx(0.1 + 0.9 * np.exp(-1))
    with pytest.raises(ValueError, match='mode'):
        EpsilonSchedule(mode='cosine')


def test_bellman_target_and_loss_by_hand():
    rewards = torch.tensor([0.1, 0.1])
    next_q = torch.tensor([[0.2, 0.5, 0.3], [7., 8., 9.]])
    terminal = torch.tensor([False, True])
    y = bellman_targets(rewards, next_q, terminal, gamma=0.9)
    assert y.tolist() == pytest.approx([0.55, 0.1])                         # 0.1 + 0.9 * 0.5; terminal: r
    q = torch.tensor([0.35, 0.4], requires_grad=True)
    loss = q_learning_loss(q, y)
    assert loss.item() == pytest.approx((0.2 ** 2 + 0.3 ** 2) / 2)           # 0.065
    loss.backward()
    assert q.grad.tolist() == pytest.approx([-0.2, 0.3])                    # d/dq mean (y - q)^2 = (q - y)


# ------------------------------------------------------------------------------------------------------ replay
def _state(value):
    return torch.full((4, 3, 2, 2), float(value))


def test_replay_queues_per_clip_oldest_dropped_and_uniform_sampling():
    mem = ClipReplayMemory(num_clips=2, num_actions=3)                  # 2 clips beyond the current one
    handles = []
    for clip in range(4):
        h = mem.begin_clip(f'clip{clip}')
        handles.append(h)
        for t in range(clip + 2):                       # clip c has c + 2 transitions, the last terminal
            nxt = None if t == clip + 1 else torch.stack([_state(100 * clip + t + 1)] * 3)
            mem.push(h, _state(100 * clip + t), 0.01 * t, nxt)
        if clip == 1:
            assert mem.clip_ids == ['clip0', 'clip1'] and mem.queue_lengths() == [2, 3]
    assert mem.clip_ids == ['clip1', 'clip2', 'clip3'] and mem.queue_lengths() == [3, 4, 5]   # clip0 dropped
    assert len(mem) == 12
    with pytest.raises(KeyError, match='not open'):
        mem.push(handles[0], _state(0), 0.)
    batch = mem.sample(5)
    assert batch['states'].shape == (5, 4, 3, 2, 2) and batch['next_states'].shape == (5, 3, 4, 3, 2, 2)
    for i in range(5):                                   # each transition stays whole
        s = batch['states'][i, 0, 0, 0, 0].item()
        if batch['terminal'][i]:
            assert batch['next_states'][i].abs().sum() == 0
        else:
            assert batch['next_states'][i, 0, 0, 0, 0, 0].item() == s + 1
    g = torch.Generator().manual_seed(0)
    counts = torch.zeros(12)
    for _ in range(3000):
        counts[mem.sample(4, generator=g)['index']] += 1
    # every transition is drawn with probability 4 / 12: 1000 +- 3 sigma (sigma = sqrt(3000 / 3 * 2 / 3) = 25.8)
    assert ((counts - 1000).abs() < 80).all(), counts
    assert sorted(set(mem.sample(50)['index'].tolist())) == list(range(12))   # M = min(batch, 12), no repeats
    with pytest.raises(RuntimeError, match='empty'):
        ClipReplayMemory().sample(1)


def test_replay_keeps_k_clips_beyond_the_current_batch():
    """K counts clips beyond the batch: with K = batch = 2 the memory holds this batch and the previous one."""
    mem = ClipReplayMemory(num_clips=2, num_actions=3)
    assert mem.begin_batch(['a', 'b']) == [0, 1] and mem.clip_ids == ['a', 'b']
    mem.begin_batch(['c', 'd'])
    assert mem.clip_ids == ['a', 'b', 'c', 'd']
    mem.begin_batch(['e', 'f', 'g'])
    assert mem.clip_ids == ['c', 'd', 'e', 'f', 'g']


def test_replay_state_round_trip():
    mem = ClipReplayMemory(num_clips=1, num_actions=3)
    for clip in range(3):
        h = mem.begin_clip(clip)
        mem.push(h, _state(clip), 0.5 + clip, torch.stack([_state(clip + 0.5)] * 3))
        mem.push(h, _state(clip + 0.25), 0.25, None)
    state = mem.get_state()
    assert all(q['states'].device.type == 'cpu' for q in state['queues'])
    other = ClipReplayMemory(num_clips=1, num_actions=3)
    other.set_state(state)
    assert other.clip_ids == [1, 2] and other.queue_lengths() == [2, 2]
    a, b = mem.sample(4, generator=torch.Generator().manual_seed(3)), other.sample(
        4, generator=torch.Generator().manual_seed(3))
    for key in a:
        assert torch.equal(a[key], b[key]), key
    assert other.begin_clip('new') == mem.begin_clip('new')                   # handle counter restored
    with pytest.raises(ValueError, match='version'):
        other.set_state(dict(state, version=99))


# ------------------------------------------------------------------------------------------------------ reward
def test_interocular_nme_by_hand():
    gt = torch.zeros(1, 68, 2)
    gt[0, 45, 0] = 0.5                                   # eye corners 36 (0, 0) and 45 (0.5, 0): d = 64 px at 128
    pred = gt.clone()
    pred[0, :2, 1] += 0.25                               # two landmarks 32 px off
    assert interocular_nme(pred, gt, (128, 128)).item() == pytest.approx(2 * 32 / 68 / 64)
    assert torch.isfinite(interocular_nme(pred, torch.zeros(1, 68, 2), (128, 128))).all()   # d = 0: clamped


# ------------------------------------------------------------------------------------------------------ synthesizers
def _reward_model(head):
    def run(img, hidden):
        shapes, hidden = head.forward_iterations((img, ), hidden=hidden, return_hidden=True)
        return shapes[:, -1], hidden
    return run


def test_synthesizers_shapes_no_grad_and_q_only_gradient():
    torch.manual_seed(0)
    head = small_srn_head()
    head.init_weights()
    head.set_mean_shape(random_faces(1)[0])
    b, length = 2, 3
    images = torch.randn(b, length, 3, 128, 128, requires_grad=True)
    gt = random_faces(b * length).view(b, length, 68, 2)

    out, losses, stats = NoOcclusion().synthesize(images, gt, None, [0, 1])
    assert torch.equal(out, images) and not out.requires_grad and losses == {} and stats == {}

    rsf = RandomOcclusionSynthesis(compute_reward=True, mean=MEAN, std=STD)
    out, losses, stats = rsf.synthesize(images, gt, _reward_model(head), [0, 1])
    changed = (out != images).any(2).flatten(2).sum(-1)                     # painted pixels per frame
    assert out.shape == images.shape and not out.requires_grad and losses == {}
    assert ((changed > 0) & (changed <= 27 * 27)).all() and stats['hofs_reward'] > 0

    synth = HOFSSynthesizer(q_net=dict(type='HOFSQNet', patch_size=24, patch_cnn=SMALL_CNN, hidden_channels=8),
                            replay_clips=2, batch_size=4, epsilon=dict(start=0.5, end=0.1, steps=10))
    synth.init_weights()
    synth.init_from_srn(head)
    assert bool(synth.q_net_from_srn)
    synth.train()
    out, losses, stats = synth.synthesize(images, gt, _reward_model(head), ['a', 'b'])
    assert out.shape == images.shape and not out.requires_grad and set(losses) == {'loss_q'}
    # the clip's last frame has no next state in the clip: not stored (clip_end='bootstrap'), so L - 1 per clip
    assert stats['hofs_epsilon'] == 0.5 and stats['hofs_replay_size'] == b * (length - 1) and stats['hofs_reward'] > 0
    assert synth.replay.clip_ids == ['a', 'b'] and synth.replay.queue_lengths() == [length - 1, length - 1]
    assert int(synth.num_updates) == 1 and synth.synthesize(images, gt, _reward_model(head))[2]['hofs_epsilon'] \
        == pytest.approx(0.46)
    assert synth.replay.clip_ids == ['a', 'b', 0, 1]                        # K = 2 clips beyond the batch's 2
    synth.synthesize(images, gt, _reward_model(head), ['c', 'd'])
    assert synth.replay.clip_ids == [0, 1, 'c', 'd']                        # the oldest batch dropped
    terminal = [t[2] is None for q in synth.replay._queues.values() for t in q['transitions']]
    assert terminal == [False] * 4 * (length - 1)                           # every target bootstraps
    old = HOFSSynthesizer(q_net=dict(type='HOFSQNet', patch_size=24, patch_cnn=SMALL_CNN, hidden_channels=8),
                          replay_clips=2, batch_size=4, clip_end='terminal')
    old.init_from_srn(head)
    old.train().synthesize(images, gt, _reward_model(head), ['a', 'b'])
    terminal = [t[2] is None for q in old.replay._queues.values() for t in q['transitions']]
    assert terminal == [False, False, True] * 2                             # 'terminal': the old reading
    with pytest.raises(ValueError, match='clip_end must be one of'):
        HOFSSynthesizer(clip_end='done')
    losses['loss_q'].backward()
    assert all(p.grad is None for p in head.parameters()) and images.grad is None
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in synth.q_net.parameters())

    synth.eval()                                                             # greedy, nothing stored, no loss
    size = len(synth.replay)
    out, losses, stats = synth.synthesize(images, gt, _reward_model(head), [0, 1])
    assert losses == {} and len(synth.replay) == size and stats['hofs_epsilon'] == 0.
    with pytest.raises(ValueError, match='reward_model'):
        synth.train().synthesize(images, gt, None)


def test_q_update_with_gamma_bootstraps_from_the_stored_next_states():
    """gamma > 0: loss_q = mean (r + gamma max_a' Q(s', a') - Q(s))^2 over a replay minibatch, with the next
    states of each transition's own next frame (what the gamma-0 end-to-end run never exercises)."""
    torch.manual_seed(0)
    synth = HOFSSynthesizer(num_joints=5, q_net=dict(type='HOFSQNet', patch_size=10, patch_cnn=TINY_CNN),
                            batch_size=3, gamma=0.9, norm_indices=(0, 1), replay_clips=2)
    synth.init_weights()
    images = torch.randn(2, 4, 3, 32, 32)
    gt = random_faces(8, n=5).view(2, 4, 5, 2)
    reward = lambda img, h: (torch.rand(img.shape[0], 5, 2), None)          # noqa: E731
    synth.train().synthesize(images, gt, reward, [0, 1])
    assert len(synth.replay) == 2 * 3 and not any(t[2] is None for q in synth.replay._queues.values()
                                                  for t in q['transitions'])
    g = torch.Generator().manual_seed(4)
    batch = synth.replay.sample(3, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        next_q = synth.q_net(batch['next_states'].flatten(0, 1)).view(3, 3)
        expected = ((batch['rewards'] + 0.9 * next_q.max(1).values - synth.q_net(batch['states'])) ** 2).mean()
    original = synth.replay.sample
    synth.replay.sample = lambda m, device=None: original(m, device=device, generator=g)
    torch.testing.assert_close(synth._q_update(torch.device('cpu')).detach(), expected)
    assert batch['next_states'].abs().sum() > 0


def test_hofs_synthesizer_target_network_and_state():
    synth = HOFSSynthesizer(num_joints=5, q_net=dict(type='HOFSQNet', patch_size=10, patch_cnn=TINY_CNN),
                            target_update_interval=2, batch_size=2, norm_indices=(0, 1), replay_clips=2)
    synth.init_weights()
    images = torch.randn(1, 2, 3, 32, 32)
    gt = random_faces(2, n=5).view(1, 2, 5, 2)
    reward = lambda img, h: (torch.full((img.shape[0], 5, 2), 0.5), None)   # noqa: E731
    synth.train().synthesize(images, gt, reward, [7])
    for p, t in zip(synth.q_net.parameters(), synth.target_q_net.parameters()):
        assert torch.equal(p, t) and not t.requires_grad                   # synchronised at update 0
    state = synth.get_state()
    other = HOFSSynthesizer(num_joints=5, q_net=dict(type='HOFSQNet', patch_size=10, patch_cnn=TINY_CNN),
                            replay_clips=2)
    other.set_state(state)
    assert other.replay.clip_ids == [7] and len(other.replay) == 1         # 2 frames: the last not stored
    assert 'num_updates' in synth.state_dict() and int(synth.state_dict()['num_updates']) == 1


def test_configs_with_a_q_only_phase_let_ddp_skip_unused_parameters(repo_root):
    """In the Q-only warm-up SRN's parameters get no gradient; with DDP's default the first step stops."""
    import glob
    import os.path as osp

    from mmengine.config import Config
    paths = sorted(glob.glob(osp.join(repo_root, 'projects', 'srn_video', 'configs', '*.py')))
    with_phase = 0
    for path in paths:
        cfg = Config.fromfile(path)
        if cfg.model.get('q_only_iters', 0):
            with_phase += 1
            wrapper = cfg.get('model_wrapper_cfg') or {}
            assert wrapper.get('find_unused_parameters') is True, osp.basename(path)
    assert with_phase == 2


def test_one_frame_clips_store_nothing_and_give_a_zero_q_loss():
    """clip_end='bootstrap': a 1-frame clip has no transition with a next state; the update is skipped."""
    synth = HOFSSynthesizer(num_joints=5, q_net=dict(type='HOFSQNet', patch_size=10, patch_cnn=TINY_CNN),
                            batch_size=2, norm_indices=(0, 1), replay_clips=2)
    synth.init_weights()
    reward = lambda img, h: (torch.full((img.shape[0], 5, 2), 0.5), None)   # noqa: E731
    _, losses, stats = synth.train().synthesize(torch.randn(2, 1, 3, 32, 32), random_faces(2, n=5).view(2, 1, 5, 2),
                                                reward, [0, 1])
    assert len(synth.replay) == 0 and losses['loss_q'].item() == 0. and losses['loss_q'].requires_grad
