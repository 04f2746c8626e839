# Copyright (c) mmfacealign contributors. All rights reserved.
"""HOFS: hard occluded face synthesis by deep Q-learning (SRN, Zhu et al., Pattern Recognition 2022, Sec. 3.2,
Eq. 10-12), plus the no-occlusion and random-occlusion (RSF) synthesizers of Table 9."""
from .occlusion_actions import NoisePatchActions, adjacent_landmarks, noise_patch_boxes
from .q_learning import EpsilonSchedule, bellman_targets, epsilon_greedy, q_learning_loss
from .q_net import HOFSQNet
from .replay_memory import ClipReplayMemory
from .rewards import interocular_nme, reward_step, srn_reward_fn
from .synthesizers import BaseOcclusionSynthesizer, HOFSSynthesizer, NoOcclusion, RandomOcclusionSynthesis

__all__ = [
    'BaseOcclusionSynthesizer', 'ClipReplayMemory', 'EpsilonSchedule', 'HOFSQNet', 'HOFSSynthesizer', 'NoOcclusion',
    'NoisePatchActions', 'RandomOcclusionSynthesis', 'adjacent_landmarks', 'bellman_targets', 'epsilon_greedy',
    'interocular_nme', 'noise_patch_boxes', 'q_learning_loss', 'reward_step', 'srn_reward_fn'
]
