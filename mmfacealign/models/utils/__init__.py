# Copyright (c) mmfacealign contributors. All rights reserved.
from .coordinates import normalised_to_pixels, pixels_to_normalised
from .landmark_graph import BUILTIN_GRAPHS, LandmarkGraph, build_graph
from .landmark_groups import (IBUG68_FLIP, IBUG68_GROUPS, LANDMARK_GROUPS, WFLW98_GROUPS,
                              get_landmark_groups)

__all__ = [
    'IBUG68_FLIP', 'IBUG68_GROUPS', 'WFLW98_GROUPS', 'LANDMARK_GROUPS', 'get_landmark_groups', 'LandmarkGraph',
    'BUILTIN_GRAPHS', 'build_graph', 'normalised_to_pixels', 'pixels_to_normalised'
]
