# Copyright (c) mmfacealign contributors. All rights reserved.
from .face_datasets import FaceLandmarkDatasetMixin, SynthFaceDataset

__all__ = ['FaceLandmarkDatasetMixin', 'SynthFaceDataset']
