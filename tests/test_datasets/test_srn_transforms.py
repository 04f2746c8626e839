# Copyright (c) mmfacealign contributors. All rights reserved.
"""SRN's occlusion synthesis (noise patch on a landmark) and the Masked-300W face mask."""
import numpy as np
import pytest

from mmfacealign.datasets.synthface.mean_shape import template_shape
from mmfacealign.datasets.transforms import FaceMaskOcclusion, RandomNoisePatchOcclusion
from mmfacealign.models.utils.landmark_groups import IBUG68_GROUPS as G


def _face(size=224):
    pts = template_shape()                                     # about [-1, 1] x [-0.7, 1]
    pts = (pts - pts.mean(0)) * size * 0.3 + size / 2
    return pts


def test_noise_patch_changes_only_its_patch_centred_on_the_chosen_landmark():
    pts = _face()
    img = np.full((224, 224, 3), 128, np.uint8)
    results = dict(img=img, transformed_keypoints=pts[None].copy(), keypoints=pts[None].copy(),
                   keypoints_occluded=np.zeros((1, 68), np.float32))
    np.random.seed(3)
    out = RandomNoisePatchOcclusion()(results)
    k = out['occlusion_landmark']
    x1, y1, x2, y2 = out['occlusion_bbox']
    assert (x2 - x1, y2 - y1) == (48, 48) and 0 <= k <= 66
    centre = pts[k]
    assert 50 <= centre[0] <= 174 and 50 <= centre[1] <= 174       # not moved by the border rule
    assert abs((x1 + x2) / 2 - centre[0]) <= 0.5 and abs((y1 + y2) / 2 - centre[1]) <= 0.5
    changed = np.any(out['img'] != 128, axis=-1)
    outside = np.ones_like(changed)
    outside[y1:y2, x1:x2] = False
    assert not changed[outside].any() and changed[y1:y2, x1:x2].mean() > 0.9   # noise, not a solid fill
    inside = (pts[:, 0] >= x1) & (pts[:, 0] < x2) & (pts[:, 1] >= y1) & (pts[:, 1] < y2)
    np.testing.assert_array_equal(out['keypoints_occluded'][0] == 1, inside)
    assert inside[k]
    assert img.max() == 128                                                 # the input is not written to


def test_noise_patch_scales_with_the_crop_and_follows_the_border_rule():
    pts = np.array([[10., 100.], [60., 60.]])                               # 2 landmarks: index 0 only
    np.random.seed(0)
    out = RandomNoisePatchOcclusion()(dict(img=np.zeros((128, 128, 3), np.uint8),
                                           transformed_keypoints=pts[None]))
    assert out['occlusion_landmark'] == 0                                   # the last is never drawn (official)
    x1, y1, x2, y2 = out['occlusion_bbox']
    assert x2 - x1 == 27                                                    # 48 * 128 / 224
    # x = 10 < 50 * 128 / 224 = 28.6: moved 28.6 inwards; y = 100 > 128 - 28.6: moved up
    assert abs((x1 + x2) / 2 - (10 + 50 * 128 / 224)) <= 0.5
    assert abs((y1 + y2) / 2 - (100 - 50 * 128 / 224)) <= 0.5
    picks = set()
    for seed in range(30):
        np.random.seed(seed)
        picks.add(RandomNoisePatchOcclusion(include_last=True)(
            dict(img=np.zeros((128, 128, 3), np.uint8), transformed_keypoints=pts[None]))['occlusion_landmark'])
    assert picks == {0, 1}
    assert RandomNoisePatchOcclusion(prob=0.)(dict(img=np.zeros((8, 8, 3), np.uint8),
                                                   transformed_keypoints=pts[None]))['occlusion_bbox'] is None
    with pytest.raises(ValueError, match='prob'):
        RandomNoisePatchOcclusion(prob=2)


def test_face_mask_covers_nose_bottom_mouth_and_jaw_and_flags_them():
    pts = _face()
    results = dict(img=np.full((224, 224, 3), 128, np.uint8), keypoints=pts[None].copy(), img_id=7,
                   keypoints_occluded=np.zeros((1, 68), np.float32))
    out = FaceMaskOcclusion(seed=0)(dict(results))
    flags = out['keypoints_occluded'][0] == 1
    mouth = G['outer_lips'] + G['inner_lips']
    assert flags[mouth].all() and flags[G['nose_base']].mean() >= 0.6 and flags[4:13].all()
    assert not flags[G['right_eye'] + G['left_eye'] + G['right_brow'] + G['left_brow']].any()
    changed = np.any(out['img'] != 128, axis=-1)
    xy = np.round(pts).astype(int)
    np.testing.assert_array_equal(changed[xy[mouth, 1], xy[mouth, 0]], True)     # painted where flagged
    # seeded: the same image id gives the same mask, another id another one
    again = FaceMaskOcclusion(seed=0)(dict(results))
    np.testing.assert_array_equal(again['img'], out['img'])
    other = FaceMaskOcclusion(seed=0)(dict(results, img_id=8))
    assert not np.array_equal(other['img'], out['img'])
    with pytest.raises(ValueError, match='68-point'):
        FaceMaskOcclusion()(dict(img=np.zeros((8, 8, 3), np.uint8), keypoints=np.zeros((1, 29, 2))))


def test_flags_are_created_when_the_dataset_has_none():
    """300W jsons without occlusion labels: both transforms still record what they cover (NME_occluded)."""
    pts = _face()
    np.random.seed(3)
    out = RandomNoisePatchOcclusion()(dict(img=np.zeros((224, 224, 3), np.uint8), transformed_keypoints=pts[None]))
    assert out['keypoints_occluded'].shape == (1, 68) and out['keypoints_occluded'][0, out['occlusion_landmark']] == 1
    out = FaceMaskOcclusion(seed=0)(dict(img=np.zeros((224, 224, 3), np.uint8), keypoints=pts[None], img_id=1))
    assert out['keypoints_occluded'].shape == (1, 68) and out['keypoints_occluded'].sum() > 20
    with pytest.raises(KeyError, match='after TopdownAffine'):
        RandomNoisePatchOcclusion()(dict(img=np.zeros((8, 8, 3), np.uint8), keypoints=pts[None]))
