# Copyright (c) mmfacealign contributors. All rights reserved.
# SynthFace metainfo: 68 landmarks in iBUG order (jaw 0-16, brows 17-26, nose 27-35, eyes 36-47, mouth 48-67), so
# names, swap partners (flip pairs: 29 mirror pairs, 10 midline points), joint weights and sigmas are MMPose's
# 300w.py, inherited rather than copied. Only the name, the paper and the colours (one per facial part, the
# groups of mmfacealign/models/utils/landmark_groups.py) are SynthFace's own.
_base_ = ['mmpose::_base_/datasets/300w.py']

# (first index after the part, colour): jaw, brows, nose, eyes, outer lips, inner lips
_part_colours = ((17, [255, 128, 0]), (27, [255, 0, 255]), (36, [0, 255, 255]), (48, [0, 128, 255]),
                 (60, [255, 0, 0]), (68, [255, 64, 64]))
dataset_info = dict(
    dataset_name='synthface',
    paper_info=dict(
        author='mmfacealign contributors',
        title='SynthFace: a procedural occluded-face landmark dataset',
        container='mmfacealign',
        year='2026',
        homepage='',
    ),
    keypoint_info={i: dict(color=next(c for end, c in _part_colours if i < end)) for i in range(68)})
