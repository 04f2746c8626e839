# Copyright (c) mmfacealign contributors. All rights reserved.
"""Occlusion-prediction figures (precision-recall with tied scores, AP, COFW's recall at 80% precision) by hand,
and their keys in FaceAlignmentMetric: per subset, a subset without any occluded landmark, the NME of landmarks
predicted occluded / visible, bad input."""
import numpy as np
import pytest
from face_eval_utils import face_68, sample

from mmfacealign.evaluation import FaceAlignmentMetric
from mmfacealign.evaluation.functional import (
    average_precision,
    precision_recall_at,
    precision_recall_curve,
    recall_at_precision,
)

# six landmarks, two of them tied at 0.8 (one occluded, one not)
SCORES = np.array([0.9, 0.8, 0.8, 0.6, 0.3, 0.1])
LABELS = np.array([1, 1, 0, 1, 0, 0], bool)


def test_curve_groups_tied_scores():
    precision, recall, thresholds = precision_recall_curve(SCORES, LABELS)
    # t = 0.9: 1 TP; t = 0.8: both tied points enter together (2 TP, 1 FP); t = 0.6: 3 TP, 1 FP; then FPs only
    np.testing.assert_allclose(thresholds, [0.9, 0.8, 0.6, 0.3, 0.1])
    np.testing.assert_allclose(precision, [1, 2 / 3, 3 / 4, 3 / 5, 3 / 6])
    np.testing.assert_allclose(recall, [1 / 3, 2 / 3, 1, 1, 1])


def test_average_precision_and_recall_at_precision_by_hand():
    assert average_precision(SCORES, LABELS) == pytest.approx((1 + 2 / 3 + 3 / 4) / 3)
    # at 80% precision only t = 0.9 qualifies (splitting the tie at 0.8 would give recall 2/3 at precision 1)
    assert recall_at_precision(SCORES, LABELS, 0.8) == pytest.approx((1 / 3, 0.9))
    assert recall_at_precision(SCORES, LABELS, 0.75) == pytest.approx((1.0, 0.6))
    # no operating point that precise: recall 0
    assert recall_at_precision(np.array([0.9, 0.1]), np.array([0, 1], bool), 0.8) == (0.0, float('inf'))
    assert precision_recall_at(SCORES, LABELS, 0.5) == pytest.approx((0.75, 1.0))
    precision, recall = precision_recall_at(SCORES, LABELS, 0.95)          # nothing predicted occluded
    assert np.isnan(precision) and recall == 0.0


def test_no_occluded_landmark_leaves_recall_and_ap_undefined():
    none = np.zeros(6, bool)
    assert average_precision(SCORES, none) is None and recall_at_precision(SCORES, none) is None
    precision, recall = precision_recall_at(SCORES, none, 0.5)
    assert precision == 0.0 and np.isnan(recall)


def test_bad_scores_are_named():
    with pytest.raises(ValueError, match='NaN or infinite'):
        precision_recall_curve(np.array([0.5, np.nan]), np.array([1, 0], bool))
    with pytest.raises(ValueError, match='differ in number'):
        precision_recall_curve(np.array([0.5]), np.array([1, 0], bool))


def _with_probabilities(s, prob):
    s['pred_instances']['keypoints_occluded'] = np.asarray(prob, np.float32).reshape(1, -1)
    return s


def test_metric_keys_per_subset_by_hand():
    gt = face_68()                                  # inter-ocular distance 10 px
    occ = np.zeros(68)
    occ[:4] = 1                                     # landmarks 0-3 occluded
    prob = np.full(68, 0.1)
    prob[:3] = 0.9                                  # 3 of the 4 found ...
    prob[10] = 0.7                                  # ... and one false alarm; landmark 3 missed (0.1)
    pred = gt.copy()
    pred[[0, 1, 2, 10], 0] += 2.0                   # error 0.2 on the 4 predicted occluded, 0 elsewhere
    s0 = _with_probabilities(sample(gt, pred, 0, occluded=occ, subset='occluded'), prob)
    # a clean face: nothing occluded, one false alarm at 0.6
    clean_prob = np.full(68, 0.2)
    clean_prob[5] = 0.6
    s1 = _with_probabilities(sample(gt, gt, 1, occluded=np.zeros(68), subset='clean'), clean_prob)
    metric = FaceAlignmentMetric()
    metric.dataset_meta = dict(dataset_name='synthface')
    metric.process({}, [s0, s1])
    m = metric.evaluate(2)
    # pooled over 136 landmarks: scores 0.9 x3 (TP), 0.7 (FP), 0.6 (FP), 0.2 x67 (FP), 0.1 x64 (1 TP, 63 FP)
    assert m['occ_precision'] == pytest.approx(3 / 5) and m['occ_recall'] == pytest.approx(3 / 4)
    assert m['occ_AP'] == pytest.approx(3 / 4 * 1 + 1 / 4 * 4 / 136)
    assert m['occ_recall@P80'] == pytest.approx(3 / 4) and m['occ_threshold@P80'] == pytest.approx(0.9)
    assert m['NME_pred_occluded'] == pytest.approx(4 * 0.2 / 5)            # 0.7 on s0's 10 and 0.6 on s1's 5
    assert m['NME_pred_visible'] == pytest.approx(0.0)
    assert m['occluded/occ_precision'] == pytest.approx(3 / 4)
    # the clean subset has no occluded landmark: no AP or recall there, and its precision is 0 (one false alarm)
    assert 'clean/occ_AP' not in m and 'clean/occ_recall@P80' not in m and 'clean/occ_recall' not in m
    assert m['clean/occ_precision'] == 0.0
    # a model that never says "occluded": recall 0, no precision figure
    metric = FaceAlignmentMetric()
    metric.dataset_meta = dict(dataset_name='synthface')
    metric.process({}, [_with_probabilities(sample(gt, pred, 0, occluded=occ), np.zeros(68))])
    never = metric.evaluate(1)
    assert never['occ_recall'] == 0.0 and 'occ_precision' not in never and 'NME_pred_occluded' not in never
    # without predicted probabilities: none of the keys
    metric = FaceAlignmentMetric()
    metric.dataset_meta = dict(dataset_name='synthface')
    metric.process({}, [sample(gt, pred, 0, occluded=occ)])
    assert not any(k.startswith('occ_') or 'NME_pred' in k for k in metric.evaluate(1))


def test_metric_refuses_probabilities_of_the_wrong_size():
    gt = face_68()
    s = _with_probabilities(sample(gt, gt, 0, occluded=np.zeros(68)), np.zeros(5))
    with pytest.raises(ValueError, match=r'5 predicted occlusion probabilities \(pred_instances.keypoints_occluded'):
        FaceAlignmentMetric().process({}, [s])
