# Copyright (c) mmfacealign contributors. All rights reserved.
"""HOFS's Q-learning pieces: epsilon-greedy selection with a decay schedule, the Bellman target (SRN Eq. 11) and
the squared loss (Eq. 12).

Zhu et al., Pattern Recognition 2022, Sec. 3.2 (the equations were lost from the text available to us,
the prose remains): the action value is updated towards ``y = r + gamma * max_a' Q(s', a')`` (Eq. 11), where
``s'`` runs over the next frame's candidate states, and the Q-net minimises ``(y - Q(s, a))^2`` (Eq. 12); after each
update the agent acts epsilon-greedily (a random action with probability epsilon, otherwise the highest Q, i.e. the
hardest candidate). The paper gives neither gamma nor the epsilon schedule: the defaults are documented where they
are set (:class:`EpsilonSchedule`, :class:`~.synthesizers.HOFSSynthesizer`).
"""
import math
from typing import Optional

import torch
from torch import Tensor

SCHEDULE_MODES = ('linear', 'exp')


class EpsilonSchedule:
    """Exploration rate after ``step`` Q-learning updates.

    ``'linear'``: ``eps = start + (end - start) * min(step / steps, 1)``, i.e. ``end`` from ``steps`` on.
    ``'exp'``: ``eps = end + (start - end) * exp(-step / steps)`` (``steps`` is the time constant).

    Args:
        start (float): epsilon at step 0. Default 1.0 (all random, as DQN's start).
        end (float): The final epsilon. Default 0.1 (DQN's).
        steps (int): Decay length (linear) or time constant (exp), in Q-learning updates (one per training
            iteration of the synthesizer). Default 1000.
        mode (str): ``'linear'`` (default) or ``'exp'``.
    """

    def __init__(self, start: float = 1.0, end: float = 0.1, steps: int = 1000, mode: str = 'linear'):
        if not (0. <= start <= 1. and 0. <= end <= 1.):
            raise ValueError(f'EpsilonSchedule: start and end must be in [0, 1], got {start}, {end}')
        if steps < 1:
            raise ValueError(f'EpsilonSchedule: steps must be positive, got {steps}')
        if mode not in SCHEDULE_MODES:
            raise ValueError(f'EpsilonSchedule: mode must be one of {SCHEDULE_MODES}, got {mode!r}')
        self.start, self.end, self.steps, self.mode = float(start), float(end), int(steps), mode

    def __call__(self, step: int) -> float:
        step = max(int(step), 0)
        if self.mode == 'linear':
            return self.start + (self.end - self.start) * min(step / self.steps, 1.)
        return self.end + (self.start - self.end) * math.exp(-step / self.steps)

    def __repr__(self) -> str:
        return f'{type(self).__name__}(start={self.start}, end={self.end}, steps={self.steps}, mode={self.mode!r})'


def epsilon_greedy(q: Tensor, epsilon: float, generator: Optional[torch.Generator] = None) -> Tensor:
    """Pick one action per row: uniformly at random with probability ``epsilon``, else the arg-max of ``q``.

    Args:
        q (Tensor): (B, A) action values.
        epsilon (float): In [0, 1].
        generator (torch.Generator, optional): On ``q``'s device.

    Returns:
        Tensor: (B,) long.
    """
    if q.ndim != 2 or q.shape[1] < 1:
        raise ValueError(f'epsilon_greedy: q must be (B, A) with A >= 1, got {tuple(q.shape)}')
    if not 0. <= epsilon <= 1.:
        raise ValueError(f'epsilon_greedy: epsilon must be in [0, 1], got {epsilon}')
    b, a = q.shape
    greedy = q.argmax(dim=1)
    explore = torch.rand(b, device=q.device, generator=generator) < epsilon
    random = torch.randint(0, a, (b, ), device=q.device, generator=generator)
    return torch.where(explore, random, greedy)


def bellman_targets(rewards: Tensor, next_q: Tensor, terminal: Tensor, gamma: float) -> Tensor:
    """``y = r + gamma * max_a' Q(s', a')``, and ``y = r`` at a terminal transition (Eq. 11).

    Args:
        rewards (Tensor): (M,).
        next_q (Tensor): (M, A) values of the next frame's candidate states (ignored where terminal).
        terminal (Tensor): (M,) bool.
        gamma (float): Discount in [0, 1].

    Returns:
        Tensor: (M,), without gradient.
    """
    if not 0. <= gamma <= 1.:
        raise ValueError(f'bellman_targets: gamma must be in [0, 1], got {gamma}')
    if next_q.ndim != 2 or next_q.shape[0] != rewards.shape[0] or terminal.shape != rewards.shape:
        raise ValueError(f'bellman_targets: expected rewards (M,), next_q (M, A), terminal (M,), got '
                         f'{tuple(rewards.shape)}, {tuple(next_q.shape)}, {tuple(terminal.shape)}')
    bootstrap = torch.where(terminal, torch.zeros_like(rewards), next_q.max(dim=1).values.to(rewards.dtype))
    return (rewards + gamma * bootstrap).detach()


def q_learning_loss(q: Tensor, targets: Tensor) -> Tensor:
    """Mean squared Bellman error ``mean_i (y_i - Q(s_i, a_i))^2`` (Eq. 12); the targets carry no gradient."""
    if q.shape != targets.shape:
        raise ValueError(f'q_learning_loss: q {tuple(q.shape)} and targets {tuple(targets.shape)} differ')
    return ((targets.detach() - q) ** 2).mean()
