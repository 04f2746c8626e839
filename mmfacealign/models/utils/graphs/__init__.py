# Copyright (c) mmfacealign contributors. All rights reserved.
from .builtin_graphs import (COFW29_ANATOMICAL_EDGES, IBUG68_ANATOMICAL_EDGES, WFLW98_ANATOMICAL_EDGES,
                             WFLW98_TOP3_EDGES)

__all__ = ['WFLW98_TOP3_EDGES', 'IBUG68_ANATOMICAL_EDGES', 'COFW29_ANATOMICAL_EDGES', 'WFLW98_ANATOMICAL_EDGES']
