# Copyright (c) mmfacealign contributors. All rights reserved.
from .coordinates import normalised_to_pixels, pixels_to_normalised
from .landmark_graph import BUILTIN_GRAPHS, LandmarkGraph, build_graph
from .landmark_groups import IBUG68_GROUPS
from .patch_sampling import crop_patches, map_offsets_to_normalised, map_to_normalised, normalised_to_map

__all__ = [
    'IBUG68_GROUPS', 'LandmarkGraph', 'BUILTIN_GRAPHS', 'build_graph', 'normalised_to_pixels', 'pixels_to_normalised',
    'normalised_to_map', 'map_to_normalised', 'map_offsets_to_normalised', 'crop_patches'
]
