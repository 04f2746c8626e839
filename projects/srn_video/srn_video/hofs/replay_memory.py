# Copyright (c) mmfacealign contributors. All rights reserved.
"""HOFS's experience replay: one queue per video clip, the last K clips kept (SRN Sec. 3.2, "Experience Replay").

Zhu et al., Pattern Recognition 2022, Sec. 3.2 ("Experience Replay"): unlike DQN's single queue of the last
transitions, the experiences of the last K video clips are stored, each clip in its own queue (multi-queue
storage), to diversify them; Q-learning updates use transitions drawn uniformly at random from the whole pool.

A transition (Eq. 11) is ``(s_t, r_t, S_{t+1})``: the chosen state's patches ``s_t`` (N, C, p, p), the reward
``r_t`` and the candidate states of the next frame ``S_{t+1}`` (A, N, C, p, p), or a terminal flag at the last
frame of a clip (its target is ``r_t`` alone).

Capacity and memory: the queues of the current batch's clips plus those of the last ``num_clips`` (K) clips before
them: :meth:`ClipReplayMemory.begin_batch` opens one queue per clip of a batch of B clips and drops the oldest
queues beyond K + B, so K counts clips beyond the batch (with K = B = 8, the memory holds 16 clips, not only the
current batch). A clip seen again (next epoch) opens a new queue: every visit is its own episode. A queue holds
as many transitions as its clip has frames, so the memory holds at most ``(K + B) x clip_len`` transitions of
``(1 + A) x N x C x p x p`` values each, stored in ``storage_dtype`` (default float16: 2 bytes) on
``storage_device`` (default CPU). Example: 68 landmarks, 24 px patches, A = 3, float16: 0.94 MB per transition,
8 clips x 16 frames: 120 MB; with SRN's 36 px patches 2.1 MB and 270 MB (twice that with K = B = 8).
"""
import collections
from typing import Dict, Hashable, List, Optional

import torch
from torch import Tensor

STATE_VERSION = 1


class ClipReplayMemory:
    """Multi-queue experience replay over the last ``num_clips`` clips (SRN Sec. 3.2).

    Args:
        num_clips (int): K, the number of clip queues kept besides the current batch's. Default 8 (the paper
            gives none).
        num_actions (int): A, candidate states per next frame. Default 3.
        storage_dtype (torch.dtype): Dtype of the stored patches. Default ``torch.float16`` (rewards stay
            float32).
        storage_device (str | torch.device): Where the transitions live. Default ``'cpu'``.

    Errors: ``KeyError`` when pushing to a queue that was never opened or has been dropped; ``RuntimeError`` when
    sampling from an empty memory; ``ValueError`` for transitions of inconsistent shapes.
    """

    def __init__(self, num_clips: int = 8, num_actions: int = 3, storage_dtype: torch.dtype = torch.float16,
                 storage_device='cpu'):
        if num_clips < 1 or num_actions < 1:
            raise ValueError(f'ClipReplayMemory: num_clips and num_actions must be positive, got {num_clips}, '
                             f'{num_actions}')
        self.num_clips = int(num_clips)
        self.num_actions = int(num_actions)
        self.storage_dtype = storage_dtype
        self.storage_device = torch.device(storage_device)
        self._queues: 'collections.OrderedDict[int, dict]' = collections.OrderedDict()
        self._next_handle = 0
        self._state_shape: Optional[torch.Size] = None

    # ----------------------------------------------------------------------------------------------- storage
    def begin_batch(self, clip_ids: List[Hashable]) -> List[int]:
        """Open a new queue per clip of a batch; returns their handles. Keeps the last K queues before them."""
        handles = []
        for clip_id in clip_ids:
            handles.append(self._next_handle)
            self._queues[self._next_handle] = dict(clip_id=clip_id, transitions=[])
            self._next_handle += 1
        while len(self._queues) > self.num_clips + len(handles):
            self._queues.popitem(last=False)
        return handles

    def begin_clip(self, clip_id: Hashable) -> int:
        """A batch of one clip (:meth:`begin_batch`)."""
        return self.begin_batch([clip_id])[0]

    def push(self, handle: int, state: Tensor, reward: float, next_states: Optional[Tensor] = None) -> None:
        """Store ``(s_t, r_t, S_{t+1})`` in queue ``handle``; ``next_states=None`` marks a terminal transition.

        Args:
            handle (int): From :meth:`begin_clip`.
            state (Tensor): (N, C, p, p) the chosen state's patches.
            reward (float | Tensor): r_t.
            next_states (Tensor, optional): (A, N, C, p, p) the next frame's candidate states.
        """
        if handle not in self._queues:
            raise KeyError(f'ClipReplayMemory: queue {handle} is not open (never opened, or dropped: only the '
                           f'current batch\'s clips and the num_clips={self.num_clips} before them are kept)')
        if self._state_shape is None:
            self._state_shape = state.shape
        if state.shape != self._state_shape:
            raise ValueError(f'ClipReplayMemory: state shape {tuple(state.shape)} differs from the stored '
                             f'{tuple(self._state_shape)}')
        if next_states is not None and next_states.shape != (self.num_actions, *self._state_shape):
            raise ValueError(f'ClipReplayMemory: next_states must be ({self.num_actions}, '
                             f'{", ".join(map(str, self._state_shape))}), got {tuple(next_states.shape)}')
        store = dict(device=self.storage_device, dtype=self.storage_dtype)
        self._queues[handle]['transitions'].append(
            (state.detach().to(**store), float(reward), None if next_states is None else next_states.detach().to(
                **store)))

    def __len__(self) -> int:
        return sum(len(q['transitions']) for q in self._queues.values())

    @property
    def clip_ids(self) -> List[Hashable]:
        """The stored clips' ids, oldest first."""
        return [q['clip_id'] for q in self._queues.values()]

    def queue_lengths(self) -> List[int]:
        """Transitions per stored queue, oldest first."""
        return [len(q['transitions']) for q in self._queues.values()]

    def clear(self) -> None:
        self._queues.clear()

    # ----------------------------------------------------------------------------------------------- sampling
    def sample(self, batch_size: int, device=None, generator: Optional[torch.Generator] = None) -> Dict[str, Tensor]:
        """A minibatch drawn uniformly without replacement from all stored transitions (of every queue).

        ``M = min(batch_size, len(self))``. Returns float32 tensors on ``device`` (default the storage device):
        ``states`` (M, N, C, p, p), ``rewards`` (M,), ``next_states`` (M, A, N, C, p, p) (zeros where terminal),
        ``terminal`` (M,) bool, and ``index`` (M,) long: positions in the flattened pool, oldest queue first
        (``generator`` makes the draw reproducible; it must be a CPU generator).
        """
        total = len(self)
        if total == 0:
            raise RuntimeError('ClipReplayMemory: cannot sample from an empty replay memory (push transitions '
                               'first)')
        if batch_size < 1:
            raise ValueError(f'ClipReplayMemory: batch_size must be positive, got {batch_size}')
        index = torch.randperm(total, generator=generator)[:batch_size]
        flat = [t for q in self._queues.values() for t in q['transitions']]
        picked = [flat[i] for i in index.tolist()]
        device = self.storage_device if device is None else device
        zeros = torch.zeros((self.num_actions, *self._state_shape), dtype=self.storage_dtype,
                            device=self.storage_device)
        return dict(
            states=torch.stack([t[0] for t in picked]).to(device=device, dtype=torch.float32),
            rewards=torch.tensor([t[1] for t in picked], dtype=torch.float32, device=device),
            next_states=torch.stack([zeros if t[2] is None else t[2] for t in picked]).to(device=device,
                                                                                          dtype=torch.float32),
            terminal=torch.tensor([t[2] is None for t in picked], dtype=torch.bool, device=device),
            index=index.to(device))

    # ----------------------------------------------------------------------------------------------- checkpoints
    def get_state(self) -> dict:
        """Everything needed to restore the memory, tensors on CPU (for a checkpoint's extra entry)."""
        queues = []
        for handle, q in self._queues.items():
            trans = q['transitions']
            queues.append(dict(
                handle=handle, clip_id=q['clip_id'],
                states=torch.stack([t[0] for t in trans]).cpu() if trans else None,
                rewards=torch.tensor([t[1] for t in trans], dtype=torch.float32),
                next_states=[None if t[2] is None else t[2].cpu() for t in trans]))
        return dict(version=STATE_VERSION, num_clips=self.num_clips, num_actions=self.num_actions,
                    next_handle=self._next_handle, queues=queues)

    def set_state(self, state: dict) -> None:
        """Restore :meth:`get_state`'s dict (stored on this memory's device and dtype). Raises ``ValueError`` on a
        dict of another version or with missing keys. Every queue of the state is restored (the current batch's
        and the K before it); the next :meth:`begin_batch` keeps the newest K of them."""
        missing = {'version', 'num_actions', 'next_handle', 'queues'} - set(state)
        if missing:
            raise ValueError(f'ClipReplayMemory.set_state: missing keys {sorted(missing)}')
        if state['version'] != STATE_VERSION:
            raise ValueError(f'ClipReplayMemory.set_state: state version {state["version"]}, this code reads '
                             f'{STATE_VERSION}')
        if state['num_actions'] != self.num_actions:
            raise ValueError(f'ClipReplayMemory.set_state: the state has {state["num_actions"]} actions, this '
                             f'memory {self.num_actions}')
        self._queues.clear()
        self._state_shape = None
        for q in state['queues']:
            self._queues[int(q['handle'])] = dict(clip_id=q['clip_id'], transitions=[])
            for i, nxt in enumerate(q['next_states']):
                self.push(int(q['handle']), q['states'][i], float(q['rewards'][i]), nxt)
        self._next_handle = int(state['next_handle'])
