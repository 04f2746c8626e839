# Copyright (c) mmfacealign contributors. All rights reserved.
"""Named landmark groups of the face-landmark layouts used in mmfacealign.

One place for "which indices are the left eye" so that datasets (SynthFace rendering), metrics (normalisers) and
heads (graphs, group-wise modules) agree. Indices are 0-based; "left"/"right" are the *subject's* sides, as in
the iBUG annotation guide (the subject's right eye, points 36-41, appears on the image's left).

Layouts:
    * ``ibug68`` (300W, 300VW, SynthFace, COCO-WholeBody-face): jaw 0-16, right brow 17-21, left brow 22-26,
      nose bridge 27-30, nose base 31-35, right eye 36-41, left eye 42-47, outer lips 48-59, inner lips 60-67.

SynthFace's renderer and occluders use these groups; the group tables of other layouts (98-point WFLW, 29-point
COFW) come with the first component that needs them.
"""
from typing import Dict, List

IBUG68_GROUPS: Dict[str, List[int]] = {
    'jaw': list(range(0, 17)),
    'right_brow': list(range(17, 22)),
    'left_brow': list(range(22, 27)),
    'nose_bridge': list(range(27, 31)),
    'nose_base': list(range(31, 36)),
    'right_eye': list(range(36, 42)),
    'left_eye': list(range(42, 48)),
    'outer_lips': list(range(48, 60)),
    'inner_lips': list(range(60, 68)),
}
