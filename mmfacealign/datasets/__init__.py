# Copyright (c) mmfacealign contributors. All rights reserved.
from .benchmark_datasets import *  # noqa: F401,F403
from .face_datasets import FaceLandmarkDatasetMixin, SynthFaceDataset
from .pose_balanced_dataset import PoseBalancedDataset, normalise_shapes, pose_balanced_repeats
from .samplers import SeededAugmentSampler, SeededIndex, augmentation_seed, seeded_augmentation
from .transforms import *  # noqa: F401,F403
