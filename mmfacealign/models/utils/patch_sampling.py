# Copyright (c) mmfacealign contributors. All rights reserved.
"""Bilinear patch cropping around landmarks, and the one conversion from normalised input coordinates to
feature-map pixels.

FFLD (Yan et al., CVIU 2020), Sec. 3.2 and Sec. 5.1, Eq. 5-7: the CropNet of each refinement stage sees, for
every landmark, an ``h x w`` patch of a low-level feature map ``I`` (H, W) centre-cropped at the current
estimate ``(y, x)`` and resampled by bilinear interpolation:

.. math::

    V_{qp} = \\sum_{n=0}^{H-1} \\sum_{m=0}^{W-1} I_{nm} \\max(0, 1 - |y_q - n|) \\max(0, 1 - |x_p - m|),
    \\qquad y_q = y - (h - 1) / 2 + q, \\quad x_p = x - (w - 1) / 2 + p.

The sum runs over the map only, so samples that fall (partly) outside the map see zeros there (zero padding).
The gradient flows both to the map ``I`` (Sec. 5.2) and to the crop location ``(y, x)`` (Sec. 5.3); the
Table 6 ablation cuts either, hence the ``detach_*`` switches of :func:`crop_patches`. The same operation serves
FFLD's Align Loss (Sec. 4.3) and SRN's cascade cropping of image patches.

Coordinates. Heads keep landmarks in MMPose's normalised input coordinates, ``n = x / W_in`` with ``x`` in
pixel-index coordinates of the model input (pixel ``i`` has its centre at ``i``; ``RegressionLabel`` treats
``[0, W_in - 1]`` as the valid range). :func:`crop_patches` wants continuous pixel coordinates of the map being
cropped, with map pixel ``(n, m)`` centred at the integer point ``(x, y) = (m, n)`` (Eq. 5). The conversion
between the two is :func:`normalised_to_map` / :func:`map_to_normalised` (and
:func:`map_offsets_to_normalised` for displacements), and nowhere else.
"""
import functools
from typing import Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor

from . import coordinates
from .coordinates import xy_tensor
from .precision import autocast_on, float32_region

SizeLike = Union[Sequence[int], Sequence[float], Tensor]

#: Where the centre of map cell ``j`` lies on the input, for a map of stride ``s`` (see :func:`normalised_to_map`).
CELL_CENTRES = ('conv', 'area')
#: Implementations of :func:`crop_patches` (the same values).
CROP_METHODS = ('auto', 'grid_sample', 'separable')


def _pair(size: SizeLike, what: str, ref: Tensor) -> Tensor:
    return xy_tensor(size, ref, what)


def _map_scale_offset(map_size: SizeLike, input_size: Optional[SizeLike], cell_centre: str,
                      ref: Tensor) -> Tuple[Tensor, Optional[Tensor]]:
    """``u = n * scale + offset`` per axis (x, y); ``offset`` None means zero."""
    if cell_centre not in CELL_CENTRES:
        raise ValueError(f'cell_centre must be one of {CELL_CENTRES}, got {cell_centre!r}')
    if isinstance(map_size, Tensor):
        scale = _pair(map_size, 'map_size (H, W)', ref).flip(0)     # (W, H): x first, as the coordinates
    else:
        if len(map_size) != 2:
            raise ValueError(f'map_size (H, W) must have two entries, got {map_size!r}')
        scale = _pair((map_size[1], map_size[0]), 'map_size (H, W)', ref)
    if cell_centre == 'conv':
        return scale, None
    if input_size is None:
        raise ValueError("normalised_to_map: cell_centre='area' needs input_size=(W_in, H_in)")
    stride = _pair(input_size, 'input_size (W_in, H_in)', ref) / scale
    return scale, 0.5 / stride - 0.5


def normalised_to_map(coords: Tensor, map_size: Tuple[int, int], input_size: Optional[SizeLike] = None,
                      cell_centre: str = 'conv') -> Tensor:
    """MMPose normalised input coordinates -> continuous pixel coordinates of a feature map.

    ``coords`` are ``(x / W_in, y / H_in)`` with ``x, y`` in pixel-index coordinates of the model input (pixel
    ``i`` centred at ``i``), as ``RegressionLabel`` encodes them. The result ``(u, v)`` is in pixel coordinates
    of a map of size ``map_size = (H, W)`` (torch order) that covers the input with stride ``s = W_in / W``,
    map pixel ``j`` centred at ``u = j`` (the convention of :func:`crop_patches`, FFLD Eq. 5). Per axis, with
    ``n = x / W_in``:

    * ``cell_centre='conv'`` (default): cell ``j`` is centred on input pixel ``j s``. This is where the receptive
      field of a strided convolution or pooling with ``padding = kernel // 2`` is centred: output ``j`` of a
      ``k x k`` / stride-2 / pad ``k // 2`` layer reads inputs ``2j - k // 2 .. 2j + k // 2``. It holds exactly
      for MMPose's ResNet (7x7/2 pad 3 stem, 3x3/2 pad 1 max-pool, 3x3/2 pad 1 convs and 1x1/2 shortcuts;
      ``avg_down=False``), so for FFLD's 1st/2nd/3rd-level maps. Then ``u = x / s = n W``: no input size needed.
    * ``cell_centre='area'``: cell ``j`` covers input pixels ``[j s, (j + 1) s)`` and is centred at
      ``j s + (s - 1) / 2`` (average pooling, patchify convolutions with kernel = stride, ``F.interpolate`` with
      ``align_corners=False``). Then ``u = (x - (s - 1) / 2) / s = n W - 1/2 + 1 / (2 s)``; needs
      ``input_size = (W_in, H_in)`` (MMPose's (w, h) order) for ``s``.

    For ``s = 1`` both give ``u = x``. Example: a stride-2 map (W = 4) of an 8-px input, input pixel x = 3
    (n = 0.375): 'conv' gives u = 1.5 (between the cells centred on input pixels 2 and 4), 'area' gives
    u = 1.25 (cell 1 covers pixels 2, 3 and is centred at 2.5).

    Args:
        coords (Tensor): (..., 2), x first, normalised by the input size.
        map_size (tuple): (H, W) of the feature map.
        input_size (tuple, optional): (W_in, H_in), only for ``cell_centre='area'``.
        cell_centre (str): 'conv' (default) or 'area', see above.

    Returns:
        Tensor: (..., 2) continuous map pixel coordinates (u, v), x first.
    """
    scale, offset = _map_scale_offset(map_size, input_size, cell_centre, coords)
    return coords * scale if offset is None else coords * scale + offset


def map_to_normalised(coords: Tensor, map_size: Tuple[int, int], input_size: Optional[SizeLike] = None,
                      cell_centre: str = 'conv') -> Tensor:
    """The exact inverse of :func:`normalised_to_map`: map pixels (..., 2) -> normalised input coords (..., 2)."""
    scale, offset = _map_scale_offset(map_size, input_size, cell_centre, coords)
    return coords / scale if offset is None else (coords - offset) / scale


def map_offsets_to_normalised(offsets: Tensor, map_size: Tuple[int, int]) -> Tensor:
    """A displacement (..., 2) (x first) in pixels of a map of size (H, W) -> the same displacement in normalised
    input coordinates: ``(dx / W, dy / H)``, whatever the cell-centre convention (it only shifts positions). A zero
    offset stays exactly zero. Used to add a correction predicted on a map's grid to a normalised estimate."""
    height, width = (int(s) for s in map_size)
    return offsets / xy_tensor((width, height), offsets, 'map_size (H, W)')


def _patch_hw(patch_size: Union[int, Tuple[int, int]]) -> Tuple[int, int]:
    if isinstance(patch_size, int):
        h = w = patch_size
    else:
        h, w = (int(s) for s in patch_size)
    if h < 1 or w < 1:
        raise ValueError(f'patch_size must be positive, got {patch_size!r}')
    return h, w


def patch_offsets(patch_size: Union[int, Tuple[int, int]], device=None, dtype=None) -> Tuple[Tensor, Tensor]:
    """Offsets of the patch samples from the crop centre (FFLD Eq. 6-7): ``q - (h - 1) / 2`` (h,) and
    ``p - (w - 1) / 2`` (w,). For an 8 x 8 patch they run -3.5 .. 3.5, so an even-sized patch is aligned with the
    map grid when its centre is at a half-integer position, an odd-sized one at an integer position."""
    h, w = _patch_hw(patch_size)
    dy = torch.arange(h, device=device, dtype=dtype) - (h - 1) / 2
    dx = torch.arange(w, device=device, dtype=dtype) - (w - 1) / 2
    return dy, dx


def check_centres(centres: Tensor, name: str = 'crop_patches') -> None:
    """Raise ``ValueError`` naming ``name`` if any centre is NaN or infinite (one host sync)."""
    finite = torch.isfinite(centres)
    if not bool(finite.all()):
        bad = int((~finite.all(dim=-1)).sum())
        total = centres.numel() // max(centres.shape[-1], 1)
        raise ValueError(f'{name}: {bad} of {total} crop centres are not finite (NaN or Inf); the landmark '
                         'estimate that feeds this crop has diverged')


def crop_patches(feature: Tensor, centres: Tensor, patch_size: Union[int, Tuple[int, int]],
                 detach_feature: bool = False, detach_centres: bool = False, name: str = 'crop_patches',
                 max_offset: Optional[float] = None, groups: Optional[int] = None,
                 method: str = 'auto', check_finite: Optional[bool] = None) -> Tensor:
    """Bilinear ``h x w`` crops of ``feature`` centred on every landmark (FFLD Eq. 5-7), all in one call.

    ``V[q, p] = sum_nm I[n, m] max(0, 1 - |y_q - n|) max(0, 1 - |x_p - m|)`` with ``y_q = y - (h - 1) / 2 + q``
    and ``x_p = x - (w - 1) / 2 + p``: bilinear interpolation between the four map pixels around each sample;
    the sum runs over the map only, so whatever falls outside it reads zero (zero padding). At an integer centre
    an odd-sized patch equals plain slicing (``I[y - (h-1)/2 : y + (h+1)/2, ...]``), at a half-integer centre an
    even-sized one does. Implemented as a single ``F.grid_sample`` (bilinear, ``padding_mode='zeros'``), so it
    is differentiable in ``feature`` (FFLD Sec. 5.2) and ``centres`` (Sec. 5.3, piecewise linear; at exactly
    integer sample positions PyTorch uses the one-sided derivative).

    Bad input. Non-finite centres raise ``ValueError`` naming ``name`` (e.g. ``'FFLD stage 2'``) and how many
    are bad. The check reads a value back from the device, so by default (``check_finite=None``) it runs on CPU
    tensors only, where that costs nothing; on a GPU the crop makes no host synchronisation, and a diverged
    estimate shows as a non-finite loss instead (``check_finite=True`` turns the check on there too). Centres
    further than ``max_offset`` map pixels outside the map are
    clamped to that margin, i.e. ``x`` to ``[-max_offset, W - 1 + max_offset]`` (``y`` likewise), so a diverged
    early estimate cannot produce huge sampling indices; a clamped coordinate gets zero gradient. With the default
    margin (half the map size along each axis) a patch at least one pixel smaller than the map is entirely off the
    map, i.e. all zeros, at the clamped position as well as at the original one, so the clamp changes no value.

    Args:
        feature (Tensor): (B, C, H, W) map ``I``; with ``groups=K``, (B, K * c, H, W) whose channels
            ``[k c, (k + 1) c)`` belong to landmark ``k`` (e.g. a per-landmark channel selection).
        centres (Tensor): (B, K, 2) crop centres ``(x, y)`` in continuous pixel coordinates of THIS map (pixel
            ``(n, m)`` centred at ``(x, y) = (m, n)``; see :func:`normalised_to_map`).
        patch_size (int | tuple): ``h = w = patch_size``, or ``(h, w)``.
        detach_feature (bool): Cut the gradient to ``feature`` (Table 6 "without nabla_low_level"). Default False.
        detach_centres (bool): Cut the gradient to ``centres`` (Table 6 "without nabla_crop_location").
            Default False.
        name (str): Used in error messages. Default ``'crop_patches'``.
        max_offset (float, optional): Clamp margin in map pixels, for both axes. Default: ``W / 2`` for x and
            ``H / 2`` for y.
        groups (int, optional): ``K``: crop landmark ``k`` from its own channel group only, (B, K, c, h, w) out;
            K-fold less work than cropping all channels. Default None: every landmark sees all C channels.
        method (str): ``'grid_sample'`` (one ``F.grid_sample`` call), ``'separable'`` (the same sum as two
            matrix products with the 1-D bilinear weights, ``V = W_y I W_x^T`` per landmark: more arithmetic,
            but a backward with deterministic CUDA kernels, where ``grid_sample``'s raises under
            ``torch.use_deterministic_algorithms(True)``, i.e. mmengine's ``randomness.deterministic=True``) or
            ``'auto'`` (default: ``'separable'`` exactly when that error would come, see
            :func:`deterministic_crop_needed`, else ``'grid_sample'``).
        check_finite (bool, optional): Check that the centres are finite (see "Bad input"). Default None: on
            CPU tensors only.

    Returns:
        Tensor: (B, K, C, h, w), or (B, K, c, h, w) with ``groups``. The dtype is the promotion of the feature's
        and the centres' dtypes (the sampling grid is built in that precision); float32 under autocast, where
        grid and crop run with autocast off (:mod:`~mmfacealign.models.utils.precision`).
    """
    if feature.ndim != 4:
        raise ValueError(f'{name}: feature must be (B, C, H, W), got shape {tuple(feature.shape)}')
    if centres.ndim != 3 or centres.shape[-1] != 2 or centres.shape[0] != feature.shape[0]:
        raise ValueError(f'{name}: centres must be (B, K, 2) with B = {feature.shape[0]} (the feature batch), '
                         f'got shape {tuple(centres.shape)}')
    b, c, height, width = feature.shape
    # Python ints also under torch.jit.trace (FLOP counting, export), where sizes are 0-dim CPU tensors: as clamp
    # bounds they fail for a CUDA map ("min is on cpu")
    height, width = int(height), int(width)
    k = centres.shape[1]
    ph, pw = _patch_hw(patch_size)
    if groups is not None:
        if groups != k or c % max(k, 1) != 0:
            raise ValueError(f'{name}: groups={groups} needs K = groups landmarks and C divisible by K, got '
                             f'K = {k}, C = {c}')
        c = c // max(k, 1)
    dtype = torch.promote_types(feature.dtype, centres.dtype)
    if autocast_on(feature):
        dtype = torch.float32             # under autocast the grid and the crop stay float32 (precision.py)
    if method not in CROP_METHODS:
        raise ValueError(f"{name}: method must be one of {CROP_METHODS}, got {method!r}")
    if k == 0 or b == 0:
        return feature.new_zeros((b, k, c, ph, pw), dtype=dtype)
    if check_finite is None:
        check_finite = coordinates.host_transfer_is_free(centres)
    if check_finite:
        check_centres(centres, name)

    if detach_feature:
        feature = feature.detach()
    if detach_centres:
        centres = centres.detach()
    feature = feature.to(dtype)
    centres = centres.to(dtype)
    if max_offset is None:
        margin_x, margin_y = width / 2, height / 2
    else:
        margin_x = margin_y = float(max_offset)

    if method == 'auto':
        method = 'separable' if deterministic_crop_needed(feature, centres) else 'grid_sample'
    with float32_region(feature):
        if method == 'separable':
            # clamp to the margin, then the sample positions of Eq. 6-7 (x first, like the centres)
            x = centres[..., 0].clamp(-margin_x, width - 1 + margin_x)
            y = centres[..., 1].clamp(-margin_y, height - 1 + margin_y)
            dy, dx = patch_offsets((ph, pw), device=feature.device, dtype=dtype)
            return _separable_crop(feature, x[:, :, None] + dx, y[:, :, None] + dy, b, k, c, height, width,
                                   groups)
        grid = sampling_grid(centres, (ph, pw), (height, width), (margin_x, margin_y))
        return _grid_crop(feature, grid, b, k, c, ph, pw, height, width, groups)


def sampling_grid(centres: Tensor, patch_size: Tuple[int, int], map_size: Tuple[int, int],
                  margins: Tuple[float, float]) -> Tensor:
    """``grid_sample``'s grid (B, K, h, w, 2) for :func:`crop_patches`: the centres (B, K, 2) clamped to the
    margins (x, y), then the sample positions of Eq. 6-7 in ``grid_sample``'s units with ``align_corners=False``
    (pixel ``u`` of a size-``S`` axis at ``g = (2u + 1) / S - 1``, valid for ``S = 1`` too): the centre's ``g``
    plus the patch's fixed offsets ``2 dx / S``. Three small operations, whatever the patch size."""
    (ph, pw), (height, width), (mx, my) = patch_size, map_size, margins
    if height == width and mx == my:                                     # square maps: scalar bounds
        g = centres.clamp(-mx, width - 1 + mx).mul(2 / width).add(1 / width - 1)
    else:
        lo = xy_tensor((-mx, -my), centres, 'margins')
        hi = xy_tensor((width - 1 + mx, height - 1 + my), centres, 'margins')
        g = torch.addcmul(xy_tensor((1 / width - 1, 1 / height - 1), centres, 'map_size'),
                          centres.clamp(lo, hi), xy_tensor((2 / width, 2 / height), centres, 'map_size'))
    # cached outside tracing only: a trace must record the same operations every time it is run
    offsets = (_grid_offsets.__wrapped__ if torch.jit.is_tracing() else _grid_offsets)(
        ph, pw, height, width, centres.device, centres.dtype)
    return g[:, :, None, None, :] + offsets


@functools.lru_cache(maxsize=128)
def _grid_offsets(ph: int, pw: int, height: int, width: int, device: torch.device, dtype: torch.dtype) -> Tensor:
    """The patch's sample offsets (h, w, 2) in ``grid_sample`` units, ``(2 dx / W, 2 dy / H)``: built once per
    patch size, map size, device and dtype (a constant; ordinary tensor also when first built in inference
    mode)."""
    with torch.inference_mode(False), torch.no_grad():
        dy, dx = patch_offsets((ph, pw), device=device, dtype=dtype)
        return torch.stack(torch.broadcast_tensors(dx[None, :] * (2 / width), dy[:, None] * (2 / height)), dim=-1)


def deterministic_crop_needed(feature: Tensor, centres: Tensor) -> bool:
    """True when ``grid_sample``'s backward would raise: a CUDA map, deterministic algorithms on, and a
    gradient to the map or the centres."""
    return (feature.is_cuda and torch.are_deterministic_algorithms_enabled() and torch.is_grad_enabled()
            and (feature.requires_grad or centres.requires_grad))


def bilinear_weights(coords: Tensor, size: int) -> Tensor:
    """``max(0, 1 - |u - n|)`` for sample positions ``coords`` (..., S) and map pixels ``n = 0 .. size - 1``:
    (..., S, size), the 1-D factors of Eq. 5 (zero beyond the map). Built from ``floor(u)`` and the fraction
    ``f = u - floor(u)`` (weights ``1 - f`` and ``f`` on the two neighbours), so that the derivative in ``u`` is
    ``grid_sample``'s one-sided one at integer positions too."""
    n = torch.arange(size, device=coords.device, dtype=coords.dtype)
    lo = coords.detach().floor()
    frac = (coords - lo)[..., None]
    return (n == lo[..., None]) * (1 - frac) + (n == lo[..., None] + 1) * frac


def _separable_crop(feature, xs, ys, b, k, c, height, width, groups):
    wy = bilinear_weights(ys, height)                                    # (B, K, h, H)
    wx = bilinear_weights(xs, width)                                     # (B, K, w, W)
    if groups is None:
        rows = torch.einsum('bkqn,bcnm->bkcqm', wy, feature)             # (B, K, C, h, W)
    else:
        rows = torch.einsum('bkqn,bkcnm->bkcqm', wy, feature.reshape(b, k, c, height, width))
    return torch.einsum('bkcqm,bkpm->bkcqp', rows, wx)                   # (B, K, C, h, w)


def _grid_crop(feature, grid, b, k, c, ph, pw, height, width, groups):
    if groups is None:
        out = F.grid_sample(feature, grid.reshape(b, k * ph, pw, 2), mode='bilinear', padding_mode='zeros',
                            align_corners=False)                        # (B, C, K*h, w)
        return out.reshape(b, c, k, ph, pw).transpose(1, 2).contiguous()
    out = F.grid_sample(feature.reshape(b * k, c, height, width), grid.reshape(b * k, ph, pw, 2),
                        mode='bilinear', padding_mode='zeros', align_corners=False)  # (B*K, c, h, w)
    return out.reshape(b, k, c, ph, pw)
