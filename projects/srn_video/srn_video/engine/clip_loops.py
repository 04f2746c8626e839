# Copyright (c) mmfacealign contributors. All rights reserved.
"""Validation and test loops that score every frame of a clip dataset.

mmengine's ``ValLoop`` and ``TestLoop`` call ``evaluator.evaluate(len(dataset))``, and each metric keeps that many
results (the rest is taken for the distributed sampler's padding and dropped). A
:class:`~srn_video.datasets.FaceVideoClipDataset` has one index per clip but yields ``clip_len``
scored frames per index, so the stock loops would keep only the first ``len(dataset)`` frames. These loops pass the
number of frames instead. Use them in every config whose val / test dataset is a clip dataset::

    val_cfg = dict(type='ClipValLoop')
    test_cfg = dict(type='ClipTestLoop')

Evaluate on non-overlapping clips (``stride = clip_len``): overlapping clips score their shared frames twice.
"""
from mmengine.runner import TestLoop, ValLoop
from mmpose.registry import LOOPS


def num_frames(dataset) -> int:
    """Frames a clip dataset yields (clips x frames per clip); ``len(dataset)`` for a frame dataset."""
    clip_len = getattr(dataset, 'clip_len', None)
    return len(dataset) * int(clip_len) if clip_len else len(dataset)


class _FrameCount:
    """Run a loop with ``evaluator.evaluate`` given the number of frames rather than of clips."""

    def run(self):
        evaluate = self.evaluator.evaluate
        frames = num_frames(self.dataloader.dataset)
        self.evaluator.evaluate = lambda size: evaluate(frames)
        try:
            return super().run()
        finally:
            del self.evaluator.evaluate


@LOOPS.register_module()
class ClipValLoop(_FrameCount, ValLoop):
    """``ValLoop`` that keeps every frame's result on clip datasets (module docstring)."""


@LOOPS.register_module()
class ClipTestLoop(_FrameCount, TestLoop):
    """``TestLoop`` that keeps every frame's result on clip datasets (module docstring)."""
