# Copyright (c) mmfacealign contributors. All rights reserved.
"""Align Loss of FFLD.

FFLD (Yan et al., CVIU 2020), Sec. 4.3, Eq. 2: crop a patch of a feature map at the ground-truth position and one
at the predicted position of every landmark, smooth both with a Gaussian ``G`` and sum the pixel-wise squared
differences:

.. math::

    L = \\sum_{m=1}^{|P_{GT}|} \\| (G * P_{GT})_m - (G * P_{S + \\Delta S})_m \\|_2^2 .

The loss is sensitive to misalignment across a boundary and tolerant along it (Fig. 6), and saturates for
outliers once the patches no longer overlap. ``G`` (3 x 3, sigma 1) helps convergence and is removed once the
loss stops going down (Sec. 6.6, implementation details); :class:`~mmfacealign.engine.hooks.AlignLossSmoothingHook` does
that during training, through :meth:`AlignLoss.disable_smoothing`.
"""
from typing import Optional, Tuple, Union

import torch
import torch.nn.functional as F
from mmpose.registry import MODELS
from torch import Tensor, nn

from ..utils.patch_sampling import crop_patches

REDUCTIONS = ('mean', 'sum', 'none')


def gaussian_kernel2d(kernel_size: int, sigma: float, dtype=torch.float32) -> Tensor:
    """(kernel_size, kernel_size) Gaussian ``exp(-(dx^2 + dy^2) / (2 sigma^2))`` centred on the middle tap,
    normalised to sum 1 (FFLD Sec. 4.3 ``G``; Sec. 6.6: size 3, sigma 1)."""
    if kernel_size < 1 or kernel_size % 2 == 0:
        raise ValueError(f'AlignLoss: kernel_size must be odd and positive, got {kernel_size}')
    if sigma <= 0:
        raise ValueError(f'AlignLoss: sigma must be positive, got {sigma}')
    r = torch.arange(kernel_size, dtype=torch.float64) - (kernel_size - 1) / 2
    g = torch.exp(-r**2 / (2 * sigma**2))
    k2 = g[:, None] * g[None, :]
    return (k2 / k2.sum()).to(dtype)


@MODELS.register_module()
class AlignLoss(nn.Module):
    """Pixel-wise squared difference of (smoothed) patches cropped at the ground truth and at the prediction
    (FFLD Sec. 4.3, Eq. 2).

    Both patches are cropped from the same ``feature`` with :func:`~mmfacealign.models.utils.crop_patches`
    (bilinear, zero outside the map, FFLD Eq. 5-7), centres in continuous pixel coordinates of that map (convert
    from normalised input coordinates with :func:`~mmfacealign.models.utils.normalised_to_map`). When
    ``smoothing`` is on, each patch channel is convolved with ``G`` (``kernel_size`` x ``kernel_size``, ``sigma``,
    sum 1; depthwise, zero padding at the patch border, so the patch keeps its size and border pixels are
    smoothed with zeros beyond the patch). Then, per landmark, the squared difference is summed over patch
    pixels and channels (Eq. 2).

    Gradients. The ground-truth patch never gets a gradient w.r.t. its centres (the ground truth is data).
    ``detach_feature=True`` (default) cuts the gradient to the feature map for both patches: the loss then trains
    the crop LOCATION only, i.e. it pulls the prediction onto the position whose patch looks like the
    ground-truth one. With ``False`` the gradient also reaches the map, which lets the network lower the loss by
    changing the features themselves; the trivial solution is a flat (constant) map, for which every patch is
    equal and the loss is zero whatever the prediction, so the map is then held in shape only by the other
    losses that flow through it (the CropNets' L2/L1 and the baseline loss). The paper does not say which it
    does.

    Which map. The paper says the loss is used in the last stage, "the one with the most detailed feature maps",
    and Fig. 5 shows channel-selected stage-3 patches, but it does not state whether the patches are cut from the
    raw 1st-level maps or after channel selection: the caller (the head) decides by what it passes as
    ``feature``. ``groups=K`` with a (B, K * c, H, W) map compares landmark ``k``'s patches on its own channel
    group only, as a per-landmark channel selection produces.

    Reductions: per landmark ``l_bk`` = sum over (C, h, w); with ``use_target_weight`` it is multiplied by the
    landmark's weight (weight 0 drops it). 'mean' (default): mean of ``l_bk`` over all B * K landmarks (dropped
    ones count as 0, as in MMPose's regression losses); 'sum': their sum; 'none': the (B, K) tensor.

    Args:
        patch_size (int | tuple): Patch size ``h = w``, or ``(h, w)``. Default 8 (the FFLD crop size).
        kernel_size (int): Size of ``G``, odd. Default 3 (FFLD Sec. 6.6).
        sigma (float): Standard deviation of ``G`` in patch pixels. Default 1 (FFLD Sec. 6.6).
        smoothing (bool): Apply ``G``. Default True; see :meth:`disable_smoothing`.
        detach_feature (bool): Cut the gradient to the feature map (see above). Default True.
        reduction (str): 'mean' | 'sum' | 'none'. Default 'mean'.
        use_target_weight (bool): Weight each landmark's term by ``target_weight``. Default False.
        loss_weight (float): Multiplier. Default 1.

    Shapes: ``forward(feature (B, C, H, W), pred_centres (B, K, 2), gt_centres (B, K, 2),
    target_weight (B, K) | (B, K, 1) | None, groups=None | K) -> scalar`` (or (B, K) with 'none').
    """

    def __init__(self, patch_size: Union[int, Tuple[int, int]] = 8, kernel_size: int = 3, sigma: float = 1.0,
                 smoothing: bool = True, detach_feature: bool = True, reduction: str = 'mean',
                 use_target_weight: bool = False, loss_weight: float = 1.0):
        super().__init__()
        if reduction not in REDUCTIONS:
            raise ValueError(f'AlignLoss: reduction must be one of {REDUCTIONS}, got {reduction!r}')
        self.patch_size = patch_size
        self.kernel_size = kernel_size
        self.sigma = sigma
        self.smoothing = smoothing
        self.detach_feature = detach_feature
        self.reduction = reduction
        self.use_target_weight = use_target_weight
        self.loss_weight = loss_weight
        self.register_buffer('kernel', gaussian_kernel2d(kernel_size, sigma)[None, None], persistent=False)

    def disable_smoothing(self) -> None:
        """Remove ``G`` from now on (FFLD Sec. 6.6: "this operation is removed once the loss stops going down")."""
        self.smoothing = False

    def enable_smoothing(self) -> None:
        """Put ``G`` back (e.g. to restart a schedule)."""
        self.smoothing = True

    def smooth(self, patches: Tensor) -> Tensor:
        """Depthwise ``G *`` each channel of (B, K, C, h, w) patches, zero padding, same shape out."""
        shape = patches.shape
        flat = patches.reshape(-1, 1, shape[-2], shape[-1])
        out = F.conv2d(flat, self.kernel.to(patches.dtype), padding=self.kernel_size // 2)
        return out.reshape(shape)

    def crop_pair(self, feature: Tensor, pred_centres: Tensor, gt_centres: Tensor, groups: Optional[int] = None,
                  name: str = 'AlignLoss') -> Tuple[Tensor, Tensor]:
        """The two patch sets of Eq. 2, (B, K, C, h, w) each: at the predicted and at the ground-truth centres
        (map pixels), with this loss's gradient rules (see the class docstring)."""
        if pred_centres.shape != gt_centres.shape:
            raise ValueError(f'{name}: pred_centres {tuple(pred_centres.shape)} and gt_centres '
                             f'{tuple(gt_centres.shape)} differ in shape')
        pred_patches = crop_patches(feature, pred_centres, self.patch_size, detach_feature=self.detach_feature,
                                    name=f'{name} (predicted centres)', groups=groups)
        gt_patches = crop_patches(feature, gt_centres, self.patch_size, detach_feature=self.detach_feature,
                                  detach_centres=True, name=f'{name} (ground-truth centres)', groups=groups)
        return pred_patches, gt_patches

    def patch_loss(self, pred_patches: Tensor, gt_patches: Tensor,
                   target_weight: Optional[Tensor] = None) -> Tensor:
        """Eq. 2 on given patches (B, K, C, h, w): smoothing (if on), squared difference summed per landmark,
        weights and reduction. Lets a caller transform the patches in between (e.g. a channel selection)."""
        if self.smoothing:
            pred_patches = self.smooth(pred_patches)
            gt_patches = self.smooth(gt_patches)
        loss = (pred_patches - gt_patches).pow(2).flatten(2).sum(-1)                  # (B, K), Eq. 2
        if self.use_target_weight:
            if target_weight is None:
                raise ValueError('AlignLoss: use_target_weight=True needs target_weight')
            loss = loss * target_weight.reshape(loss.shape).to(loss.dtype)
        if self.reduction == 'mean':
            loss = loss.sum() / max(loss.numel(), 1)                                  # 0 if no landmarks
        elif self.reduction == 'sum':
            loss = loss.sum()
        return loss * self.loss_weight

    def forward(self, feature: Tensor, pred_centres: Tensor, gt_centres: Tensor,
                target_weight: Optional[Tensor] = None, groups: Optional[int] = None) -> Tensor:
        pred_patches, gt_patches = self.crop_pair(feature, pred_centres, gt_centres, groups=groups)
        return self.patch_loss(pred_patches, gt_patches, target_weight)
