"""The landmark-layout facts (groups, eye corners, eye centres) agree with each layout's MMPose flip pairs."""
import os.path as osp

import mmpose
import pytest
from mmpose.datasets.datasets.utils import parse_pose_metainfo

from mmfacealign.datasets.face_datasets import SynthFaceDataset
from mmfacealign.models.utils.landmark_groups import (
    EYE_CENTRES,
    LAYOUT_GROUPS,
    LAYOUT_METAINFO,
    OUTER_EYE_CORNERS,
    outer_eye_corners,
)


def _flip_indices(num_keypoints):
    path = osp.join(osp.dirname(mmpose.__file__), '.mim', 'configs', '_base_', 'datasets',
                    LAYOUT_METAINFO[num_keypoints])
    meta = parse_pose_metainfo(dict(from_file=path))
    assert meta['num_keypoints'] == num_keypoints
    return meta['flip_indices']


@pytest.mark.parametrize('num_keypoints', sorted(OUTER_EYE_CORNERS))
def test_outer_eye_corners_are_mirror_partners(num_keypoints):
    right, left = outer_eye_corners(num_keypoints)
    flip = _flip_indices(num_keypoints)
    assert flip[right] == left and flip[left] == right and right != left


@pytest.mark.parametrize('num_keypoints', sorted(LAYOUT_GROUPS))
def test_groups_partition_the_layout_and_mirror_by_its_flip_pairs(num_keypoints):
    groups, flip = LAYOUT_GROUPS[num_keypoints], _flip_indices(num_keypoints)
    members = sorted(i for g in groups.values() for i in g)
    assert members == list(range(num_keypoints))
    for name, indices in groups.items():
        partner = name.replace('right_', 'left_') if name.startswith('right_') else (
            name.replace('left_', 'right_') if name.startswith('left_') else name)
        assert sorted(flip[i] for i in indices) == sorted(groups[partner]), name
    if num_keypoints in EYE_CENTRES:
        right, left = EYE_CENTRES[num_keypoints]
        assert sorted(flip[i] for i in right) == sorted(left)


def test_synthface_metainfo_is_300w_layout_with_its_own_name_and_colours():
    meta = parse_pose_metainfo(SynthFaceDataset.METAINFO)
    assert meta['dataset_name'] == 'synthface' and meta['flip_indices'] == _flip_indices(68)
    colours = meta['keypoint_colors'].tolist()
    assert colours[0] == [255, 128, 0] and colours[16] == [255, 128, 0] and colours[17] == [255, 0, 255]
    assert colours[47] == [0, 128, 255] and colours[48] == [255, 0, 0] and colours[67] == [255, 64, 64]
