# Copyright (c) mmfacealign contributors. All rights reserved.
"""Per-sample augmentation seeds, so that a sample's augmentation does not depend on what was drawn before it.

With mmengine's ``DefaultSampler`` the random augmentation (``RandomFlip``, ``RandomBBoxTransform``, the occlusion
transforms: they draw from ``np.random`` and ``random``) comes from one global random stream per process: the main
process with ``num_workers=0``, each ``DataLoader`` worker otherwise (seeded once by mmengine's
``default_worker_init_fn``). A sample's augmentation therefore depends on which samples that process augmented
before it, and a run resumed mid-epoch (or one with another worker count) augments the same sample differently.

:class:`SeededAugmentSampler` is ``DefaultSampler`` (same shuffle, same ``set_epoch``, same distributed split)
whose indices carry a seed derived from ``(sampler seed, epoch, index)``: :class:`SeededIndex`, an ``int`` that
pickles with its seed into the workers. Datasets built on
:class:`~mmfacealign.datasets.FaceLandmarkDatasetMixin` (and :class:`~mmfacealign.datasets.PoseBalancedDataset`,
which passes the seed on to the index it maps to) run the pipeline of such an index under
:func:`seeded_augmentation`: ``np.random`` and ``random`` are seeded from the index's seed and restored afterwards,
so the same sample in the same epoch gets the same augmentation whichever process loads it, in whatever order, and
loading data leaves the process's global random state untouched. A plain ``int`` index (``DefaultSampler``,
validation, testing) is loaded as before.

Configure it as ``train_dataloader.sampler = dict(type='SeededAugmentSampler', shuffle=True)`` (the SynthFace data
config does); ``seed_augmentation=False`` makes it a plain ``DefaultSampler``.
"""
import random
from contextlib import contextmanager
from typing import Iterator, Optional

import numpy as np
from mmengine.dataset import DefaultSampler
from mmpose.registry import DATA_SAMPLERS


class SeededIndex(int):
    """A dataset index (an ``int``) carrying the seed of its sample's augmentation in ``aug_seed``."""

    def __new__(cls, index: int, aug_seed: int):
        obj = super().__new__(cls, index)
        obj.aug_seed = int(aug_seed)
        return obj

    def __reduce__(self):
        # pickled into DataLoader workers with its seed (the int part alone would lose it)
        return SeededIndex, (int(self), self.aug_seed)

    def __repr__(self) -> str:
        return f'SeededIndex({int(self)}, aug_seed={self.aug_seed})'


def augmentation_seed(seed: int, epoch: int, index: int) -> int:
    """The augmentation seed of dataset index ``index`` in epoch ``epoch`` of a run seeded with ``seed``: a 32-bit
    integer from numpy's ``SeedSequence`` over the three (well mixed, so neighbouring indices or epochs are not
    correlated)."""
    return int(np.random.SeedSequence([seed & 0xFFFFFFFF, epoch, index]).generate_state(1)[0])


@contextmanager
def seeded_augmentation(seed: Optional[int]):
    """Run the block with ``np.random`` and ``random`` seeded from ``seed`` and restore both afterwards (also on an
    exception). ``seed=None`` runs the block unchanged, on the global random state."""
    if seed is None:
        yield
        return
    np_state, py_state = np.random.get_state(), random.getstate()
    np.random.seed(seed & 0xFFFFFFFF)
    random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)


@DATA_SAMPLERS.register_module()
class SeededAugmentSampler(DefaultSampler):
    """mmengine's ``DefaultSampler`` whose indices carry per-sample augmentation seeds (see the module docstring).

    Args:
        dataset: The dataset.
        shuffle (bool): Shuffle every epoch (``DefaultSampler``'s order, from ``seed + epoch``). Default True.
        seed (int, optional): The shuffle and augmentation seed; the runner passes ``randomness.seed`` (a random
            one, shared by the ranks, when that is None). Default None.
        round_up (bool): ``DefaultSampler``'s padding of the last round across ranks. Default True.
        seed_augmentation (bool): Tag indices with augmentation seeds. False gives ``DefaultSampler`` exactly.
            Default True.
    """

    def __init__(self, dataset, shuffle: bool = True, seed: Optional[int] = None, round_up: bool = True,
                 seed_augmentation: bool = True) -> None:
        super().__init__(dataset, shuffle=shuffle, seed=seed, round_up=round_up)
        self.seed_augmentation = bool(seed_augmentation)

    def __iter__(self) -> Iterator[int]:
        indices = super().__iter__()
        if not self.seed_augmentation:
            return indices
        seed, epoch = self.seed, self.epoch
        return (SeededIndex(i, augmentation_seed(seed, epoch, i)) for i in indices)
