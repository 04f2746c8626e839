# Copyright (c) mmfacealign contributors. All rights reserved.
"""FaceAlignmentMetric on small fixed predictions: hand-computed NME / FR / AUC, agreement with MMPose's NME,
subsets, occluded vs visible landmarks, bad input, and the files it writes."""
import json
import os.path as osp
import warnings

import numpy as np
import pytest
from face_eval_utils import face_68, random_samples, sample
from mmengine.logging import MMLogger
from mmpose.evaluation.metrics import NME
from mmpose.registry import METRICS

from mmfacealign.evaluation import FaceAlignmentMetric


def run(metric, samples, dataset_name='300w', **meta):
    metric.dataset_meta = dict(dataset_name=dataset_name, **meta)
    metric.process({}, samples)
    return metric.evaluate(len(samples))


def shifted(dxs, eye_dist=10.0, subsets=None):
    """Images whose every point is shifted by dx pixels: per-image NME = dx / eye_dist."""
    gt = face_68(eye_dist)
    subsets = subsets or [None] * len(dxs)
    return [sample(gt, gt + [dx, 0], idx=i, subset=s) for i, (dx, s) in enumerate(zip(dxs, subsets))]


# ------------------------------------------------------------------------------------------ by hand
def test_hand_computed_nme_fr_auc():
    # NMEs 0.02, 0.05, 0.08, 0.12 (inter-ocular distance 10 px)
    metrics = run(FaceAlignmentMetric(fr_thresholds=(0.1, 0.08)), shifted([0.2, 0.5, 0.8, 1.2]))
    assert metrics['NME'] == pytest.approx(0.0675)
    assert metrics['FR@0.1'] == pytest.approx(0.25)
    assert metrics['FR@0.08'] == pytest.approx(0.25)   # 0.08 itself is not above 0.08
    assert metrics['AUC@0.1'] == pytest.approx(0.375)   # (0.08 + 0.05 + 0.02) / 4 / 0.1
    assert metrics['AUC@0.08'] == pytest.approx(0.28125)
    assert not any('/' in k for k in metrics)           # no subset tags -> no subset keys
    assert 'NME_occluded' not in metrics and 'NME_visible' not in metrics


def test_nme_is_averaged_per_image_not_pooled():
    gt = face_68()
    pred_a = gt.copy()
    pred_a[:, 0] += 1.0                                   # 1 px on every point -> 0.1
    pred_b = gt.copy()
    pred_b[:, 0] += 3.0                                   # 3 px -> 0.3, but only 2 points labelled
    vis_b = np.zeros(68)
    vis_b[[36, 45]] = 1
    metrics = run(FaceAlignmentMetric(), [sample(gt, pred_a, 0), sample(gt, pred_b, 1, visible=vis_b)])
    assert metrics['NME'] == pytest.approx((0.1 + 0.3) / 2)


def test_auc_thresholds_and_box_normalisers():
    gt = face_68()
    samples = [sample(gt, gt + [3, 4], 0, bbox=[0, 0, 50, 200])]   # 5 px error; box 50 x 200
    for mode, d in [('bbox_size', 100.0), ('bbox_width', 50.0), ('bbox_diagonal', np.hypot(50, 200))]:
        m = run(FaceAlignmentMetric(norm_mode=mode, fr_thresholds=0.1, auc_thresholds=[0.2]), samples)
        assert m['NME'] == pytest.approx(5 / d)
        assert m['AUC@0.2'] == pytest.approx(1 - 5 / d / 0.2)
        assert 'AUC@0.1' not in m and 'FR@0.1' in m
    # AFLW-style box_size from the sample's meta
    m = run(FaceAlignmentMetric(), [sample(gt[:19], gt[:19] + [3, 4], 0, box_size=25.0)], dataset_name='aflw')
    assert m['NME'] == pytest.approx(0.2)


def test_registered_and_built_from_config():
    metric = METRICS.build(dict(type='FaceAlignmentMetric', fr_thresholds=[0.08, 0.1]))
    assert isinstance(metric, FaceAlignmentMetric) and metric.auc_thresholds == [0.08, 0.1]


# ------------------------------------------------------------------------------------------ MMPose's NME
@pytest.mark.parametrize('dataset_name, k, eyes', [('300w', 68, (36, 45)), ('wflw', 98, (60, 72)),
                                                   ('cofw', 29, (8, 9))])
def test_agrees_with_mmpose_nme(dataset_name, k, eyes):
    """Same predictions, same normaliser, the same number of labelled points per image -> MMPose's NME."""
    rng = np.random.default_rng(k)
    samples = []
    for i in range(12):
        gt = rng.uniform(0, 200, (k, 2))
        pred = gt + rng.normal(0, rng.uniform(1, 6), (k, 2))
        vis = np.ones(k)
        vis[rng.choice(np.setdiff1d(np.arange(k), eyes), 4, replace=False)] = 0
        samples.append(sample(gt, pred, i, visible=vis))
    ours = run(FaceAlignmentMetric(), samples, dataset_name)
    mmpose_nme = NME(norm_mode='keypoint_distance')
    mmpose_nme.dataset_meta = dict(dataset_name=dataset_name)
    mmpose_nme.process({}, samples)
    assert ours['NME'] == pytest.approx(mmpose_nme.evaluate(len(samples))['NME'], rel=1e-5)


# ------------------------------------------------------------------------------------------ subsets
def test_subset_bookkeeping_default_list_and_dict():
    # NMEs 0.02 (a), 0.05 (a, b), 0.08 (b), 0.12 (untagged)
    samples = shifted([0.2, 0.5, 0.8, 1.2], subsets=['a', ['a', 'b'], 'b', None])
    m = run(FaceAlignmentMetric(), samples)
    assert m['a/NME'] == pytest.approx(0.035) and m['b/NME'] == pytest.approx(0.065)
    assert m['full/NME'] == pytest.approx(m['NME']) == pytest.approx(0.0675)
    assert m['a/FR@0.1'] == 0 and m['full/FR@0.1'] == pytest.approx(0.25)
    assert m['b/AUC@0.1'] == pytest.approx((0.5 + 0.2) / 2)
    assert {k.split('/')[0] for k in m if '/' in k} == {'a', 'b', 'full'}

    m = run(FaceAlignmentMetric(subsets=['b', 'full']), shifted([0.2, 0.5, 0.8, 1.2], subsets=['a', ['a', 'b'],
                                                                                                    'b', None]))
    assert {k.split('/')[0] for k in m if '/' in k} == {'b', 'full'}
    assert m['full/NME'] == pytest.approx(0.0675)

    m = run(FaceAlignmentMetric(subsets=dict(both=['a', 'b'], everything='*', only_b='b')),
            shifted([0.2, 0.5, 0.8, 1.2], subsets=['a', ['a', 'b'], 'b', None]))
    assert m['both/NME'] == pytest.approx(0.05)         # (0.02 + 0.05 + 0.08) / 3
    assert m['everything/NME'] == pytest.approx(0.0675)
    assert m['only_b/NME'] == pytest.approx(0.065)


def test_subset_matching_no_sample_warns_with_its_name():
    samples = shifted([0.2, 0.5], subsets=['common', 'common'])
    with pytest.warns(UserWarning, match=r"subset 'challange' \(tags \['challange'\]\) matches no sample.*"
                      r"tags found: \['common'\]"):
        m = run(FaceAlignmentMetric(subsets=['common', 'challange']), samples)
    assert 'common/NME' in m and not any(k.startswith('challange') for k in m)
    # samples without the meta key at all: the warning says how to carry it
    bare = [sample(face_68(), face_68() + 1, i, with_subset=False) for i in range(2)]
    with pytest.warns(UserWarning, match=r"no sample carries a 'subset' meta key.*meta_keys"):
        run(FaceAlignmentMetric(subsets=['pose']), bare)


def test_bad_subset_arguments():
    with pytest.raises(TypeError, match='subsets'):
        FaceAlignmentMetric(subsets=3)
    with pytest.raises(TypeError, match=r"subsets\['x'\]"):
        FaceAlignmentMetric(subsets=dict(x=[]))
    with pytest.raises(ValueError, match='fr_thresholds must be positive'):
        FaceAlignmentMetric(fr_thresholds=(0.1, -1))
    with pytest.raises(ValueError, match="unknown norm_mode 'iod'"):
        FaceAlignmentMetric(norm_mode='iod')


# ------------------------------------------------------------------------------------------ occlusion
def test_occluded_vs_visible_split():
    gt = face_68()
    occ = np.zeros(68)
    occ[:17] = 1                                   # the 17 jaw points are occluded
    pred = gt.copy()
    pred[:17, 0] += 3.0                            # 0.3 on occluded points
    pred[17:, 1] += 1.0                            # 0.1 on visible ones
    vis = np.ones(68)
    vis[16] = 0                                    # an unlabelled point counts in neither
    s0 = sample(gt, pred, 0, visible=vis, occluded=occ, subset='occluded')
    s1 = sample(gt, gt + [0, 0.5], 1, occluded=np.zeros(68), subset='clean')   # 0.05 everywhere, none occluded
    m = run(FaceAlignmentMetric(), [s0, s1])
    assert m['NME_occluded'] == pytest.approx(0.3)
    assert m['NME_visible'] == pytest.approx((51 * 0.1 + 68 * 0.05) / (51 + 68))
    assert m['occluded/NME_occluded'] == pytest.approx(0.3)
    assert m['occluded/NME'] == pytest.approx((16 * 0.3 + 51 * 0.1) / 67)
    assert 'clean/NME_occluded' not in m and m['clean/NME_visible'] == pytest.approx(0.05)
    # switched off
    assert 'NME_occluded' not in run(FaceAlignmentMetric(report_occlusion=False), [s0, s1])


def test_per_landmark_keys():
    gt = face_68()
    pred = gt.copy()
    pred[5, 0] += 2.0
    m = run(FaceAlignmentMetric(per_landmark_keys=True), [sample(gt, pred, 0), sample(gt, gt, 1)])
    assert m['NME_landmark/5'] == pytest.approx(0.1) and m['NME_landmark/6'] == 0
    assert len([k for k in m if k.startswith('NME_landmark/')]) == 68


# ------------------------------------------------------------------------------------------ bad input
def test_unknown_dataset_is_a_clear_error():
    with pytest.raises(ValueError, match=r"no default NME normaliser for dataset 'my_faces'"):
        run(FaceAlignmentMetric(), shifted([0.1]), 'my_faces')
    # an explicit normaliser makes it work
    assert 'NME' in run(FaceAlignmentMetric(norm_mode='bbox_size'), shifted([0.1]), 'my_faces')
    # no dataset_meta at all: the message says how to name the dataset
    metric = FaceAlignmentMetric()
    metric.process({}, shifted([0.1]))
    with pytest.raises(ValueError, match=r'pass FaceAlignmentMetric\(dataset_name=...\)'):
        metric.evaluate(1)
    metric = FaceAlignmentMetric(dataset_name='wflw', norm_mode='inter_pupil')
    gt = np.random.default_rng(1).uniform(0, 100, (98, 2))
    gt[96], gt[97] = [30, 40], [70, 40]
    metric.process({}, [sample(gt, gt + [0, 4], 0)])
    assert metric.evaluate(1)['NME'] == pytest.approx(0.1)


def test_zero_normaliser_names_the_sample():
    gt = face_68()
    bad = gt.copy()
    bad[45] = bad[36]                               # coincident outer eye corners
    samples = [sample(gt, gt + 1, 0), sample(bad, bad + 1, 7, img_path='faces/broken.jpg')]
    with pytest.raises(ValueError, match=r'inter_ocular normaliser is zero.*eye corners \(36, 45\) coincide.*'
                       r'id=7 img_path=faces/broken.jpg'):
        run(FaceAlignmentMetric(), samples)
    with pytest.raises(ValueError, match=r'ground-truth box is degenerate.*id=0'):
        run(FaceAlignmentMetric(norm_mode='bbox_width'), [sample(gt, gt, 0, bbox=[5, 5, 5, 9])])


def test_other_bad_samples_are_named():
    gt = face_68()
    with pytest.raises(ValueError, match=r'no labelled keypoint.*id=3'):
        run(FaceAlignmentMetric(), [sample(gt, gt, 3, visible=np.zeros(68))])
    vis = np.ones(68)
    vis[45] = 0
    with pytest.raises(ValueError, match=r'uses landmarks \[36, 45\].*id=4'):
        run(FaceAlignmentMetric(), [sample(gt, gt, 4, visible=vis)])
    with pytest.raises(ValueError, match=r"box_size.*id=5.*'box_size' to PackPoseInputs"):
        run(FaceAlignmentMetric(), [sample(gt[:19], gt[:19], 5)], 'aflw')
    with pytest.raises(ValueError, match=r'id=6.*2 instances'):
        two_faces = dict(sample(gt, gt, 6), pred_instances=dict(keypoints=np.stack([gt, gt])))
        FaceAlignmentMetric().process({}, [two_faces])
    with pytest.raises(ValueError, match=r'id=8 img_path=img_008.png: 67 occlusion flags'):
        FaceAlignmentMetric().process({}, [dict(sample(gt, gt, 8), keypoints_occluded=np.zeros((1, 67)))])


def test_non_finite_predictions_name_the_sample():
    gt = face_68()
    pred = gt.copy()
    pred[3] = np.nan
    with pytest.raises(ValueError, match=r'predicted keypoints are NaN or infinite for 1 sample\(s\): id=1 '):
        run(FaceAlignmentMetric(), [sample(gt, gt, 0), sample(gt, pred, 1)])
    vis = np.ones(68)
    vis[3] = 0                                      # an unlabelled point may be anything
    assert run(FaceAlignmentMetric(), [sample(gt, pred, 1, visible=vis)])['NME'] == 0


def test_results_contain_no_nan():
    m = run(FaceAlignmentMetric(fr_thresholds=(0.05, 0.1)), random_samples(20), 'synthface')
    assert all(np.isfinite(v) for v in m.values())


# ------------------------------------------------------------------------------------------ files
def test_writes_per_image_errors_and_ced(tmp_path):
    samples = shifted([0.2, 0.5, 0.8, 1.2], subsets=['a', ['a', 'b'], 'b', None])
    m = run(FaceAlignmentMetric(outfile_prefix=str(tmp_path / 'run1')), samples)
    with open(tmp_path / 'run1.per_image.json') as f:
        per_image = json.load(f)
    with open(tmp_path / 'run1.ced.json') as f:
        ced = json.load(f)
    assert per_image['norm_mode'] == 'inter_ocular' and per_image['norm_indices'] == [36, 45]
    assert [im['img_path'] for im in per_image['images']] == [f'img_{i:03d}.png' for i in range(4)]
    np.testing.assert_allclose([im['nme'] for im in per_image['images']], [0.02, 0.05, 0.08, 0.12], rtol=1e-5)
    assert per_image['images'][1]['subset'] == ['a', 'b'] and per_image['images'][3]['subset'] == []
    assert len(per_image['images'][0]['landmark_errors']) == 68
    assert ced['metrics']['NME'] == pytest.approx(m['NME'])
    assert set(ced['curves']) == {'full', 'a', 'b'}
    np.testing.assert_allclose(ced['curves']['b']['errors'], [0.05, 0.08], rtol=1e-5)
    assert ced['curves']['full']['x'][-1] == pytest.approx(0.1) and ced['curves']['full']['y'][-1] == 0.75
    assert len(ced['per_landmark_nme']) == 68


def test_default_output_goes_to_the_log_dir(tmp_path):
    log_dir = tmp_path / '20260101_000000'
    log_dir.mkdir()
    MMLogger.get_instance('fa_metric_test_with_file', log_file=str(log_dir / '20260101_000000.log'))
    run(FaceAlignmentMetric(prefix='val'), shifted([0.2, 0.5]))
    assert osp.isfile(log_dir / 'face_alignment_val.per_image.json')
    assert osp.isfile(log_dir / 'face_alignment_val.ced.json')
    # a logger without a file: nothing is written, nothing fails
    MMLogger.get_instance('fa_metric_test_without_file')
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        m = run(FaceAlignmentMetric(prefix='val2'), shifted([0.2, 0.5]))
    assert m['val2/NME'] == pytest.approx(0.035)
    assert not list(tmp_path.rglob('face_alignment_val2*'))
