# Copyright (c) mmfacealign contributors. All rights reserved.
"""HOFS's action set: SRN's noise patch around landmark ``l - 1``, ``l`` or ``l + 1`` (SRN Sec. 3.2).

Zhu et al., Pattern Recognition 2022, Sec. 3.2 ("Action"): at frame ``t`` the agent occludes
the face with a noise patch around one of three adjacent landmarks ``l_{t-1} - 1``, ``l_{t-1}``, ``l_{t-1} + 1``,
where ``l_{t-1}`` is the landmark chosen at the previous frame (random at the first frame), so the occluder moves
smoothly along the landmark order. The patch is SRN's image augmentation (Sec. 4.1, official code): a square of
uniform noise, side ``48 / 224`` of the crop width, whose centre is moved ``50 / 224`` of the width inwards when it
lies closer than that to a border. The sizes and the border rule are those of
:class:`mmfacealign.datasets.transforms.occlusion.RandomNoisePatchOcclusion` (its constructor defaults are read
here, not restated), re-expressed in torch so that a whole batch of normalised model inputs is painted on the
device; ``tests/test_projects/test_srn_video_hofs.py`` checks that both give the same box.

Index rule at the ends: ``'wrap'`` (default): ``l - 1`` of landmark 0 is ``N - 1`` and ``l + 1`` of ``N - 1`` is 0,
so there are always three distinct actions (the iBUG-68 order is not spatially continuous anyway: 16 -> 17 jumps
from the jaw to a brow). ``'clamp'``: indices are clipped to ``[0, N - 1]``, so at the ends two of the three actions
coincide.

Images inside the model are the data preprocessor's output ``(x - mean) / std`` per channel; the noise is uniform
over the valid pixel range ``noise_range`` (default ``[0, 255]``) mapped through the same mean/std, so the patch
looks like pixel noise to the model. Pass the preprocessor's ``mean``/``std`` (in the channel order of the model
input) or call :meth:`NoisePatchActions.set_normalisation`.
"""
import inspect
from typing import Optional, Sequence, Tuple

import torch
from mmpose.registry import MODELS
from torch import Tensor

from mmfacealign.datasets.transforms.occlusion import RandomNoisePatchOcclusion
from mmfacealign.models.utils.coordinates import normalised_to_pixels

_SRN_PATCH = {name: p.default for name, p in inspect.signature(RandomNoisePatchOcclusion.__init__).parameters.items()
              if p.default is not inspect.Parameter.empty}
#: SRN's noise patch side, border-rule distance and the crop width they refer to (48, 50, 224).
PATCH_SIZE: int = _SRN_PATCH['patch_size']
BORDER: int = _SRN_PATCH['border']
REF_SIZE: int = _SRN_PATCH['ref_size']
#: The data preprocessor's mean/std of every mmfacealign config (ImageNet, RGB order).
DEFAULT_MEAN = (123.675, 116.28, 103.53)
DEFAULT_STD = (58.395, 57.12, 57.375)
INDEX_MODES = ('wrap', 'clamp')


def adjacent_landmarks(prev: Tensor, num_landmarks: int, offsets: Sequence[int] = (-1, 0, 1),
                       mode: str = 'wrap') -> Tensor:
    """The candidate landmarks ``l + o`` for every offset ``o`` (SRN Sec. 3.2: ``l - 1, l, l + 1``).

    Args:
        prev (Tensor): (B,) long, the previous frame's chosen landmark ``l``.
        num_landmarks (int): N.
        offsets (sequence of int): Default (-1, 0, 1).
        mode (str): ``'wrap'`` (modulo N, default) or ``'clamp'`` (clip to [0, N - 1]).

    Returns:
        Tensor: (B, A) long, A = len(offsets).
    """
    if mode not in INDEX_MODES:
        raise ValueError(f'adjacent_landmarks: mode must be one of {INDEX_MODES}, got {mode!r}')
    if num_landmarks < 1:
        raise ValueError(f'adjacent_landmarks: num_landmarks must be positive, got {num_landmarks}')
    idx = prev.long()[:, None] + torch.as_tensor(list(offsets), dtype=torch.long, device=prev.device)
    return idx.remainder(num_landmarks) if mode == 'wrap' else idx.clamp(0, num_landmarks - 1)


def noise_patch_boxes(centres: Tensor, height: int, width: int, patch_size: int = PATCH_SIZE, border: int = BORDER,
                      ref_size: int = REF_SIZE) -> Tuple[Tensor, int]:
    """SRN's patch placement (the rule of ``RandomNoisePatchOcclusion``) for a batch of centres.

    ``s = width / ref_size``; side ``max(1, round(patch_size * s))``; a centre coordinate below ``border * s`` is
    moved ``border * s`` inwards (``+``), one above ``extent - border * s`` likewise (``-``), per axis; the top-left
    corner is ``round(centre - side / 2)``. The box may extend past the image; painting clips it.

    Args:
        centres (Tensor): (M, 2) centres ``(x, y)`` in input pixels (pixel ``i`` centred at ``i``).
        height, width (int): Image size.

    Returns:
        tuple: top-left corners (M, 2) long ``(x1, y1)`` and the side (int); the box is ``[x1, x1 + side)``.
    """
    scale = width / ref_size
    side = max(1, int(round(patch_size * scale)))
    margin = border * scale
    c = centres.to(torch.float64)
    extent = c.new_tensor([width, height])
    c = torch.where(c < margin, c + margin, torch.where(c > extent - margin, c - margin, c))
    return torch.round(c - side / 2).long(), side


@MODELS.register_module()
class NoisePatchActions:
    """Paints SRN noise patches on normalised images and builds HOFS's candidate occluded frames (Sec. 3.2).

    Args:
        patch_size (int): Patch side at ``ref_size``. Default 48 (SRN).
        border (int): Border-rule distance at ``ref_size``. Default 50 (SRN).
        ref_size (int): The crop width the two sizes refer to. Default 224.
        noise_range (tuple): Pixel range ``(low, high)`` of the uniform noise, before normalisation. Default
            (0, 255).
        mean (sequence): Per-channel mean of the data preprocessor. Default the configs' ImageNet mean.
        std (sequence): Per-channel std of the data preprocessor. Default the configs' ImageNet std.
        offsets (sequence of int): Candidate offsets from the previous landmark. Default (-1, 0, 1) (the paper's
            three actions).
        index_mode (str): ``'wrap'`` (default) or ``'clamp'`` at the ends of the landmark order (module doc).
    """

    def __init__(self, patch_size: int = PATCH_SIZE, border: int = BORDER, ref_size: int = REF_SIZE,
                 noise_range: Sequence[float] = (0., 255.), mean: Sequence[float] = DEFAULT_MEAN,
                 std: Sequence[float] = DEFAULT_STD, offsets: Sequence[int] = (-1, 0, 1), index_mode: str = 'wrap'):
        if patch_size <= 0 or ref_size <= 0 or border < 0:
            raise ValueError(f'NoisePatchActions: patch_size and ref_size must be positive and border >= 0, got '
                             f'{patch_size}, {ref_size}, {border}')
        if len(noise_range) != 2 or not noise_range[0] <= noise_range[1]:
            raise ValueError(f'NoisePatchActions: noise_range must be (low, high) with low <= high, got {noise_range}')
        if index_mode not in INDEX_MODES:
            raise ValueError(f'NoisePatchActions: index_mode must be one of {INDEX_MODES}, got {index_mode!r}')
        if len(offsets) < 1:
            raise ValueError('NoisePatchActions: offsets must not be empty')
        self.patch_size, self.border, self.ref_size = int(patch_size), int(border), int(ref_size)
        self.noise_range = (float(noise_range[0]), float(noise_range[1]))
        self.offsets = tuple(int(o) for o in offsets)
        self.index_mode = index_mode
        self.set_normalisation(mean, std)

    @property
    def num_actions(self) -> int:
        return len(self.offsets)

    def set_normalisation(self, mean: Sequence[float], std: Sequence[float]) -> None:
        """Use the data preprocessor's per-channel ``mean`` and ``std`` (model-input channel order)."""
        mean, std = [float(v) for v in torch.as_tensor(mean).flatten()], [float(v) for v in
                                                                          torch.as_tensor(std).flatten()]
        if len(mean) != len(std) or not mean or min(std) <= 0:
            raise ValueError(f'NoisePatchActions: mean and std need one value per channel and std > 0, got '
                             f'mean={mean}, std={std}')
        self.mean, self.std = tuple(mean), tuple(std)

    def random_landmarks(self, batch: int, num_landmarks: int, device=None,
                         generator: Optional[torch.Generator] = None) -> Tensor:
        """(B,) landmarks drawn uniformly from ``[0, N)`` (the first frame's ``l``, and RSF's choice)."""
        return torch.randint(0, num_landmarks, (batch, ), device=device, generator=generator)

    def paint(self, images: Tensor, landmarks: Tensor, index: Tensor,
              generator: Optional[torch.Generator] = None) -> Tensor:
        """Paint one noise patch per image, around landmark ``index``.

        Args:
            images (Tensor): (M, C, H, W) normalised images (not modified).
            landmarks (Tensor): (M, N, 2) normalised input coordinates (the ground-truth shape).
            index (Tensor): (M,) long, the landmark each patch is centred on.
            generator (torch.Generator, optional): For the noise (on the images' device).

        Returns:
            Tensor: (M, C, H, W), a new tensor, detached from ``images``.
        """
        if images.ndim != 4 or landmarks.ndim != 3 or landmarks.shape[0] != images.shape[0] or \
                index.shape != (images.shape[0], ):
            raise ValueError(f'NoisePatchActions.paint: expected images (M, C, H, W), landmarks (M, N, 2) and '
                             f'index (M,), got {tuple(images.shape)}, {tuple(landmarks.shape)}, '
                             f'{tuple(index.shape)}')
        m, c, height, width = images.shape
        if c != len(self.mean):
            raise ValueError(f'NoisePatchActions.paint: images have {c} channels but mean/std have {len(self.mean)}')
        images = images.detach()
        centres = landmarks.detach()[torch.arange(m, device=landmarks.device), index.to(landmarks.device)]
        corner, side = noise_patch_boxes(normalised_to_pixels(centres, (width, height)), height, width,
                                         self.patch_size, self.border, self.ref_size)
        corner = corner.to(images.device)
        xs = torch.arange(width, device=images.device)
        ys = torch.arange(height, device=images.device)
        in_x = (xs >= corner[:, :1]) & (xs < corner[:, :1] + side)                      # (M, W)
        in_y = (ys >= corner[:, 1:]) & (ys < corner[:, 1:] + side)                      # (M, H)
        mask = (in_y[:, :, None] & in_x[:, None, :])[:, None]                           # (M, 1, H, W)
        low, high = self.noise_range
        noise = torch.rand(images.shape, device=images.device, dtype=images.dtype, generator=generator)
        mean = images.new_tensor(self.mean)[:, None, None]
        std = images.new_tensor(self.std)[:, None, None]
        noise = (low + (high - low) * noise - mean) / std
        return torch.where(mask, noise, images)

    def candidates(self, images: Tensor, landmarks: Tensor, prev: Tensor,
                   generator: Optional[torch.Generator] = None) -> Tuple[Tensor, Tensor]:
        """The candidate occluded frames of HOFS (Sec. 3.2): one per offset around the previous landmark.

        Args:
            images (Tensor): (B, C, H, W) normalised frames at time t.
            landmarks (Tensor): (B, N, 2) their ground-truth shapes (normalised input coordinates).
            prev (Tensor): (B,) long, the landmark chosen at t - 1.

        Returns:
            tuple: candidate images (B, A, C, H, W) (detached) and their landmark indices (B, A) long.
        """
        b, n = landmarks.shape[:2]
        index = adjacent_landmarks(prev.to(landmarks.device), n, self.offsets, self.index_mode)     # (B, A)
        a = index.shape[1]
        painted = self.paint(images.repeat_interleave(a, 0), landmarks.repeat_interleave(a, 0), index.flatten(),
                             generator)
        return painted.reshape(b, a, *images.shape[1:]), index

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(patch_size={self.patch_size}, border={self.border}, '
                f'ref_size={self.ref_size}, noise_range={self.noise_range}, offsets={self.offsets}, '
                f'index_mode={self.index_mode!r})')
