# Copyright (c) mmfacealign contributors. All rights reserved.
"""The report of FaceAlignmentMetric on a hand-made EvalResult: the logged table, the file contents (CED grid
computed by hand) and the small helpers."""
import json
from collections import OrderedDict

import numpy as np
import pytest
from mmengine.logging import MMLogger

from mmfacealign.evaluation.metrics.face_alignment_report import (
    EvalResult,
    ced_record,
    default_outfile_prefix,
    format_report,
    format_threshold,
    jsonable,
    list_samples,
    per_image_record,
    write_report_files,
)


def hand_result(**overrides) -> EvalResult:
    """3 images, 3 landmarks; landmark 2 is never labelled, image 1 lacks landmark 1.

    Per-image NME: (0.02 + 0.04) / 2 = 0.03, 0.1, 0.2. Per-landmark NME: (0.02 + 0.1 + 0.2) / 3 = 0.10667,
    (0.04 + 0.2) / 2 = 0.12, undefined. Overall: NME 0.11, FR@0.1 = 1/3 (0.1 is not above 0.1),
    AUC@0.1 = (0.7 + 0 + 0) / 3. Subset ``hard`` = images 1, 2: NME 0.15, FR@0.1 0.5, AUC@0.1 0.
    """
    errors = np.array([[0.02, 0.04, 9.0], [0.1, 7.0, 9.0], [0.2, 0.2, 9.0]])
    mask = np.array([[True, True, False], [True, False, False], [True, True, False]])
    samples = [
        dict(id=0, img_path='a.png', subset=(), occluded=None),
        dict(id=np.int64(1), img_path='b.png', subset=('hard', ), occluded=None),
        dict(id=2, img_path='c.png', subset=('hard', 'pose'), occluded=None),
    ]
    kwargs = dict(
        samples=samples,
        nme=np.array([0.03, 0.1, 0.2]),
        errors=errors,
        mask=mask,
        normalizers=np.array([10.0, 20.0, 40.0]),
        landmark_nme=np.array([0.32 / 3, 0.12, np.nan]),
        subsets=OrderedDict(hard=np.array([1, 2])),
        dataset_name='300w',
        norm_mode='inter_ocular',
        norm_indices=(0, 1),
        fr_thresholds=[0.1],
        auc_thresholds=[0.1],
        metrics=OrderedDict([('NME', 0.11), ('FR@0.1', 1 / 3), ('AUC@0.1', 0.7 / 3), ('hard/NME', 0.15),
                             ('hard/FR@0.1', 0.5), ('hard/AUC@0.1', 0.0)]))
    kwargs.update(overrides)
    return EvalResult(**kwargs)


def test_small_helpers():
    assert [format_threshold(t) for t in (0.1, 0.080, 1, 1e-5)] == ['0.1', '0.08', '1', '1e-05']
    names = ['n0', 'n1', 'n2', 'n3']
    assert list_samples(names, [3, 0]) == 'n3; n0'
    assert list_samples(names, np.array([3, 0, 1, 2]), limit=2) == 'n3; n0; ... (2 more)'
    assert jsonable(np.int64(7)) == 7 and type(jsonable(np.int64(7))) is int
    assert jsonable(np.array([[1, 2]])) == [[1, 2]] and jsonable('x') == 'x' and jsonable(None) is None


def test_format_report_table():
    assert format_report(hand_result()).split('\n') == [
        "FaceAlignmentMetric: 3 images, dataset '300w', normaliser inter_ocular [0, 1]",
        'subset    images          NME       FR@0.1      AUC@0.1',
        'all            3       0.1100       0.3333       0.2333',
        'hard           2       0.1500       0.5000       0.0000',
        'hardest landmarks (NME): 1 (0.1200), 0 (0.1067)',   # the never-labelled landmark 2 is left out
    ]


def test_format_report_occlusion_columns_and_long_subset_names():
    # flags on every sample, none set: NME_visible = pooled error of the 5 labelled points, no NME_occluded
    metrics = OrderedDict([('NME', 0.11), ('FR@0.1', 1 / 3), ('AUC@0.1', 0.7 / 3), ('NME_visible', 0.112)])
    lines = format_report(
        hand_result(subsets=OrderedDict(), metrics=metrics, norm_mode='bbox_size', norm_indices=None,
                    occluded=np.zeros((3, 3), bool), flagged=np.ones((3, 1), bool))).split('\n')
    assert lines[0] == "FaceAlignmentMetric: 3 images, dataset '300w', normaliser bbox_size"
    assert lines[1].split() == ['subset', 'images', 'NME', 'FR@0.1', 'AUC@0.1', 'NME_visible', 'NME_occluded']
    assert lines[2] == 'all            3       0.1100       0.3333       0.2333       0.1120            -'
    assert lines[-1] == 'no labelled landmark is flagged occluded: NME_occluded is not reported'
    # a subset name longer than 8 characters widens the first column
    lines = format_report(hand_result(subsets=OrderedDict(large_pose=np.array([1, 2])))).split('\n')
    assert lines[1].startswith('subset      images ') and lines[3].startswith('large_pose       2 ')
    assert lines[3].endswith('           -            -            -')   # no large_pose/... keys


def test_per_image_record():
    rec = per_image_record(hand_result())
    assert rec['dataset_name'] == '300w' and rec['norm_mode'] == 'inter_ocular' and rec['norm_indices'] == [0, 1]
    assert rec['num_images'] == 3 and [im['id'] for im in rec['images']] == [0, 1, 2]
    im = rec['images'][1]
    assert im == dict(id=1, img_path='b.png', subset=['hard'], normalizer=20.0, nme=0.1,
                      landmark_errors=[0.1, None, None])
    assert 'occluded' not in im
    samples = hand_result().samples
    samples[2] = dict(samples[2], occluded=np.array([True, False, True]))
    rec = per_image_record(hand_result(samples=samples))
    assert rec['images'][2]['occluded'] == [1, 0, 1]
    assert json.loads(json.dumps(rec)) == rec     # plain json types only


def test_ced_record_on_a_three_point_grid():
    ced = ced_record(hand_result(auc_thresholds=[0.05]), ced_points=3)
    assert ced['fr_thresholds'] == [0.1] and ced['auc_thresholds'] == [0.05]
    assert list(ced['curves']) == ['full', 'hard']
    full, hard = ced['curves']['full'], ced['curves']['hard']
    # grid 0, 0.05, 0.1 (the largest threshold); CED(x) = share of images with NME <= x
    np.testing.assert_allclose(full['x'], [0, 0.05, 0.1])
    np.testing.assert_allclose(full['y'], [0, 1 / 3, 2 / 3])
    np.testing.assert_allclose(hard['y'], [0, 0, 0.5])
    assert full['errors'] == [0.03, 0.1, 0.2] and hard['errors'] == [0.1, 0.2] and hard['num_images'] == 2
    assert ced['per_landmark_nme'][1:] == [0.12, None] and ced['metrics']['hard/FR@0.1'] == 0.5


def test_write_report_files(tmp_path):
    result = hand_result()
    assert write_report_files(result, None, 5) is None
    assert not list(tmp_path.iterdir())
    paths = write_report_files(result, str(tmp_path / 'sub' / 'run'), 5)
    assert paths == (str(tmp_path / 'sub' / 'run.per_image.json'), str(tmp_path / 'sub' / 'run.ced.json'))
    with open(paths[0]) as f:
        assert json.load(f) == per_image_record(result)
    with open(paths[1]) as f:
        assert len(json.load(f)['curves']['full']['x']) == 5
    assert sorted(p.name for p in (tmp_path / 'sub').iterdir()) == ['run.ced.json', 'run.per_image.json']


def test_default_outfile_prefix(tmp_path):
    (tmp_path / 'ts').mkdir()
    MMLogger.get_instance('fa_report_test_with_file', log_file=str(tmp_path / 'ts' / 'ts.log'))
    assert default_outfile_prefix('val') == str(tmp_path / 'ts' / 'face_alignment_val')
    assert default_outfile_prefix(None) == str(tmp_path / 'ts' / 'face_alignment')
    MMLogger.get_instance('fa_report_test_without_file')
    assert default_outfile_prefix('val') is None


def test_eval_result_is_frozen():
    with pytest.raises(AttributeError):
        hand_result().nme = np.zeros(3)
