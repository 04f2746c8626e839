# Copyright (c) mmfacealign contributors. All rights reserved.
"""Named landmark groups of the face-landmark layouts used in mmfacealign.

One place for "which indices are the left eye" so that datasets (SynthFace rendering), metrics (normalisers) and
heads (graphs, group-wise modules) agree. Indices are 0-based; "left"/"right" are the *subject's* sides, as in
the iBUG annotation guide (the subject's right eye, points 36-41, appears on the image's left).

Layouts:
    * ``ibug68`` (300W, 300VW, SynthFace, COCO-WholeBody-face): jaw 0-16, right brow 17-21, left brow 22-26,
      nose bridge 27-30, nose base 31-35, right eye 36-41, left eye 42-47, outer lips 48-59, inner lips 60-67.
    * ``wflw98``: contour 0-32, brows 33-41 / 42-50, nose 51-59, eyes 60-67 / 68-75, lips 76-95, pupils 96, 97.
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

# Mirror partner of every iBUG-68 point (index i <-> IBUG68_FLIP[i]); self-paired points sit on the midline.
IBUG68_FLIP: List[int] = (
    list(range(16, -1, -1))                       # jaw 0..16 -> 16..0
    + list(range(26, 21, -1)) + list(range(21, 16, -1))  # brows 17..21 <-> 26..22
    + [27, 28, 29, 30]                            # bridge
    + [35, 34, 33, 32, 31]                        # nose base
    + [45, 44, 43, 42, 47, 46]                    # right eye 36..41 -> left eye
    + [39, 38, 37, 36, 41, 40]                    # left eye 42..47 -> right eye
    + [54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55]  # outer lips
    + [64, 63, 62, 61, 60, 67, 66, 65])           # inner lips

WFLW98_GROUPS: Dict[str, List[int]] = {
    'jaw': list(range(0, 33)),
    'right_brow': list(range(33, 42)),
    'left_brow': list(range(42, 51)),
    'nose_bridge': list(range(51, 55)),
    'nose_base': list(range(55, 60)),
    'right_eye': list(range(60, 68)),
    'left_eye': list(range(68, 76)),
    'outer_lips': list(range(76, 88)),
    'inner_lips': list(range(88, 96)),
    'right_pupil': [96],
    'left_pupil': [97],
}

LANDMARK_GROUPS: Dict[str, Dict[str, List[int]]] = {
    'ibug68': IBUG68_GROUPS,
    'wflw98': WFLW98_GROUPS,
}


def get_landmark_groups(layout: str) -> Dict[str, List[int]]:
    """Return the named groups of a layout (``'ibug68'`` or ``'wflw98'``)."""
    if layout not in LANDMARK_GROUPS:
        raise KeyError(f'unknown landmark layout {layout!r}; known: {sorted(LANDMARK_GROUPS)}')
    return LANDMARK_GROUPS[layout]
