# Copyright (c) mmfacealign contributors. All rights reserved.
"""Occlusion synthesizers for fine-tuning SRN on video clips: none, random (RSF) and HOFS (SRN Sec. 3.2, Table 9).

Zhu et al., Pattern Recognition 2022, Sec. 3.2 and Table 9: SRN is fine-tuned on video clips
either without occlusion augmentation, with random occlusion synthesis (RSF: SRN's noise patch around a random
landmark) or with hard occluded face synthesis (HOFS): an MDP whose agent, a deep Q-net, moves the noise patch
along the landmarks (``l - 1, l, l + 1`` of the previous frame's ``l``) to the candidate it values highest, the
value being learnt from the reward "NME of the frozen pre-trained SRN on the synthesised frame" (Eq. 10) with the
Bellman target (Eq. 11), a squared loss (Eq. 12), per-clip experience replay and epsilon-greedy exploration.

Interface shared by all three (the estimator calls it once per training iteration)::

    occluded, losses, stats = synth.synthesize(images, gt, reward_model, clip_ids)

``images`` (B, L, 3, H, W) normalised frames of B clips of L frames, ``gt`` (B, L, N, 2) ground-truth shapes in
normalised input coordinates, ``reward_model`` a callable ``(image (B, 3, H, W), hidden | None) -> (shape (B, N, 2),
hidden)`` (the frozen SRN, see :func:`~.rewards.srn_reward_fn`) or None, ``clip_ids`` (B,) ids used to label the
replay queues. Returns the occluded frames (B, L, 3, H, W) (no gradient), a dict of losses (HOFS in training:
``loss_q``) and a dict of float statistics for the log.
"""
from copy import deepcopy
from typing import Dict, Hashable, Optional, Sequence, Tuple, Union

import torch
from mmengine.model import BaseModule
from mmpose.registry import MODELS
from mmpose.utils.typing import ConfigType, OptConfigType
from torch import Tensor, nn

from .occlusion_actions import NoisePatchActions
from .q_learning import EpsilonSchedule, bellman_targets, epsilon_greedy, q_learning_loss
from .replay_memory import ClipReplayMemory
from .rewards import RewardModel, reward_step

#: What the last frame of a clip is to Q-learning, see :class:`HOFSSynthesizer`.
CLIP_ENDS = ('bootstrap', 'terminal')

SynthOutput = Tuple[Tensor, Dict[str, Tensor], Dict[str, float]]


class BaseOcclusionSynthesizer(BaseModule):
    """Input checks and the normalisation setter shared by the synthesizers."""

    @staticmethod
    def build_actions(actions: ConfigType, mean: Optional[Sequence[float]],
                      std: Optional[Sequence[float]]) -> NoisePatchActions:
        """The noise-patch actions; ``mean``/``std`` (the data preprocessor's), when given, override the config's."""
        built = MODELS.build(actions)
        if (mean is None) != (std is None):
            raise ValueError('occlusion synthesizer: give both mean and std (the data preprocessor\'s) or neither')
        if mean is not None:
            built.set_normalisation(mean, std)
        return built

    def set_normalisation(self, mean: Sequence[float], std: Sequence[float]) -> None:
        """Tell the noise the data preprocessor's per-channel mean/std (no-op without noise)."""
        actions = getattr(self, 'actions', None)
        if actions is not None:
            actions.set_normalisation(mean, std)

    @staticmethod
    def check_inputs(images: Tensor, gt: Tensor, clip_ids: Optional[Sequence[Hashable]]) -> Tuple[int, int]:
        if images.ndim != 5 or gt.ndim != 4 or gt.shape[-1] != 2 or images.shape[:2] != gt.shape[:2]:
            raise ValueError(f'synthesize: expected images (B, L, 3, H, W) and gt (B, L, N, 2) with the same B, L; '
                             f'got {tuple(images.shape)} and {tuple(gt.shape)}')
        if clip_ids is not None and len(clip_ids) != images.shape[0]:
            raise ValueError(f'synthesize: {len(clip_ids)} clip_ids for {images.shape[0]} clips')
        return images.shape[0], images.shape[1]

    def synthesize(self, images: Tensor, gt: Tensor, reward_model: Optional[RewardModel] = None,
                   clip_ids: Optional[Sequence[Hashable]] = None) -> SynthOutput:
        raise NotImplementedError


@MODELS.register_module()
class NoOcclusion(BaseOcclusionSynthesizer):
    """Table 9's "without occlusion augmentation": the frames come back unchanged (detached), no loss."""

    def synthesize(self, images: Tensor, gt: Tensor, reward_model: Optional[RewardModel] = None,
                   clip_ids: Optional[Sequence[Hashable]] = None) -> SynthOutput:
        self.check_inputs(images, gt, clip_ids)
        return images.detach(), {}, {}


def _clip_rewards(reward_model: RewardModel, occluded: Tensor, gt: Tensor,
                  norm_indices: Union[str, Sequence[int], None]) -> Tensor:
    """(B, L) rewards of whole occluded clips, hidden state carried frame to frame."""
    hidden, rewards = None, []
    for t in range(occluded.shape[1]):
        r, hidden = reward_step(reward_model, occluded[:, t], hidden, gt[:, t], norm_indices)
        rewards.append(r)
    return torch.stack(rewards, dim=1)


@MODELS.register_module()
class RandomOcclusionSynthesis(BaseOcclusionSynthesizer):
    """Table 9's RSF: SRN's noise patch around a uniformly random landmark (of all N), drawn for every frame.

    Args:
        actions (dict): The :class:`~.occlusion_actions.NoisePatchActions` config (patch size, border rule, noise
            range, mean/std). Default SRN's patch with the configs' ImageNet mean/std.
        compute_reward (bool): Also run ``reward_model`` (when given) on the occluded clip and log the mean NME as
            ``hofs_reward``, for comparison with HOFS. Default False (it costs a forward pass per frame).
        norm_indices ('auto' | pair | None): The reward's normaliser (:func:`~.rewards.interocular_nme`).
        mean, std (sequence, optional): The data preprocessor's per-channel mean/std for the noise (override the
            ``actions`` config's; ``SRNVideoEstimator`` fills them in). Default None: the ``actions`` config's.
    """

    def __init__(self, actions: ConfigType = dict(type='NoisePatchActions'), compute_reward: bool = False,
                 norm_indices: Union[str, Sequence[int], None] = 'auto', mean: Optional[Sequence[float]] = None,
                 std: Optional[Sequence[float]] = None, init_cfg: OptConfigType = None):
        super().__init__(init_cfg=init_cfg)
        self.actions = self.build_actions(actions, mean, std)
        self.compute_reward = compute_reward
        self.norm_indices = norm_indices

    def synthesize(self, images: Tensor, gt: Tensor, reward_model: Optional[RewardModel] = None,
                   clip_ids: Optional[Sequence[Hashable]] = None) -> SynthOutput:
        b, length = self.check_inputs(images, gt, clip_ids)
        n = gt.shape[2]
        flat_images, flat_gt = images.detach().flatten(0, 1), gt.detach().flatten(0, 1)
        index = self.actions.random_landmarks(b * length, n, device=gt.device)
        occluded = self.actions.paint(flat_images, flat_gt, index).reshape(images.shape)
        stats = {}
        if self.compute_reward and reward_model is not None:
            stats['hofs_reward'] = float(_clip_rewards(reward_model, occluded, gt, self.norm_indices).mean())
        return occluded, {}, stats


@MODELS.register_module()
class HOFSSynthesizer(BaseOcclusionSynthesizer):
    """Hard occluded face synthesis by deep Q-learning (SRN Sec. 3.2, Eq. 10-12).

    Per training call, for every clip b and frame t (all clips of the batch in parallel):

    1. the A = 3 candidate occluded frames around landmarks ``l_{t-1} - 1, l_{t-1}, l_{t-1} + 1``
       (``l_{-1}`` uniform at random) and their states (patches around the ground truth, :class:`~.HOFSQNet`);
    2. ``Q`` of each candidate state (no gradient); the action is epsilon-greedy (greedy: the highest Q, i.e. the
       hardest candidate); ``l_t`` is its landmark;
    3. the reward ``r_t`` = NME of the frozen ``reward_model`` on the chosen frame, its RNN hidden state carried
       along the clip (Eq. 10);
    4. ``(s_t, r_t, candidate states of t + 1)`` goes into the clip's replay queue (the last frame, whose next
       state is outside the clip, is not stored: ``clip_end``).

    After the clip, one minibatch of ``batch_size`` transitions is drawn uniformly from the replay memory and
    ``loss_q`` = mean ``(r + gamma max_a' Q(s', a') - Q(s))^2`` (Eq. 11-12) is returned, so the runner's optimizer
    trains the Q-net (its parameters are the only ones in that loss's graph; the targets are computed without
    gradient). The counter ``num_updates`` (a buffer, so it is checkpointed) counts these training calls; epsilon
    follows ``epsilon`` over it.

    In eval mode (``synth.eval()``) the same selection runs greedily (epsilon 0), nothing is stored and no loss is
    returned; the reward is computed (and logged) when ``reward_model`` is given.

    Q-learning-only phase: ``loss_q`` is returned on every training call, so the estimator implements the phase by
    leaving out its own loss for its first iterations (``SRNVideoEstimator(q_only_iters=...)``).

    Checkpoints: the Q-net, the optional target net, ``num_updates`` (hence epsilon) and ``q_net_from_srn`` are in
    the module's state dict; the replay memory is not (it can hold hundreds of MB): :meth:`get_state` /
    :meth:`set_state` give it as a dict of CPU tensors for a checkpoint entry (``HOFSInitHook`` does that).

    Args:
        num_joints (int): N. Default 68.
        q_net (dict): The :class:`~.HOFSQNet` config (``num_joints`` filled in); its ``patch_size`` and
            ``patch_cnn`` must equal the SRN head's for :meth:`init_from_srn`. Default the official SRN sizes.
        actions (dict): The :class:`~.NoisePatchActions` config (patch rule, noise range, mean/std, index rule at
            the ends of the landmark order). Default SRN's patch, ImageNet mean/std, ``'wrap'``.
        replay_clips (int): K, clips kept in the replay memory besides the current batch's. Default 8 (the paper
            gives none).
        clip_end (str): The last frame of a clip ends the clip, not the task (the state has no time index, so the
            end is a time limit). ``'bootstrap'`` (default): its transition, which has no next state inside the
            clip, is not stored, and every stored target bootstraps, ``r + gamma max Q(S_{t+1})``.
            ``'terminal'``: it is stored as terminal, target ``r`` (earlier versions of this package).
        batch_size (int): Replay minibatch per update. Default 32 (DQN's).
        gamma (float): Discount. Default 0.9: a horizon of about 10 frames, the order of a training clip (the paper
            gives none; DQN's 0.99 spans far beyond a clip).
        epsilon (dict): :class:`~.q_learning.EpsilonSchedule` kwargs. Default ``start=1.0, end=0.1, steps=1000,
            mode='linear'`` (the paper gives none; DQN's start and end).
        target_update_interval (int): 0 (default): the Bellman target uses the Q-net itself (without gradient), as
            DQN's first version [20]; k > 0: a frozen target copy, re-synchronised every k updates (DQN 2015).
        norm_indices ('auto' | pair | None): The reward's inter-ocular normaliser. Default ``'auto'`` (36/45 for 68
            points).
        replay_dtype (str): Dtype of the stored patches, ``'float16'`` (default) or ``'float32'``.
        replay_device (str): Where the replay lives. Default ``'cpu'``.
        mean, std (sequence, optional): The data preprocessor's per-channel mean/std for the noise (override the
            ``actions`` config's; ``SRNVideoEstimator`` fills them in). Default None: the ``actions`` config's.
    """

    def __init__(self, num_joints: int = 68, q_net: ConfigType = dict(type='HOFSQNet'),
                 actions: ConfigType = dict(type='NoisePatchActions'), replay_clips: int = 8, batch_size: int = 32,
                 gamma: float = 0.9, epsilon: Optional[dict] = None, target_update_interval: int = 0,
                 norm_indices: Union[str, Sequence[int], None] = 'auto', replay_dtype: str = 'float16',
                 replay_device: str = 'cpu', mean: Optional[Sequence[float]] = None,
                 std: Optional[Sequence[float]] = None, clip_end: str = 'bootstrap',
                 init_cfg: OptConfigType = None):
        super().__init__(init_cfg=init_cfg)
        if clip_end not in CLIP_ENDS:
            raise ValueError(f'HOFSSynthesizer: clip_end must be one of {CLIP_ENDS}, got {clip_end!r}')
        self.clip_end = clip_end
        if batch_size < 1 or target_update_interval < 0:
            raise ValueError(f'HOFSSynthesizer: batch_size must be positive and target_update_interval >= 0, got '
                             f'{batch_size}, {target_update_interval}')
        if not 0. <= gamma <= 1.:
            raise ValueError(f'HOFSSynthesizer: gamma must be in [0, 1], got {gamma}')
        if replay_dtype not in ('float16', 'float32'):
            raise ValueError(f"HOFSSynthesizer: replay_dtype must be 'float16' or 'float32', got {replay_dtype!r}")
        self.num_joints = int(num_joints)
        self.q_net = MODELS.build(dict(q_net, num_joints=self.num_joints))
        self.actions = self.build_actions(actions, mean, std)
        self.target_q_net: Optional[nn.Module] = None
        if target_update_interval > 0:
            self.target_q_net = deepcopy(self.q_net).requires_grad_(False)
        self.replay = ClipReplayMemory(replay_clips, self.actions.num_actions, getattr(torch, replay_dtype),
                                       replay_device)
        self.batch_size = int(batch_size)
        self.gamma = float(gamma)
        self.epsilon = EpsilonSchedule(**(epsilon or {}))
        self.target_update_interval = int(target_update_interval)
        self.norm_indices = norm_indices
        self.register_buffer('num_updates', torch.zeros((), dtype=torch.long))
        self.register_buffer('q_net_from_srn', torch.tensor(False))

    # ---------------------------------------------------------------------------------------------- setup
    def init_from_srn(self, srn_head: nn.Module) -> None:
        """Initialise the Q-net's patch CNN from the pre-trained SRN's (Sec. 3.2) and mark it done
        (``q_net_from_srn``, checkpointed: a hook can skip this on resume)."""
        self.q_net.init_from_srn(srn_head)
        if self.target_q_net is not None:
            self.target_q_net.load_state_dict(self.q_net.state_dict())
        self.q_net_from_srn.fill_(True)

    def get_state(self) -> dict:
        """The replay memory, tensors on CPU (:meth:`~.ClipReplayMemory.get_state`), for a checkpoint entry."""
        return self.replay.get_state()

    def set_state(self, state: dict) -> None:
        """Restore :meth:`get_state`'s dict."""
        self.replay.set_state(state)

    # ---------------------------------------------------------------------------------------------- MDP
    def synthesize(self, images: Tensor, gt: Tensor, reward_model: Optional[RewardModel] = None,
                   clip_ids: Optional[Sequence[Hashable]] = None) -> SynthOutput:
        b, length = self.check_inputs(images, gt, clip_ids)
        if gt.shape[2] != self.num_joints:
            raise ValueError(f'HOFSSynthesizer: gt has {gt.shape[2]} landmarks, num_joints is {self.num_joints}')
        training = self.training
        if training and reward_model is None:
            raise ValueError('HOFSSynthesizer: training needs the frozen reward_model (the pre-trained SRN)')
        eps = self.epsilon(int(self.num_updates)) if training else 0.
        images, gt = images.detach(), gt.detach()
        clip_ids = list(range(b)) if clip_ids is None else list(clip_ids)
        handles = self.replay.begin_batch(clip_ids) if training else []
        rows = torch.arange(b, device=gt.device)

        prev = self.actions.random_landmarks(b, self.num_joints, device=gt.device)
        hidden, pending = None, None
        frames, rewards, max_q = [], [], []
        for t in range(length):
            cand, cand_index = self.actions.candidates(images[:, t], gt[:, t], prev)     # (B, A, 3, H, W), (B, A)
            a = cand.shape[1]
            with torch.no_grad():
                states = self.q_net.state_patches(cand.flatten(0, 1), gt[:, t].repeat_interleave(a, 0))
                q = self.q_net(states).view(b, a)
            states = states.view(b, a, *states.shape[1:])                               # (B, A, N, 3, p, p)
            action = epsilon_greedy(q, eps)
            if training and pending is not None:
                self._store(handles, *pending, states)
            chosen = cand[rows, action]
            frames.append(chosen)
            max_q.append(q.max(dim=1).values)
            prev = cand_index[rows, action]
            if reward_model is not None:
                r, hidden = reward_step(reward_model, chosen, hidden, gt[:, t], self.norm_indices)
                rewards.append(r)
                pending = (states[rows, action], r)
        if training and pending is not None and self.clip_end == 'terminal':
            self._store(handles, *pending, None)

        losses = {}
        self._last_bootstrap = None
        if training:
            losses['loss_q'] = self._q_update(images.device)
            self.num_updates += 1
        stats = dict(hofs_epsilon=float(eps), hofs_max_q=float(torch.stack(max_q).mean()),
                     hofs_replay_size=float(len(self.replay)))
        if self._last_bootstrap is not None:
            # the share of the Bellman targets that comes from the next states, gamma max_a' Q(s', a') (0 where
            # gamma = 0 or every sampled transition is terminal): shows the next-state wiring at work
            stats['hofs_bootstrap'] = self._last_bootstrap
        if rewards:
            stats['hofs_reward'] = float(torch.stack(rewards).mean())
        return torch.stack(frames, dim=1).detach(), losses, stats

    def _store(self, handles: Sequence[int], states: Tensor, rewards: Tensor, next_states: Optional[Tensor]) -> None:
        for i, handle in enumerate(handles):
            self.replay.push(handle, states[i], float(rewards[i]), None if next_states is None else next_states[i])

    def _q_update(self, device) -> Tensor:
        """``loss_q`` on one replay minibatch (Eq. 11-12); gradient only to the Q-net."""
        if self.target_q_net is not None and int(self.num_updates) % self.target_update_interval == 0:
            self.target_q_net.load_state_dict(self.q_net.state_dict())
        if len(self.replay) == 0:       # clips of one frame store nothing (clip_end='bootstrap'): no update yet
            return sum(p.sum() for p in self.q_net.parameters()) * 0.
        batch = self.replay.sample(self.batch_size, device=device)
        q = self.q_net(batch['states'])
        live = ~batch['terminal']
        next_q = q.new_zeros(q.shape[0], self.actions.num_actions)
        if bool(live.any()):
            target_net = self.q_net if self.target_q_net is None else self.target_q_net
            with torch.no_grad():
                next_q[live] = target_net(batch['next_states'][live].flatten(0, 1)).view(-1, next_q.shape[1])
        targets = bellman_targets(batch['rewards'], next_q, batch['terminal'], self.gamma)
        self._last_bootstrap = float((targets - batch['rewards']).mean())
        return q_learning_loss(q, targets)
