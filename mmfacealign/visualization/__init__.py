# Copyright (c) mmfacealign contributors. All rights reserved.
from .face_visualizer import FaceAlignmentVisualizer, tile_images

__all__ = ['FaceAlignmentVisualizer', 'tile_images']
