# Copyright (c) mmfacealign contributors. All rights reserved.
from .benchmark_datasets import *  # noqa: F401,F403
from .face_datasets import FaceLandmarkDatasetMixin, SynthFaceDataset
from .samplers import *  # noqa: F401,F403
from .transforms import *  # noqa: F401,F403
