# Copyright (c) mmfacealign contributors. All rights reserved.
import filecmp
import json
import os
import os.path as osp

import cv2
import numpy as np
import pytest

from mmfacealign.datasets import SynthFaceDataset
from mmfacealign.datasets.synthface import (
    SynthFaceConfig,
    generate_sample,
    load_pdm,
    occluder_mask,
    occlusion_flags,
    read_meta,
    sample_occluder,
    write_synthface,
)
from mmfacealign.datasets.synthface import generator as gen_mod
from mmfacealign.datasets.synthface.occluders import Occluder
from mmfacealign.datasets.synthface.shape_model import PointDistributionModel, read_shapes_csv, similarity_align

SPLITS = ('train', 'val', 'test', 'test_occluded', 'test_masked')


def _load(root, split):
    with open(osp.join(root, 'annotations', f'synthface_{split}.json')) as f:
        return json.load(f)


def _dataset(root, split):
    return SynthFaceDataset(data_root=root, ann_file=f'annotations/synthface_{split}.json',
                            data_prefix=dict(img='images/'), test_mode=True, pipeline=[])


# ------------------------------------------------------------------------------------------ shape model
def test_builtin_pdm_sample_is_a_face():
    pdm = PointDistributionModel.builtin()
    assert pdm.mean.shape == (68, 2) and pdm.modes.shape[1:] == (68, 2) and pdm.depth.shape == (68, )
    shape = pdm.sample(np.random.default_rng(0))
    # anatomy in the template frame (y down): brows above eyes above nose tip above mouth above chin
    assert shape[17:27, 1].mean() < shape[36:48, 1].mean() < shape[30, 1] < shape[48:68, 1].mean() < shape[8, 1]
    assert shape[36, 0] < shape[45, 0]   # subject's right eye on the image's left
    # mouth opening is one-sided: inner lower lip never above the inner upper lip
    for seed in range(50):
        s = pdm.sample(np.random.default_rng(seed))
        assert (s[[67, 66, 65], 1] >= s[[61, 62, 63], 1] - 1e-9).all()


def test_similarity_align_recovers_a_similarity_transform():
    src = PointDistributionModel.builtin().mean
    a = np.radians(25)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    dst = 3.5 * src @ rot.T + np.array([10.0, -4.0])
    np.testing.assert_allclose(similarity_align(src, dst), dst, atol=1e-9)


def test_pdm_from_shapes_captures_the_variation():
    """Shapes from a 2-mode model, randomly rotated, scaled and shifted: the fitted PDM keeps few modes and
    reconstructs the Procrustes-aligned shapes almost exactly."""
    rng = np.random.default_rng(0)
    base = PointDistributionModel.builtin()
    coeffs = rng.standard_normal((400, 2)) * [0.3, 0.1]
    shapes = base.mean + np.tensordot(coeffs, base.modes[[0, 1]], axes=1)
    for i, a in enumerate(rng.uniform(-0.5, 0.5, len(shapes))):
        rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
        shapes[i] = rng.uniform(50, 150) * shapes[i] @ rot.T + rng.uniform(0, 200, 2)
    pdm = PointDistributionModel.from_shapes(shapes, source='test', var_keep=0.999)
    assert 2 <= pdm.num_modes <= 4
    aligned = np.stack([similarity_align(s, pdm.mean) for s in shapes]) - pdm.mean
    flat = aligned.reshape(len(aligned), -1)
    basis = pdm.modes.reshape(pdm.num_modes, -1)
    residual = flat - (flat @ basis.T) @ basis
    assert (residual**2).sum() < 0.01 * (flat**2).sum()
    # the mean is expressed in the template frame (same scale and place as the built-in mean)
    assert np.abs(pdm.mean - base.mean).max() < 0.05


def test_read_shapes_csv_parses_and_drops_bad_rows():
    header = ',' + ','.join(str(i) for i in range(136))
    good = 'a.jpg,' + ','.join(str(float(i)) for i in range(136))
    short = 'b.jpg,1,2,3'
    nan = 'c.jpg,' + ','.join(['nan'] * 136)
    shapes = read_shapes_csv('\n'.join([header, good, short, nan]).encode(), 'x.csv')
    assert shapes.shape == (1, 68, 2)
    assert shapes[0, 1].tolist() == [2.0, 3.0]


def test_pdm_save_load_roundtrip(tmp_path):
    pdm = PointDistributionModel.builtin()
    path = str(tmp_path / 'pdm.npz')
    pdm.save(path)
    back = load_pdm(path)
    np.testing.assert_array_equal(back.modes, pdm.modes)
    assert back.one_sided == pdm.one_sided and back.source == 'builtin'
    with pytest.raises(FileNotFoundError, match='nope.npz'):
        load_pdm(str(tmp_path / 'nope.npz'))


# --------------------------------------------------------------------------------------------- samples
def test_generate_sample_is_deterministic():
    cfg = SynthFaceConfig(shape_model='builtin')
    pdm = PointDistributionModel.builtin()
    for split in SPLITS:
        img1, ann1 = generate_sample(cfg, pdm, split, 7)
        img2, ann2 = generate_sample(cfg, pdm, split, 7)
        np.testing.assert_array_equal(img1, img2)
        np.testing.assert_array_equal(ann1['keypoints'], ann2['keypoints'])
        np.testing.assert_array_equal(ann1['occluded'], ann2['occluded'])
    img3, _ = generate_sample(cfg, pdm, 'train', 8)
    assert not np.array_equal(img1, img3)
    other_seed, _ = generate_sample(SynthFaceConfig(seed=1), pdm, 'test_masked', 7)
    assert not np.array_equal(img1, other_seed)


@pytest.mark.parametrize('size', [64, 128, 256])
def test_resolution_is_configurable_and_faces_stay_inside(size):
    cfg = SynthFaceConfig(image_size=size, shape_model='builtin')
    pdm = PointDistributionModel.builtin()
    for i in range(20):
        img, ann = generate_sample(cfg, pdm, 'train', i)
        assert img.shape == (size, size, 3) and img.dtype == np.uint8
        assert (ann['keypoints'] >= 0).all() and (ann['keypoints'] <= size - 1).all()


def test_image_edges_follow_the_landmark_contours():
    """The rendered face has strong gradients at the landmarks: the mean gradient magnitude at the eye and lip
    contours is well above the face's average (edges coincide with landmark contours)."""
    cfg = SynthFaceConfig(image_size=128, shape_model='builtin')
    pdm = PointDistributionModel.builtin()
    ratios = []
    for i in range(10):
        img, ann = generate_sample(cfg, pdm, 'test', i)
        gray = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY).astype(np.float32)
        mag = np.hypot(cv2.Sobel(gray, cv2.CV_32F, 1, 0), cv2.Sobel(gray, cv2.CV_32F, 0, 1))
        pts = np.round(ann['keypoints']).astype(int)
        at_contours = mag[pts[36:68, 1], pts[36:68, 0]].mean()
        lo, hi = pts.min(0), pts.max(0)
        face_avg = mag[lo[1]:hi[1], lo[0]:hi[0]].mean()
        ratios.append(at_contours / face_avg)
    assert np.median(ratios) > 1.5


# ---------------------------------------------------------------------------------------- occlusion
def test_occlusion_flags_match_rectangle_geometry():
    pts = np.stack(np.meshgrid(np.arange(10, 60, 3.3), np.arange(10, 60, 3.7)), -1).reshape(-1, 2)
    rect = np.array([[20.0, 18.0], [45.0, 22.0], [41.0, 47.0], [16.0, 43.0]])
    flags = occlusion_flags(occluder_mask([Occluder('rectangle', [rect])], 64, 64), pts)
    contour = rect.astype(np.float32).reshape(-1, 1, 2)
    for p, f in zip(pts, flags):
        d = cv2.pointPolygonTest(contour, (float(p[0]), float(p[1])), True)
        if abs(d) > 1.0:   # away from the boundary the raster and the geometry agree exactly
            assert f == (d > 0), (p, d, f)
    assert 0 < flags.sum() < len(pts)


@pytest.mark.parametrize('kind', ['rectangle', 'texture', 'hand', 'mask', 'sunglasses'])
def test_occluder_kinds_flag_points_inside_their_polygons(kind):
    pdm = PointDistributionModel.builtin()
    cfg = SynthFaceConfig(shape_model='builtin')
    _, ann = generate_sample(cfg, pdm, 'test', 0)
    pts = ann['keypoints']
    rng = np.random.default_rng(1)
    for _ in range(10):
        occ = sample_occluder(kind, rng, pts)
        flags = occlusion_flags(occluder_mask([occ], 128, 128), pts)
        for p, f in zip(pts, flags):
            ds = [cv2.pointPolygonTest(poly.astype(np.float32).reshape(-1, 1, 2), (float(p[0]), float(p[1])), True)
                  for poly in occ.polygons]
            d = max(ds)
            # within 1.5 px of a boundary the flag may go either way: the landmark is rounded to its nearest
            # pixel (up to 0.71 px) and the polygon is rasterised (up to about half a pixel)
            if abs(d) > 1.5:
                assert f == (d > 0)


def test_mask_occluder_covers_mouth_and_nose_base():
    pdm = PointDistributionModel.builtin()
    cfg = SynthFaceConfig(shape_model='builtin')
    for i in range(10):
        _, ann = generate_sample(cfg, pdm, 'test_masked', i)
        occ = ann['occluded']
        assert occ[48:68].all(), i                 # whole mouth
        assert occ[31:36].all(), i                 # nose base
        assert not occ[36:48].any(), i             # eyes stay visible
        assert not occ[17:27].any(), i             # brows stay visible


# ---------------------------------------------------------------------------------------- writing
def test_written_json_matches_dataset_class(synthface_root):
    meta = read_meta(synthface_root)
    assert meta['splits'] == {'train': 192, 'val': 48, 'test': 48, 'test_occluded': 48, 'test_masked': 48}
    for split in SPLITS:
        coco = _load(synthface_root, split)
        ds = _dataset(synthface_root, split)
        assert len(ds) == len(coco['annotations'])
        assert ds.metainfo['dataset_name'] == 'synthface' and ds.metainfo['num_keypoints'] == 68
        for i in (0, len(ds) - 1):
            ann = coco['annotations'][i]
            info = ds.get_data_info(i)
            kpts = np.array(ann['keypoints']).reshape(-1, 3)
            np.testing.assert_allclose(info['keypoints'][0], kpts[:, :2], atol=1e-3)
            np.testing.assert_array_equal(info['keypoints_occluded'][0], ann['occluded'])
            np.testing.assert_array_equal(kpts[:, 2], np.where(ann['occluded'], 1, 2))
            assert info['subset'] == ann['subset']
            # the box from center/scale is the square around the landmark box
            x0, y0, x1, y1 = info['bbox'][0]
            assert x0 <= kpts[:, 0].min() + 1e-3 and kpts[:, 0].max() <= x1 + 1e-3
            assert y0 <= kpts[:, 1].min() + 1e-3 and kpts[:, 1].max() <= y1 + 1e-3
            assert osp.isfile(info['img_path'])
            assert cv2.imread(info['img_path']).shape == (128, 128, 3)
    flip = ds.metainfo['flip_indices']
    assert flip[36] == 45 and flip[8] == 8 and flip[48] == 54


def test_split_occlusion_levels(synthface_root):
    share = {s: np.array([np.mean(a['occluded']) for a in _load(synthface_root, s)['annotations']])
             for s in SPLITS}
    assert (share['test'] == 0).all()
    assert ((share['test_occluded'] >= 0.1) & (share['test_occluded'] <= 0.6)).mean() > 0.95
    assert (share['test_masked'] > 0.25).all()
    assert 0.1 < (share['train'] > 0).mean() < 0.6
    subsets = {s: {a['subset'] for a in _load(synthface_root, s)['annotations']} for s in SPLITS}
    assert subsets == {'train': {'mixed'}, 'val': {'mixed'}, 'test': {'clean'}, 'test_occluded': {'occluded'},
                       'test_masked': {'masked'}}


def test_write_is_deterministic_across_worker_counts(tmp_path):
    cfg = SynthFaceConfig(image_size=64, num_train=70, num_val=5, num_test=5, shape_model='builtin')
    a, b = str(tmp_path / 'a'), str(tmp_path / 'b')
    write_synthface(a, cfg, workers=1, log=lambda *x: None)
    write_synthface(b, cfg, workers=2, log=lambda *x: None)
    cmp = filecmp.dircmp(a, b)
    assert not cmp.diff_files and not cmp.left_only and not cmp.right_only
    for split in SPLITS:
        assert filecmp.cmp(osp.join(a, 'annotations', f'synthface_{split}.json'),
                           osp.join(b, 'annotations', f'synthface_{split}.json'), shallow=False)
        for name in os.listdir(osp.join(a, 'images', split)):
            assert filecmp.cmp(osp.join(a, 'images', split, name), osp.join(b, 'images', split, name),
                               shallow=False)


def test_existing_dataset_is_reused_or_refused(tmp_path):
    out = str(tmp_path / 'sf')
    cfg = SynthFaceConfig(image_size=64, num_train=4, num_val=2, num_test=2, shape_model='builtin')
    write_synthface(out, cfg, log=lambda *x: None)
    stamp = os.stat(osp.join(out, 'meta.json')).st_mtime_ns
    msgs = []
    write_synthface(out, cfg, log=msgs.append)
    assert 'reusing' in msgs[0] and os.stat(osp.join(out, 'meta.json')).st_mtime_ns == stamp
    with pytest.raises(FileExistsError, match='--force'):
        write_synthface(out, SynthFaceConfig(image_size=64, num_train=5, num_val=2, num_test=2, shape_model='builtin'))
    write_synthface(out, SynthFaceConfig(image_size=64, num_train=5, num_val=2, num_test=2, shape_model='builtin'),
                    force=True, log=lambda *x: None)
    assert read_meta(out)['splits']['train'] == 5


def test_interrupted_generation_leaves_nothing_behind(tmp_path, monkeypatch):
    out = str(tmp_path / 'sf')
    calls = []

    def failing_work(job):
        calls.append(job)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_work(job)

    real_work = gen_mod._work
    monkeypatch.setattr(gen_mod, '_work', failing_work)
    with pytest.raises(KeyboardInterrupt):
        write_synthface(out, SynthFaceConfig(image_size=64, num_train=130, num_val=2, num_test=2,
                                             shape_model='builtin'),
                        log=lambda *x: None)
    assert os.listdir(tmp_path) == []


# ----------------------------------------------------------------------------------------- bad input
def test_missing_data_root_names_path_and_command(tmp_path):
    with pytest.raises(FileNotFoundError, match=r'nowhere.*generate_synthface\.py'):
        SynthFaceDataset(data_root=str(tmp_path / 'nowhere'), ann_file='annotations/synthface_test.json',
                         data_prefix=dict(img='images/'), test_mode=True)
    with pytest.raises(FileNotFoundError, match=r'missing\.json.*generate_synthface\.py'):
        SynthFaceDataset(data_root=str(tmp_path), ann_file='missing.json', data_prefix=dict(img='images/'),
                         test_mode=True)


def test_keypoint_count_mismatch_names_file_and_annotation(synthface_root, tmp_path):
    coco = _load(synthface_root, 'test')
    coco['annotations'][3]['keypoints'] = coco['annotations'][3]['keypoints'][:-3]
    bad = tmp_path / 'bad.json'
    bad.write_text(json.dumps(coco))
    with pytest.raises(ValueError, match=r'bad\.json: annotation id 3 .*67 keypoints.*68'):
        SynthFaceDataset(data_root=synthface_root, ann_file=str(bad), data_prefix=dict(img='images/'),
                         test_mode=True)


def test_unreadable_image_names_the_file(synthface_root, tmp_path):
    from mmpose.datasets.transforms import LoadImage
    broken = tmp_path / 'broken.png'
    broken.write_bytes(b'not a png')
    with pytest.raises(Exception, match='broken.png'):
        LoadImage()(dict(img_path=str(broken)))
