# Copyright (c) mmfacealign contributors. All rights reserved.
"""Random grayscale: some of the photographs users align are black-and-white (or near it), and a model that has
only seen colour faces has never seen one. With probability ``prob`` the image becomes its luma (ITU-R BT.601
weights), kept as three equal channels so the rest of the pipeline is unchanged."""
import numpy as np
from mmcv.transforms import BaseTransform
from mmcv.transforms.utils import cache_randomness
from mmpose.registry import TRANSFORMS

LUMA_BGR = np.array([0.114, 0.587, 0.299], np.float32)


@TRANSFORMS.register_module()
class RandomGrayscale(BaseTransform):
    """Replace ``results['img']`` (``(H, W, 3)`` BGR, or RGB with ``channel_order='rgb'``) by its luma, repeated
    over three channels, with probability ``prob``.

    Args:
        prob: probability of turning the image gray.
        channel_order: ``'bgr'`` (what ``LoadImage`` gives) or ``'rgb'``.
    """

    def __init__(self, prob: float = 0.1, channel_order: str = 'bgr'):
        if not 0.0 <= prob <= 1.0:
            raise ValueError(f'RandomGrayscale: prob must be in [0, 1], got {prob}')
        if channel_order not in ('bgr', 'rgb'):
            raise ValueError(f"RandomGrayscale: channel_order must be 'bgr' or 'rgb', got {channel_order!r}")
        self.prob = prob
        self.channel_order = channel_order

    @cache_randomness
    def _do(self) -> bool:
        return bool(np.random.rand() < self.prob)

    def transform(self, results: dict) -> dict:
        img = results['img']
        if not self._do() or img.ndim != 3 or img.shape[2] != 3:
            return results
        weights = LUMA_BGR if self.channel_order == 'bgr' else LUMA_BGR[::-1]
        luma = np.clip(img.astype(np.float32) @ weights, 0, 255).astype(img.dtype)
        results['img'] = np.repeat(luma[..., None], 3, axis=2)
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(prob={self.prob}, channel_order={self.channel_order!r})'
