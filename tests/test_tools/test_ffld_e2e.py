# Copyright (c) mmfacealign contributors. All rights reserved.
"""FFLD end to end through the real mmengine runner on SynthFace: a few dozen iterations of the SynthFace config
lower every loss term (S0, S1, S2 and the Align Loss of S3), and the checkpoint evaluates per stage with
tools/test.py (model.test_cfg.output_stage)."""
import json
import os.path as osp

import numpy as np
from e2e_utils import SHORT_SCHEDULE, read_scalars, run, synthface_options

CONFIG = 'configs/ffld/td-ffld_res18-w32_1xb64-15e_synthface-128x128.py'


def test_ffld_trains_and_evaluates_per_stage(synthface_root, repo_root, tmp_path):
    work = str(tmp_path / 'ffld')
    common = synthface_options(synthface_root)
    run(['tools/train.py', CONFIG, '--work-dir', work, '--cfg-options', *common, *SHORT_SCHEDULE], repo_root)
    logs = read_scalars(work)
    assert len(logs) >= 20
    # seeded run, measured (mean of the first vs the last 3 logged values): loss 7849 -> 1300 (x0.17),
    # loss_s0 5405 -> 843 (x0.16), loss_s1 2384 -> 425 (x0.18), loss_s2 40.2 -> 14.8 (x0.37),
    # loss_s3 (Align Loss) 20.4 -> 17.5 (x0.86)
    for key, factor in (('loss', 0.5), ('loss_s0', 0.5), ('loss_s1', 0.5), ('loss_s2', 0.7), ('loss_s3', 0.95)):
        values = np.array([entry[key] for entry in logs])
        first, last = values[:3].mean(), values[-3:].mean()
        assert np.isfinite(values).all() and last < factor * first, (key, first, last)

    for stage in (0, 3):
        out = osp.join(work, f'metrics_s{stage}.json')
        run(['tools/test.py', CONFIG, osp.join(work, 'epoch_8.pth'), '--work-dir', work, '--out', out,
             '--cfg-options', *common, f'model.test_cfg.output_stage={stage}'], repo_root)
        with open(out) as f:
            metrics = json.load(f)
        for subset in ('clean', 'occluded', 'masked', 'full'):
            assert np.isfinite(metrics[f'{subset}/NME']) and metrics[f'{subset}/NME'] > 0
