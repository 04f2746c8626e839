# Copyright (c) mmfacealign contributors. All rights reserved.
"""Named landmark groups of the face-landmark layouts used in mmfacealign.

One place for "which indices are the left eye" so that datasets (SynthFace rendering), metrics (normalisers) and
heads (graphs, group-wise modules) agree. Indices are 0-based; "left"/"right" are the *subject's* sides, as in
the iBUG annotation guide (the subject's right eye, points 36-41, appears on the image's left).

Layouts:
    * ``ibug68`` (300W, 300VW, SynthFace, COCO-WholeBody-face): jaw 0-16, right brow 17-21, left brow 22-26,
      nose bridge 27-30, nose base 31-35, right eye 36-41, left eye 42-47, outer lips 48-59, inner lips 60-67.

    * ``wflw98`` (WFLW): jaw 0-32, right brow 33-41, left brow 42-50, nose bridge 51-54, nose base 55-59, right eye
      60-67, left eye 68-75, outer lips 76-87, inner lips 88-95, right pupil 96, left pupil 97.
    * ``cofw29`` (COFW): brows 0-7, eyes 8-15 (corners and lids), pupils 16-17, nose 18-21, mouth 22-27, chin 28.
      COFW has no jaw line: its chin is the only contour point.

Flip pairs are not repeated here: they are the swap partners of each dataset's MMPose metainfo
(:data:`LAYOUT_METAINFO`; SynthFace's ``datasets/metainfo/synthface.py`` inherits MMPose's ``300w.py``), and
``tests/test_models/test_landmark_groups.py`` checks that those flips map every right group, eye corner and eye
centre of this file onto its left partner.

SynthFace's renderer and occluders use the 68-point groups. ``srn_hierarchy`` gives the two groupings of SRN's
hierarchical structural relation module (SRN Sec. 3.1; the official code's ``models.py``) for all three layouts.
"""
from typing import Dict, List, Tuple

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

COFW29_GROUPS: Dict[str, List[int]] = {
    'brows': list(range(0, 8)),
    'eyes': list(range(8, 16)),
    'pupils': [16, 17],
    'nose': list(range(18, 22)),
    'mouth': list(range(22, 28)),
    'chin': [28],
}

LAYOUT_GROUPS: Dict[int, Dict[str, List[int]]] = {68: IBUG68_GROUPS, 98: WFLW98_GROUPS, 29: COFW29_GROUPS}

#: The MMPose metainfo file (``mmpose::_base_/datasets/``) of each layout, keyed by the number of landmarks: the
#: names and flip pairs of the landmarks.
LAYOUT_METAINFO: Dict[int, str] = {68: '300w.py', 98: 'wflw.py', 29: 'cofw.py', 19: 'aflw.py', 106: 'lapa.py'}

#: The outer eye corners (the subject's right eye first) per layout, keyed by the number of landmarks: the
#: inter-ocular normaliser of the metrics (``evaluation/functional/normalizers.py``), of the losses
#: (``NormalizedL2Loss``, ``CascadeNMELoss``), of the real-photo check and of the video metrics. 68: iBUG (300W,
#: 300VW, SynthFace, COCO-WholeBody-face, COFW-68); 98: WFLW; 29: COFW; 19: AFLW (points 6-11 are the eyes in
#: MMPose's ``aflw.py`` metainfo, 6 and 11 the outer corners; AFLW's own metric is the box size); 106: LaPa.
OUTER_EYE_CORNERS: Dict[int, Tuple[int, int]] = {68: (36, 45), 98: (60, 72), 29: (8, 9), 19: (6, 11), 106: (66, 79)}

#: The eye centres of the inter-pupil normaliser: each the mean of a group of landmarks (the six points of each
#: eye for iBUG 68, as the 300W papers do; the annotated pupils of WFLW and COFW, as their official code does).
EYE_CENTRES: Dict[int, Tuple[Tuple[int, ...], Tuple[int, ...]]] = {
    68: (tuple(IBUG68_GROUPS['right_eye']), tuple(IBUG68_GROUPS['left_eye'])),
    98: (tuple(WFLW98_GROUPS['right_pupil']), tuple(WFLW98_GROUPS['left_pupil'])),
    29: ((16, ), (17, )),
}


def outer_eye_corners(num_keypoints: int, what: str = 'the inter-ocular normaliser') -> Tuple[int, int]:
    """:data:`OUTER_EYE_CORNERS` of the layout with ``num_keypoints`` landmarks; ``ValueError`` naming the known
    layouts otherwise."""
    if num_keypoints not in OUTER_EYE_CORNERS:
        raise ValueError(f'{what}: the outer eye corners are known for layouts of {sorted(OUTER_EYE_CORNERS)} '
                         f'landmarks, not {num_keypoints}; give the two landmark indices')
    return OUTER_EYE_CORNERS[num_keypoints]

# SRN's HSRM (Sec. 3.1): level-1 "regions" (the top / mid / down branches of the official models.py) and the
# level-3 "components", each a list of group names per layout. The 68-point jaw is split as the official code
# splits it (points 0-8 and 9-16: the chin goes with the first half); the 98-point jaw alike (0-16 and 17-32).
# COFW's only contour point, the chin, is the first cheek component and the second is empty.
_SRN_REGIONS = {
    68: dict(ocular=['right_brow', 'left_brow', 'right_eye', 'left_eye'],
             snout=['nose_bridge', 'nose_base', 'outer_lips', 'inner_lips'], cheek=['jaw']),
    98: dict(ocular=['right_brow', 'left_brow', 'right_eye', 'left_eye', 'right_pupil', 'left_pupil'],
             snout=['nose_bridge', 'nose_base', 'outer_lips', 'inner_lips'], cheek=['jaw']),
    29: dict(ocular=['brows', 'eyes', 'pupils'], snout=['nose', 'mouth'], cheek=['chin']),
}
_SRN_COMPONENTS = {
    68: dict(brow=['right_brow', 'left_brow'], eye=['right_eye', 'left_eye'], nose=['nose_bridge', 'nose_base'],
             mouth=['outer_lips', 'inner_lips'], cheek_a=('jaw', 0, 9), cheek_b=('jaw', 9, 17)),
    98: dict(brow=['right_brow', 'left_brow'], eye=['right_eye', 'left_eye', 'right_pupil', 'left_pupil'],
             nose=['nose_bridge', 'nose_base'], mouth=['outer_lips', 'inner_lips'], cheek_a=('jaw', 0, 17),
             cheek_b=('jaw', 17, 33)),
    29: dict(brow=['brows'], eye=['eyes', 'pupils'], nose=['nose'], mouth=['mouth'], cheek_a=['chin'], cheek_b=[]),
}


def _indices(groups: Dict[str, List[int]], spec) -> List[int]:
    if isinstance(spec, tuple):                      # (group, start, stop): a slice of one group
        name, start, stop = spec
        return sorted(groups[name][start:stop])
    return sorted(i for name in spec for i in groups[name])


def srn_hierarchy(num_keypoints: int) -> Tuple[Dict[str, List[int]], Dict[str, List[int]]]:
    """The landmark groups of SRN's hierarchical structural relation module for a layout.

    Returns:
        (regions, components): ``regions`` maps the level-1 branches ``ocular`` (brows + eyes), ``snout`` (nose +
        mouth) and ``cheek`` (jaw) to landmark indices; ``components`` maps the level-3 outputs ``brow``, ``eye``,
        ``nose``, ``mouth``, ``cheek_a`` and ``cheek_b`` (the two halves of the jaw; the official code's left and
        right cheek, in image order) to indices. Each grouping covers every landmark exactly once; a component may
        be empty (COFW's second cheek).
    """
    if num_keypoints not in _SRN_REGIONS:
        raise ValueError(f'srn_hierarchy: no SRN landmark groups for {num_keypoints} keypoints (known layouts: '
                         f'{sorted(_SRN_REGIONS)}); pass the groups explicitly')
    groups = LAYOUT_GROUPS[num_keypoints]
    regions = {k: _indices(groups, v) for k, v in _SRN_REGIONS[num_keypoints].items()}
    components = {k: _indices(groups, v) for k, v in _SRN_COMPONENTS[num_keypoints].items()}
    return regions, components
