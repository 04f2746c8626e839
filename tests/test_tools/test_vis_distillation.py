# Copyright (c) mmfacealign contributors. All rights reserved.
"""tools/analysis_tools/vis_distillation.py: the occluder polygon -> crop mapping (by hand and against the test
pipeline's own warp), the region statistics, and a run on a tiny SynthFace with an untrained ODN."""
import json
import os.path as osp

import mmcv
import numpy as np
import pytest
import torch
from e2e_utils import load_tool, run
from mmengine.config import Config
from mmpose.models import build_pose_estimator
from mmpose.utils import register_all_modules

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join('tools', 'analysis_tools', 'vis_distillation.py')
CONFIG = osp.join('configs', 'odn', 'td-odn_res18-w32_1xb64-15e_synthface-128x128.py')
vd = load_tool(TOOL)

SQUARE = [[40, 20], [80, 20], [80, 60], [40, 60]]


@pytest.fixture(scope='module')
def untrained_checkpoint(tmp_path_factory):
    """The SynthFace ODN config's model as built (seeded), saved as a checkpoint."""
    register_all_modules()
    torch.manual_seed(0)
    model = build_pose_estimator(Config.fromfile(osp.join(REPO, CONFIG)).model)
    path = str(tmp_path_factory.mktemp('odn') / 'untrained.pth')
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, path)
    return path


def test_polygon_mask_by_hand():
    # a 100 x 100 crop of a 200-pixel box centred at (60, 40): x' = (x - 60) / 2 + 50, y' = (y - 40) / 2 + 50
    mat = vd.warp_matrix((60, 40), (200, 200), (100, 100))
    np.testing.assert_allclose(vd.warp_points([[60, 40], [40, 20], [80, 60]], mat),
                               [[50, 50], [40, 40], [60, 60]], atol=1e-4)
    expected = np.zeros((100, 100), bool)
    expected[40:61, 40:61] = True          # rows (y') and columns (x') 40..60, the boundary included
    np.testing.assert_array_equal(vd.polygons_mask([SQUARE], mat, (100, 100)), expected)
    # a triangle, its vertices in (x, y) order: half of the square, below the diagonal from (40, 40) to (60, 60)
    tri = vd.polygons_mask([[[40, 20], [80, 60], [40, 60]]], mat, (100, 100))
    assert tri[59, 41] and not tri[41, 59] and tri.sum() == 21 * 22 // 2
    # a non-square crop (w 64, h 128) of a 128 x 256 box centred at (100, 100): x' = (x - 100) / 2 + 32,
    # y' = (y - 100) / 2 + 64, so the rectangle (80, 60)-(120, 100) fills columns 22..42 and rows 44..64
    mat = vd.warp_matrix((100, 100), (128, 256), (64, 128))
    mask = vd.polygons_mask([[[80, 60], [120, 60], [120, 100], [80, 100]]], mat, (64, 128))
    assert mask.shape == (128, 64)
    expected = np.zeros((128, 64), bool)
    expected[44:65, 22:43] = True
    np.testing.assert_array_equal(mask, expected)
    # outside the crop, or degenerate: empty
    assert not vd.polygons_mask([[[500, 500], [600, 500], [600, 600]], [[1, 1], [2, 2]]], mat, (64, 128)).any()


def test_face_statistics_and_aggregate():
    mat = vd.warp_matrix((60, 40), (200, 200), (100, 100))
    box = (30, 10, 90, 70)             # -> crop 35..65: a 31 x 31 face box around the 21 x 21 occluder
    weight = np.full((100, 100), 0.5)
    weight[35:66, 35:66] = 0.8
    weight[40:61, 40:61] = 0.2
    ann = dict(occluders=[dict(kind='rectangle', polygons=[SQUARE])])
    stats = vd.face_statistics(weight, ann, mat, (100, 100), box)
    assert stats['skipped'] is None
    assert stats['inside'] == pytest.approx(0.2) and stats['face'] == pytest.approx(0.8)
    assert stats['background'] == pytest.approx(0.5)
    assert stats['occluded_fraction_of_box'] == pytest.approx(21 ** 2 / 31 ** 2)
    # the annotation's own COCO box (xywh) wins over the dataset's
    assert vd.face_box(dict(bbox=[30, 10, 60, 60]), (0, 0, 1, 1)) == (30, 10, 90, 70)
    assert vd.face_box(dict(), np.array([1., 2., 3., 4.])) == (1, 2, 3, 4)

    reasons = [vd.face_statistics(weight, a, mat, (100, 100), b)['skipped'] for a, b in [
        (None, box), (dict(id=3), box), (dict(occluders=[]), box),
        (dict(occluders=[dict(kind='x', polygons=[[[900, 900], [990, 900], [990, 990]]])]), box),
        (ann, (45, 25, 75, 55))]]           # the occluder covers the whole (smaller) face box
    assert reasons == ['no_occluders_field', 'no_occluders_field', 'no_occluders', 'occluders_outside_crop',
                       'occluders_cover_face_box']

    faces = [dict(skipped=None, inside=0.2, face=0.8, background=0.5),
             dict(skipped=None, inside=0.6, face=0.4, background=None), dict(skipped='no_occluders')]
    agg = vd.aggregate(faces)
    assert agg['num_faces'] == 3 and agg['num_used'] == 2 and agg['skipped']['no_occluders'] == 1
    assert agg['num_faces'] == agg['num_used'] + sum(agg['skipped'].values())
    assert agg['mean_p_inside_occluders'] == pytest.approx(0.4)
    assert agg['mean_p_face_box_outside_occluders'] == pytest.approx(0.6)
    assert agg['mean_p_background'] == pytest.approx(0.5) and agg['num_background'] == 1
    assert agg['frac_inside_below_face'] == pytest.approx(0.5)


def test_warp_matches_the_test_pipeline(synthface_root):
    """The tool's warp from the packed metainfo maps the raw keypoints where TopdownAffine put them."""
    register_all_modules()
    cfg = Config.fromfile(osp.join(REPO, CONFIG))
    cfg.test_dataloader.dataset.datasets[0].pipeline[-1]['pack_transformed'] = True
    dataset, use_udp = vd.build_dataset(cfg, 'annotations/synthface_test_occluded.json', synthface_root + '/')
    assert not use_udp
    for i in range(3):
        sample = dataset[i]['data_samples']
        meta = sample.metainfo
        mat = vd.warp_matrix(meta['input_center'], meta['input_scale'], meta['input_size'])
        np.testing.assert_allclose(vd.warp_points(dataset.get_data_info(i)['keypoints'][0], mat),
                                   sample.gt_instances.transformed_keypoints[0], atol=1e-3)


def test_tool_on_tiny_synthface(synthface_root, untrained_checkpoint, tmp_path):
    with open(osp.join(synthface_root, 'annotations', 'synthface_test_occluded.json')) as f:
        coco = json.load(f)
    anns = coco['annotations']
    del anns[0]['occluders'], anns[1]['occluders']
    anns[2]['occluders'] = []
    ann_file = tmp_path / 'ann.json'
    ann_file.write_text(json.dumps(coco))
    png = tmp_path / 'out' / 'dm.png'
    r = run([TOOL, CONFIG, untrained_checkpoint, '--out', str(png), '--num', '3', '--num-stats', '10',
             '--ann-file', str(ann_file), '--data-root', synthface_root + '/', '--tile', '64', '--batch-size', '5'],
            cwd=REPO)
    img = mmcv.imread(str(png))
    assert img.shape[:2] == (3 * 64 + 24, 3 * 64)          # 3 rows under a 24-pixel title line, 3 columns
    with open(tmp_path / 'out' / 'dm.json') as f:
        out = json.load(f)
    for key in ('num_faces', 'num_used', 'skipped', 'mean_p_inside_occluders', 'mean_p_face_box_outside_occluders',
                'mean_p_background', 'frac_inside_below_face', 'map_size', 'input_size', 'per_face', 'png'):
        assert key in out, key
    assert out['png']['rows'] == 3 and out['png']['cols'] == 3
    assert out['map_size'] == [4, 4] and out['input_size'] == [128, 128]
    assert out['num_faces'] == len(out['per_face']) == 10
    assert out['num_used'] + sum(out['skipped'].values()) == 10
    reasons = {f['id']: f['skipped'] for f in out['per_face']}
    expected = {anns[0]['id']: 'no_occluders_field', anns[1]['id']: 'no_occluders_field',
                anns[2]['id']: 'no_occluders'}
    assert {i: reasons[i] for i in expected} == expected       # the file's first faces are the dataset's first
    assert out['skipped']['no_occluders_field'] == 2 and out['skipped']['no_occluders'] == 1
    assert out['num_used'] > 0
    for key in ('mean_p_inside_occluders', 'mean_p_face_box_outside_occluders', 'mean_p_background'):
        assert 0 < out[key] < 1
    assert 'inside the occluders' in r.stdout and 'face box, outside the occluders' in r.stdout


def test_model_without_distillation_module(untrained_checkpoint, tmp_path):
    with pytest.raises(SystemExit, match='td-odn_res18-w32_1xb64-15e_synthface-128x128.py has no distillation'):
        vd.main([osp.join(REPO, CONFIG), untrained_checkpoint, '--out', str(tmp_path / 'x.png'),
                 '--cfg-options', 'model.neck.use_dm=False'])
    assert not osp.exists(tmp_path / 'x.png')
