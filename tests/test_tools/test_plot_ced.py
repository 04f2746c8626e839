# Copyright (c) mmfacealign contributors. All rights reserved.
"""tools/analysis_tools/plot_ced.py on files written by FaceAlignmentMetric."""
import os.path as osp

import numpy as np
import pytest
from e2e_utils import load_tool

from mmfacealign.evaluation import FaceAlignmentMetric

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
plot_ced = load_tool('tools/analysis_tools/plot_ced.py')


def _run_metric(prefix, nmes, tags):
    """Evaluate images whose per-image NME is exactly ``nmes`` (every point shifted by nme x eye distance)."""
    gt = np.random.default_rng(0).uniform(0, 100, (68, 2))
    gt[36], gt[45] = [20, 50], [60, 50]                 # inter-ocular distance 40
    samples = [
        dict(id=i, img_path=f'{i}.png', subset=t,
             gt_instances=dict(keypoints=gt[None], keypoints_visible=np.ones((1, 68))),
             pred_instances=dict(keypoints=(gt + [40 * e, 0])[None])) for i, (e, t) in enumerate(zip(nmes, tags))
    ]
    metric = FaceAlignmentMetric(outfile_prefix=str(prefix))
    metric.dataset_meta = dict(dataset_name='synthface')
    metric.process({}, samples)
    return metric.evaluate(len(samples))


def test_plot_two_runs(tmp_path, capsys):
    m_a = _run_metric(tmp_path / 'a', [0.02, 0.05, 0.08, 0.12], ['clean', 'clean', 'masked', 'masked'])
    _run_metric(tmp_path / 'b', [0.01, 0.03, 0.2], ['clean', 'masked', 'masked'])
    out = tmp_path / 'fig' / 'ced.png'
    plot_ced.main([str(tmp_path / 'a.ced.json'), str(tmp_path / 'b.per_image.json'), '--labels', 'A', 'B',
                   '--out', str(out)])
    with open(out, 'rb') as f:
        assert f.read(8) == b'\x89PNG\r\n\x1a\n'
    printed = capsys.readouterr().out
    assert 'A: 4 images, AUC 0.3750, FR 25.00%' in printed        # hand-computed, as in the metric tests
    assert f'{m_a["AUC@0.1"]:.4f}' == '0.3750'
    assert 'B: 3 images, AUC 0.5333, FR 33.33%' in printed        # (0.9 + 0.7 + 0) / 3

    stats = plot_ced.plot_ced([str(tmp_path / 'a.ced.json'), str(tmp_path / 'a.per_image.json')], None,
                              str(tmp_path / 'masked.png'), subset='masked', threshold=0.09, percent=True)
    assert [s['num_images'] for s in stats] == [2, 2]
    assert stats[0]['auc'] == pytest.approx(stats[1]['auc']) == pytest.approx((1 - 0.08 / 0.09) / 2)
    assert stats[0]['fr'] == pytest.approx(0.5)
    assert [s['label'] for s in stats] == ['a', 'a']
    assert osp.getsize(tmp_path / 'masked.png') > 1000


def test_bad_inputs(tmp_path):
    _run_metric(tmp_path / 'a', [0.02, 0.05], ['clean', 'clean'])
    with pytest.raises(SystemExit, match=r"no subset 'pose'; it has \['clean', 'full'\]"):
        plot_ced.main([str(tmp_path / 'a.ced.json'), '--subset', 'pose', '--out', str(tmp_path / 'x.png')])
    with pytest.raises(SystemExit, match='2 files but 1 labels'):
        plot_ced.main([str(tmp_path / 'a.ced.json')] * 2 + ['--labels', 'x', '--out', str(tmp_path / 'x.png')])
    (tmp_path / 'other.json').write_text('{"NME": 0.1}')
    with pytest.raises(SystemExit, match='not a FaceAlignmentMetric output'):
        plot_ced.main([str(tmp_path / 'other.json'), '--out', str(tmp_path / 'x.png')])
    assert not osp.exists(tmp_path / 'x.png')
