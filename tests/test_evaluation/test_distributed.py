# Copyright (c) mmfacealign contributors. All rights reserved.
"""FaceAlignmentMetric gathered over 2 CPU processes (gloo) equals the single-process result."""
import json
import socket

import pytest
import torch.multiprocessing as mp
from face_eval_utils import dist_worker, random_samples

from mmfacealign.evaluation import FaceAlignmentMetric


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_two_process_gloo_evaluation_equals_single_process(tmp_path):
    n = 25   # odd: with round_up rank 1 gets a padded duplicate, which evaluate(size=n) must drop
    mp.spawn(dist_worker, args=(2, _free_port(), n, str(tmp_path)), nprocs=2, join=True)
    with open(tmp_path / 'metrics_rank0.json') as f:
        dist_metrics = json.load(f)
    with open(tmp_path / 'metrics_rank1.json') as f:
        assert json.load(f) == dist_metrics          # broadcast to every rank

    single = FaceAlignmentMetric(fr_thresholds=(0.05, 0.1), outfile_prefix=str(tmp_path / 'single'))
    single.dataset_meta = dict(dataset_name='synthface')
    single.process({}, random_samples(n))
    single_metrics = single.evaluate(n)
    assert {'NME', 'FR@0.1', 'AUC@0.05', 'NME_occluded', 'clean/NME', 'extra/NME', 'full/AUC@0.1'} <= set(
        single_metrics)

    for mode in ('round_up', 'no_round_up'):
        assert set(dist_metrics[mode]) == set(single_metrics), mode
        for key, value in single_metrics.items():
            assert dist_metrics[mode][key] == pytest.approx(value, rel=1e-12, abs=1e-12), (mode, key)
        # only rank 0 writes, and the file holds every image once
        with open(tmp_path / f'{mode}.per_image.json') as f:
            per_image = json.load(f)
        assert sorted(im['id'] for im in per_image['images']) == list(range(n)), mode
    assert not list(tmp_path.glob('*.tmp-*'))
