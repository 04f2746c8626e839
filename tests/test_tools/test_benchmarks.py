# Copyright (c) mmfacealign contributors. All rights reserved.
"""The benchmark scripts run and report what they promise (tiny settings; timings are not asserted)."""
import json
import os.path as osp
import subprocess
import sys

import pytest
from e2e_utils import load_tool

BASELINE = 'configs/baselines/td-reg_res18-w32_1xb64-15e_synthface-128x128.py'

def run(args, cwd):
    r = subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return r.stdout


def run_fails(args, cwd) -> str:
    """Run a tool that must fail; its stderr."""
    r = subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True)
    assert r.returncode != 0, r.stdout[-2000:]
    return r.stderr


def test_benchmark_model_with_reference_head(repo_root, tmp_path):
    out = tmp_path / 'bench.json'
    text = run(['tools/analysis_tools/benchmark_model.py',
                'configs/scdf/td-scdf_res18-w32_1xb64-15e_synthface-128x128.py',
                '--reference-head', '--repeats', '1', '--throughput-batch', '2', '--train-batch', '2',
                '--out', str(out)], repo_root)
    rows = json.loads(out.read_text())['rows']
    assert [r['config'].endswith('[RegressionHead reference]') for r in rows] == [True, False]
    ref, scdf = rows
    assert scdf['params_M'] > ref['params_M'] > 2.7          # the GCN head adds parameters to ResNet-18-w32
    assert scdf['gflops'] > ref['gflops'] > 0
    for key in ('latency_ms', 'throughput_img_s', 'train_step_ms'):
        assert scdf[key] > 0 and ref[key] > 0
    assert 'train_step_overhead_pct' in scdf and '| td-scdf_res18-w32' in text
    # the alternated timings (model and reference in turn): ratios with their quartiles, printed in the table
    for key in ('latency_ratio', 'train_ratio'):
        assert scdf[f'{key}_q25'] <= scdf[f'{key}_interleaved'] <= scdf[f'{key}_q75']
        assert 0.5 < scdf[f'{key}_interleaved'] < 5
    assert f"alternated {100 * (scdf['train_ratio_interleaved'] - 1):+.1f}%" in text


def test_benchmark_synthface(repo_root):
    text = run(['tools/analysis_tools/benchmark_synthface.py', '--num', '20', '--workers', '1'], repo_root)
    assert 'render only' in text and 'render + PNG + json, 1 worker(s)' in text


def test_benchmark_ffld_against_its_baseline_with_memory(repo_root, tmp_path):
    """FFLD's reference is the same network without refinement; memory comes from a fresh subprocess."""
    out = tmp_path / 'bench.json'
    text = run(['tools/analysis_tools/benchmark_model.py',
                'configs/ffld/td-ffld_res18-w32_1xb64-15e_synthface-128x128.py', '--reference-head',
                '--train-memory', '--relative-to', '0', '--repeats', '1', '--throughput-batch', '2',
                '--train-batch', '2', '--out', str(out)], repo_root)
    ref, ffld = json.loads(out.read_text())['rows']
    assert ref['config'].endswith('[no refinement reference]')
    # three CropNets (68 landmarks, 4 channels each, 128-channel block, FC 128 -> 136) on the same backbone:
    # 1,586,936 parameters with the SynthFace maps' 64, 32 and 64 channels
    assert abs(ffld['params_M'] - ref['params_M'] - 1.586936) < 1e-6
    assert ref['latency_ratio'] == 1 and ffld['latency_ratio'] > 0
    for row in (ref, ffld):
        assert row['train_peak_mb'] > row['train_step_added_mb'] > 0
    assert 'train step peak memory (MB)' in text and 'latency / row 0' in text


def test_benchmark_mmpose_heatmap_config_by_package_path(repo_root, tmp_path):
    """MMPose's own face models (heatmap heads, `mmpose::` names) are measured alike, with heatmap targets."""
    out = tmp_path / 'bench.json'
    text = run(['tools/analysis_tools/benchmark_model.py',
                'mmpose::face_2d_keypoint/topdown_heatmap/wflw/td-hm_hrnetv2-w18_8xb64-60e_wflw-256x256.py',
                '--reference-head', '--repeats', '1', '--throughput-batch', '1', '--train-batch', '1',
                '--out', str(out)], repo_root)
    (row, ) = json.loads(out.read_text())['rows']                 # no regression reference for a heatmap head
    assert row['input'] == '256x256' and 9 < row['params_M'] < 10 and row['train_step_ms'] > 0
    assert 'no reference head for a HeatmapHead' in text


def test_benchmark_odn_with_variant_and_svd_share(repo_root, tmp_path):
    """ODN: the plain ResNet-18 regression reference, a variant without regularisers and the SVD's share."""
    out = tmp_path / 'bench.json'
    text = run(['tools/analysis_tools/benchmark_model.py',
                'configs/odn/td-odn_res18-w32_1xb64-15e_synthface-128x128.py', '--reference-head',
                '--variant', 'no-reg:head.nuclear_loss=None,head.frobenius_loss=None,head.map_loss=None',
                '--repeats', '1', '--throughput-batch', '2', '--train-batch', '2', '--out', str(out)], repo_root)
    ref, odn, no_reg = json.loads(out.read_text())['rows']
    assert ref['config'].endswith('[plain ResNet + RegressionHead reference]')
    assert no_reg['config'].endswith('[no-reg]') and 'config_adds_train_pct' in no_reg
    # the regularisers have no parameters: same model size; GM, DM, the reduction and M (512 x 512) add to the reference
    assert no_reg['params_M'] == odn['params_M'] > ref['params_M'] + 0.262144
    assert odn['svd_ms'] > 0 and 0 < odn['svd_share_pct'] and 'nuclear norm of M (512^2' in text
    assert 'to this variant' in text


def test_benchmark_variant_names_the_missing_key(repo_root):
    for spec, key in (('bad:head.no_such_block.x=1', 'head.no_such_block.x'), ('typo:head.nuclear_los=None',
                                                                              'head.nuclear_los')):
        r = subprocess.run([sys.executable, 'tools/analysis_tools/benchmark_model.py',
                            'configs/odn/td-odn_res18-w32_1xb64-15e_synthface-128x128.py', '--variant', spec,
                            '--repeats', '1'], cwd=repo_root, capture_output=True, text=True)
        assert r.returncode != 0 and f"model has no '{key}'" in r.stderr, r.stderr[-2000:]


def test_benchmark_srn_iterations_and_patch_share(repo_root, tmp_path):
    """SRN: no reference head (no backbone), T = 1 as a variant, the patch extraction's share at batch 32."""
    out = tmp_path / 'bench.json'
    text = run(['tools/analysis_tools/benchmark_model.py', 'configs/srn/td-srn_pcnn-s_1xb64-15e_synthface-128x128.py',
                '--variant', 'T1:head.num_iterations=1', '--repeats', '1', '--throughput-batch', '2',
                '--train-batch', '2', '--out', str(out)], repo_root)
    srn, t1 = json.loads(out.read_text())['rows']
    assert t1['config'].endswith('[T1]') and t1['params_M'] == srn['params_M']      # weights shared over T
    for row in (srn, t1):
        assert 0 < row['patch_share_pct'] < 100 and row['forward_b32_ms'] > row['patch_ms'] > 0
    assert srn['gflops'] > t1['gflops'] and 'patch extraction' in text


def test_median_time_synchronises_cuda(repo_root, monkeypatch):
    """On CUDA every timed run is bracketed by synchronisations, so it times the kernels, not their launch."""
    import torch
    bm = _benchmark_module(repo_root)
    events = []
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    monkeypatch.setattr(torch.cuda, 'is_initialized', lambda: True)
    monkeypatch.setattr(torch.cuda, 'synchronize', lambda *a, **k: events.append('sync'))
    assert bm.median_time(lambda: events.append('run'), repeats=2, warmup=1) >= 0
    assert events == ['run'] + ['sync', 'run', 'sync'] * 2


def test_benchmark_of_record_onnx_matmul_accuracy_table_and_chart(repo_root, tmp_path):
    """The benchmark of record's columns: onnxruntime rows checked against PyTorch, repeated rounds with a spread,
    the matmul-rate share, the ops mmengine's counter skips, an accuracy read from a metrics json, the markdown
    table with the target checks and the PNG chart."""
    metrics = tmp_path / 'metrics.json'
    metrics.write_text(json.dumps({'occluded/NME': 0.0996, 'clean/NME': 0.0686}))
    out, md, png = tmp_path / 'bench.json', tmp_path / 'table.md', tmp_path / 'chart.png'
    name = 'td-reg_res18-w32_1xb64-15e_synthface-128x128'
    text = run(['tools/analysis_tools/benchmark_model.py', f'configs/baselines/{name}.py', '--onnx', '--matmul-rate',
                '--runs', '2', '--repeats', '2', '--throughput-batch', '2', '--train-batch', '2',
                '--accuracy', f'{name}={metrics}', '--speedup-target', f'{name}/{name}>=1',
                '--out', str(out), '--markdown', str(md), '--chart', str(png)], repo_root)
    record = json.loads(out.read_text())
    (row, ) = record['rows']
    assert row['onnx_max_abs_diff'] < 1e-4 and row['ort_latency_ms'] > 0 and row['ort_throughput_img_s'] > 0
    assert row['accuracy'] == pytest.approx(9.96)
    assert row['latency_spread_pct'] >= 0 and row['train_step_spread_pct'] >= 0
    # the share is 2 x multiply-adds x images/s over the measured GEMM rate
    share = 100 * 2 * row['gflops'] * row['throughput_img_s'] / record['matmul_gflop_s']
    assert row['matmul_share_pct'] == pytest.approx(share) and record['matmul_gflop_s'] > 0
    # ResNet's max pooling has no FLOP handle in mmengine: it is listed, not silently dropped
    assert row['uncounted_ops'].get('aten::max_pool2d') == 1
    table = md.read_text()
    assert f'| {name} | 128x128 |' in table and 'max_pool2d x1' in table and '9.96' in table
    assert f'PASS: {name} has 1.0x the batch-1 throughput of {name}' in table
    assert 'ONNX outputs within' in table and 'of the fp32 matmul roof' in table and 'ORT latency b1' in text
    # the roof: torch.mm and onnxruntime MatMul, before and after the rows, the fastest of all
    assert len(record['matmul_rates']) == 2 and all('ort_gflop_s' in r for r in record['matmul_rates'])
    assert record['matmul_gflop_s'] == max(r['gflop_s'] for r in record['matmul_rates'])
    assert png.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n' and png.stat().st_size > 10000


def test_benchmark_accuracy_file_without_the_key_is_named(repo_root, tmp_path):
    metrics = tmp_path / 'metrics.json'
    metrics.write_text(json.dumps({'NME': 0.07}))
    err = run_fails(['tools/analysis_tools/benchmark_model.py', BASELINE, '--accuracy', f'x={metrics}'], repo_root)
    assert f"{metrics} has no 'occluded/NME' (it has NME)" in err, err[-2000:]


def _benchmark_module(repo_root):
    return load_tool('tools/analysis_tools/benchmark_model.py')


def test_timed_rounds_median_and_spread(repo_root, monkeypatch):
    """Three rounds whose medians are 1, 2 and 4 s: the median of the rounds is 2 s, the spread (4 - 1) / 2."""
    bm = _benchmark_module(repo_root)
    medians = iter([1., 4., 2.])
    monkeypatch.setattr(bm, 'median_time', lambda fn, repeats, warmup=3: next(medians))
    out = bm.timed(lambda: None, repeats=5, runs=3)
    assert out['median'] == 2. and out['spread'] == 1.5 and out['rounds'] == [1., 4., 2.]


def test_target_checks_by_hand(repo_root):
    """The speedup is the batch-1 throughput ratio A / B = latency B / latency A (not its inverse); the matmul share
    of a row is judged on its faster backend, and a share above 100% says the roof is wrong, not PASS."""
    import argparse
    bm = _benchmark_module(repo_root)
    rows = [dict(config='fast', latency_ms=10., matmul_share_pct=40., ort_matmul_share_pct=60., ort_latency_ms=5.,
                 onnx_max_abs_diff=2e-5, onnx_output_scale=0.5),
            dict(config='slow', latency_ms=60., matmul_share_pct=30.),
            dict(config='odd', latency_ms=30., matmul_share_pct=120.),
            dict(config='winograd', latency_ms=30., matmul_share_pct=55., ort_matmul_share_pct=104.)]
    args = argparse.Namespace(speedup_target=['fast/slow>=5', 'slow/fast>=1'], matmul_share_target=50.,
                              throughput_batch=32)
    checks = bm.target_checks(rows, args, rate=100.)
    assert checks[0] == 'PASS: fast has 6.0x the batch-1 throughput of slow (target >= 5x)'
    assert checks[1] == 'FAIL: slow has 0.2x the batch-1 throughput of fast (target >= 1x)'
    assert checks[2].startswith('PASS: fast: onnxruntime batch-1 latency 5.0 ms vs eager 10.0 ms')
    assert checks[3].startswith('PASS: fast: ONNX outputs within 2.0e-05 of PyTorch, 4e-05 of the largest output')
    assert checks[4].startswith('PASS: fast: batch-32 inference at 40% (eager), 60% (onnxruntime) of the fp32')
    assert checks[5].startswith('FAIL: slow: batch-32 inference at 30% (eager) of')
    assert checks[6].startswith('INVALID ROOF: odd: batch-32 inference at 120% (eager)')
    # a backend above the roof is not counted; the other one decides
    assert checks[7].startswith('PASS: winograd: batch-32 inference at 55% (eager), 104% (onnxruntime)')
    assert checks[7].endswith('onnxruntime above 100%, not counted)')
    # the share itself: 2 x multiply-adds x images/s over the roof, e.g. 0.5 GMAC at 100 img/s on 200 GFLOP/s
    assert 100 * 2 * 0.5 * 100 / 200 == 50.
    # a latency ratio against the row's reference (FFLD: the network without refinement), with the FLOPs floor
    rows = [dict(config='ffld', latency_ms=14.5, latency_overhead_pct=45., gflops=1.35, reference_gflops=1.0),
            dict(config='plain', latency_ms=10.)]
    args = argparse.Namespace(speedup_target=[], latency_ratio_target=['ffld<=1.45', 'ffld<=1.4'],
                              matmul_share_target=50., throughput_batch=32)
    checks = bm.target_checks(rows, args, rate=None)
    assert checks == ['PASS: ffld has 1.45x the batch-1 latency of its reference (target <= 1.45x; FLOPs ratio 1.35x)',
                      'FAIL: ffld has 1.45x the batch-1 latency of its reference (target <= 1.4x; FLOPs ratio 1.35x)']
    # the alternated timing decides when it was measured; the rows' ratio is printed beside it
    rows[0].update(latency_ratio_interleaved=1.5, latency_ratio_q25=1.4, latency_ratio_q75=1.6)
    args.latency_ratio_target = ['ffld<=1.45']
    assert bm.target_checks(rows, args, rate=None) == [
        'FAIL: ffld has 1.50x the batch-1 latency of its reference (target <= 1.45x; timed alternately, quartiles '
        '1.40-1.60; rows 1.45x; FLOPs ratio 1.35x)']
    args.latency_ratio_target = ['plain<=2']
    with pytest.raises(ValueError, match='no reference row'):
        bm.target_checks(rows, args, rate=None)


def test_benchmark_unknown_accuracy_name_is_named(repo_root, tmp_path):
    metrics = tmp_path / 'metrics.json'
    metrics.write_text(json.dumps({'occluded/NME': 0.07}))
    err = run_fails(['tools/analysis_tools/benchmark_model.py', BASELINE, '--accuracy', f'td-reg_typo={metrics}'],
                    repo_root)
    assert '--accuracy names no measured config: td-reg_typo' in err, err[-2000:]


def test_variant_merges_into_a_copy_and_rejects_unknown_keys(repo_root):
    from mmengine.config import Config
    bm = _benchmark_module(repo_root)
    cfg = Config.fromfile(osp.join(repo_root, 'configs/odn/td-odn_res18-w32_1xb64-15e_synthface-128x128.py'))
    name, model = bm.apply_variant(cfg.model, 'no-reg:head.nuclear_loss=None,neck.use_gm=False,head.num_joints=68')
    assert name == 'no-reg' and model.head.nuclear_loss is None and model.neck.use_gm is False
    assert cfg.model.neck.use_gm is True and cfg.model.head.nuclear_loss is not None        # the config untouched
    with pytest.raises(KeyError, match="model has no 'head.nuclear_los'"):
        bm.apply_variant(cfg.model, 'typo:head.nuclear_los=None')
    with pytest.raises(ValueError, match='expected key=value'):
        bm.apply_variant(cfg.model, 'bad:head.nuclear_loss')


def test_heads_declare_their_extra_measurements(repo_root):
    """The tool knows no head type: SRN and the low-rank head name their extras, and an unknown name is refused."""
    benchmark_tool = _benchmark_module(repo_root)
    from mmengine.config import ConfigDict
    from mmpose.registry import MODELS

    from mmfacealign.models import LowRankRegressionHead, SRNHead
    assert SRNHead.benchmark_extras(ConfigDict(head=dict(type='SRNHead'))) == ('patch_share', )
    low_rank = ConfigDict(head=dict(type='LowRankRegressionHead'))
    assert LowRankRegressionHead.benchmark_extras(low_rank) == ('nuclear_norm', )
    low_rank.head.low_rank = None
    assert LowRankRegressionHead.benchmark_extras(low_rank) == ()
    assert set(benchmark_tool.EXTRAS) == {'patch_share', 'nuclear_norm'}

    @MODELS.register_module(force=True)
    class _HeadAskingForTheUnknown(SRNHead):
        @staticmethod
        def benchmark_extras(model_cfg):
            return ('flops_per_joule', )
    row = dict(config='x')
    with pytest.raises(KeyError, match="_HeadAskingForTheUnknown.benchmark_extras asks for 'flops_per_joule'"):
        benchmark_tool.measure_extras(ConfigDict(head=dict(type='_HeadAskingForTheUnknown')), (64, 64), None, row)
    benchmark_tool.measure_extras(ConfigDict(head=dict(type='RegressionHead')), (64, 64), None, row)
    assert row == dict(config='x')                       # a head that declares nothing adds nothing


def test_training_batch_of_an_occlusion_output_config(repo_root):
    """benchmark_model's training batch for an OcclusionPredictHead config: the landmark head's joints and codec
    (its pose_cfg), and occlusion labels, so that the training step it times runs loss_occ too."""
    from mmengine.config import Config

    from mmfacealign.apis import init_model
    bench = _benchmark_module(repo_root)
    cfg = Config.fromfile(osp.join(repo_root, 'configs/baselines/td-reg-occ_res18-w32_1xb64-15e_synthface-128x128.py'))
    assert bench.num_joints_of(cfg.model) == 68
    model = init_model(cfg, device='cpu')
    batch = bench.training_batch(model, cfg.model, (128, 128), 2)
    assert batch['data_samples'][0].metainfo['keypoints_occluded'].shape == (1, 68)
    assert {'loss_kpt', 'loss_occ'} <= set(model(**batch, mode='loss'))
    # --reference-head measures it against the same model without the occlusion output (the cost rows)
    ref = bench.regression_reference(cfg.model)
    assert ref.head.type == 'RegressionHead' and ref.neck.type == 'GlobalAveragePooling'
    assert bench.reference_label(cfg.model) == 'without occlusion output'


REAL_CONFIG = 'configs/baselines/td-reg_res18-w32_1xb64-8e_synthface3d-real-128x128.py'
REAL_CKPT = 'checkpoints/td-reg_res18-w32_synthface3d-real-128x128.pth'


def test_tracking_benchmark_on_tiny_videos(repo_root, tmp_path):
    """tools/benchmarks/tracking.py writes its own short videos, then the reference, a smoothed tracker and the
    scene-cut rows, with NME per frame bin, jitter, lag and detections per frame, to json and markdown."""
    out, md = tmp_path / 'tracking.json', tmp_path / 'tracking.md'
    text = run(['tools/benchmarks/tracking.py', REAL_CONFIG, REAL_CKPT, '--data-root', str(tmp_path / 'videos'),
                '--videos', '2', '--frames', '30', '--bin', '15', '--rows', 'gt-boxes', 'track+redetect+smooth', 'cut',
                '--smooth', '1:20', '--interval', '4', '--out', str(out), '--markdown', str(md)], repo_root)
    rows = json.loads(out.read_text())['rows']
    assert [r['row'] for r in rows] == ['gt-boxes', 'track+redetect+smooth (1 Hz, beta 20)', 'cut']
    for r in rows:
        assert r['frames'] == 60 and 0 < r['nme'] < 100            # the cut row joins the two videos: 60 frames
        assert list(r['nme_bins']) == ['0-14', '15-29', '30-44', '45-59'][:4 if r['row'] == 'cut' else 2]
        assert r['lag_frames'] >= 0 and r['jitter'] > 0         # 30 frames hold a still segment: jitter defined
    assert rows[1]['settings'] == dict(redetect_interval=4, redetect_occluded=0.4,
                                       smoothing=dict(min_cutoff=1.0, beta=20.0))
    assert 0 < rows[1]['detections_per_frame'] <= 1 and 'nme_after_cut' in rows[2]
    assert '| gt-boxes |' in md.read_text() and '| cut |' in text


def test_end_to_end_onnx_benchmark(repo_root, tmp_path):
    pytest.importorskip('onnxruntime')
    out = tmp_path / 'e2e.json'
    run(['tools/benchmarks/end_to_end_onnx.py', REAL_CONFIG, REAL_CKPT, '--repeats', '1', '--out', str(out)],
        repo_root)
    data = json.loads(out.read_text())
    assert [(r['faces'], r['path']) for r in data['rows']][:3] == [
        (1, 'end-to-end graph'), (1, 'network graph + Python pipeline'), (1, 'PyTorch')]
    assert len(data['rows']) == 6 and all(r['latency_ms'] > 0 and r['max_px_vs_pytorch'] < 0.5 for r in data['rows'])
    assert {'machine', 'date', 'threads'} <= set(data['meta'])
