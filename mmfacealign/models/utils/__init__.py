# Copyright (c) mmfacealign contributors. All rights reserved.
from .landmark_groups import (IBUG68_FLIP, IBUG68_GROUPS, LANDMARK_GROUPS, WFLW98_GROUPS,
                              get_landmark_groups)

__all__ = ['IBUG68_FLIP', 'IBUG68_GROUPS', 'WFLW98_GROUPS', 'LANDMARK_GROUPS', 'get_landmark_groups']
