# Copyright (c) mmfacealign contributors. All rights reserved.
"""Occlusion flags follow the landmarks through RandomFlip (issue 7)."""
import copy

import numpy as np
import pytest
from mmpose.datasets.transforms import RandomFlip as MMPoseRandomFlip
from mmpose.registry import TRANSFORMS
from mmpose.utils import register_all_modules

from mmfacealign.datasets import SynthFaceDataset
from mmfacealign.datasets.transforms import RandomFlip, reorder_keypoint_aligned


def _occluded_dataset(root, pipeline):
    register_all_modules()                               # default scope 'mmpose' for the pipeline's transforms
    return SynthFaceDataset(data_root=root, ann_file='annotations/synthface_test_occluded.json',
                            data_prefix=dict(img='images/'), test_mode=True, pipeline=pipeline)


def test_registry_entry_is_the_flag_aware_flip():
    assert TRANSFORMS.get('RandomFlip') is RandomFlip
    assert issubclass(RandomFlip, MMPoseRandomFlip)


@pytest.mark.parametrize('direction', ['horizontal', 'vertical', 'diagonal'])
def test_flags_follow_the_flipped_landmarks(synthface_root, direction):
    load = [dict(type='LoadImage'), dict(type='GetBBoxCenterScale')]
    ds = _occluded_dataset(synthface_root, load)
    # a face whose flags are not mirror-symmetric, so a missing swap would show
    for idx in range(len(ds)):
        before = ds[idx]
        flip = np.asarray(before['flip_indices'])
        occ = np.asarray(before['keypoints_occluded'])
        if (occ != occ[:, flip]).any():
            break
    else:
        pytest.fail('no face with asymmetric occlusion flags in the fixture')
    after = TRANSFORMS.build(dict(type='RandomFlip', prob=1., direction=direction))(copy.deepcopy(before))
    reference = MMPoseRandomFlip(prob=1., direction=direction)(copy.deepcopy(before))
    # identical to MMPose's flip on everything MMPose flips
    np.testing.assert_array_equal(after['keypoints'], reference['keypoints'])
    np.testing.assert_array_equal(after['keypoints_visible'], reference['keypoints_visible'])
    np.testing.assert_array_equal(after['img'], reference['img'])
    if direction == 'diagonal':        # MMPose swaps no pairs diagonally, neither do the flags
        np.testing.assert_array_equal(after['keypoints_occluded'], occ)
    else:
        np.testing.assert_array_equal(after['keypoints_occluded'], occ[:, flip])
        # and the flag stays with the landmark it describes: the flipped landmark k is the original flip[k]
        np.testing.assert_array_equal(after['keypoints'][0, :, 0] if direction == 'vertical' else
                                      after['keypoints'][0, :, 1], before['keypoints'][0, flip, 0]
                                      if direction == 'vertical' else before['keypoints'][0, flip, 1])


def test_no_flip_and_no_flags_are_untouched(synthface_root):
    ds = _occluded_dataset(synthface_root, [dict(type='LoadImage')])
    res = ds[0]
    out = RandomFlip(prob=0.)(copy.deepcopy(res))
    np.testing.assert_array_equal(out['keypoints_occluded'], res['keypoints_occluded'])
    res.pop('keypoints_occluded')
    assert 'keypoints_occluded' not in RandomFlip(prob=1.)(res)


def test_reorder_keypoint_aligned_checks_shapes():
    res = dict(keypoints_occluded=np.array([[0., 1., 1.]]))
    reorder_keypoint_aligned(res, [2, 0, 1])
    np.testing.assert_array_equal(res['keypoints_occluded'], [[1., 0., 1.]])
    with pytest.raises(ValueError, match=r"results\['keypoints_occluded'\] has shape \(1, 3\), expected \(N, 4"):
        reorder_keypoint_aligned(res, [0, 1, 2, 3], transform='RandomFlip')
