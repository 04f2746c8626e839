# Copyright (c) mmfacealign contributors. All rights reserved.
"""Benchmark models: parameters, FLOPs, CPU latency (batch 1), throughput (batch 32), training-step time and,
optionally, the peak memory of a training step.

    python tools/analysis_tools/benchmark_model.py CONFIG [CONFIG ...] [--reference-head]
        [--device cpu] [--threads 2] [--repeats 20] [--train-batch 32] [--train-memory] [--relative-to 0]
        [--out results.json]

CONFIG is a path or an MMPose config name such as
``mmpose::face_2d_keypoint/topdown_heatmap/wflw/td-hm_hrnetv2-w18_8xb64-60e_wflw-256x256.py`` (regression,
heatmap and SimCC heads are measured alike, each at its own input size).

With ``--reference-head`` every config is also measured with its head swapped for MMPose's
``RegressionHead`` (global average pooling + one FC layer, Soft Wing loss) on the same backbone and input, and the
table shows the head's overhead over that reference: the targets of mmfacealign's methods are stated against it
(e.g. SCDF: at most +15% training step, +10% inference latency). For FFLD's ``CropNetHead`` the reference is the
same network without its refinement stages (its coarse GAP + FC regressor alone), FFLD's baseline.

``--variant NAME:key=value,...`` also measures each config with those model keys changed (e.g. ODN without its
regularisers); its overhead column says what the config adds to the variant (there: the regularisers' cost). For
ODN's low-rank head the time of the nuclear norm's SVD on M is printed as a share of the training step.

``--relative-to I`` adds the latency of every row divided by that of row ``I`` (0-based, reference rows
included), so speed ratios come from one run on one machine. ``--train-memory`` runs one more training step of
every model in a fresh subprocess and reports its peak resident memory (RSS; on CUDA the peak allocated memory)
and how much the step added to the process after the model and the batch were built.

Timings are medians over ``--repeats`` runs after warm-up, on random inputs of the config's input size, in
``mode='tensor'`` (backbone, neck and head; no data loading, no decoding) for inference and ``mode='loss'``
plus backward and an optimiser step for training. FLOPs come from ``mmengine.analysis.get_model_complexity_info``
(one multiply-add counted as one FLOP, as mmengine and MMPose report).
"""
import argparse
import copy
import json
import os.path as osp
import statistics
import subprocess
import sys
import time

import torch

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

import mmfacealign  # noqa: E402,F401


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('configs', nargs='+')
    p.add_argument('--reference-head', action='store_true',
                   help="also measure each model with MMPose's RegressionHead on the same backbone")
    p.add_argument('--device', default='cpu')
    p.add_argument('--threads', type=int, default=None, help='torch CPU threads (default: torch default)')
    p.add_argument('--repeats', type=int, default=20)
    p.add_argument('--throughput-batch', type=int, default=32)
    p.add_argument('--train-batch', type=int, default=32)
    p.add_argument('--train-memory', action='store_true',
                   help='peak memory of a training step at --train-batch, measured in a fresh subprocess')
    p.add_argument('--relative-to', type=int, default=None,
                   help='add each latency divided by the latency of this row (0-based)')
    p.add_argument('--variant', action='append', default=[],
                   help="also measure each config changed as NAME:key=value,... (keys under model, e.g. "
                        "'no-reg:head.nuclear_loss=None,head.frobenius_loss=None,head.map_loss=None')")
    p.add_argument('--memory-child', help=argparse.SUPPRESS)     # internal: one training step, print memory
    p.add_argument('--out', help='write the results to this json file')
    return p.parse_args(argv)


def resolve_config(path: str) -> str:
    """A config path, or ``package::relative/path.py`` inside an installed OpenMMLab package's configs (as
    ``_base_`` accepts it; ``Config.fromfile`` does not)."""
    if '::' not in path:
        return path
    import importlib
    package, rel = path.split('::', 1)
    root = osp.dirname(importlib.import_module(package).__file__)
    for candidate in (osp.join(root, '.mim', 'configs', rel), osp.join(root, 'configs', rel)):
        if osp.isfile(candidate):
            return candidate
    raise FileNotFoundError(f'{path}: no such config in the installed {package} ({root})')


def input_size_of(cfg):
    """(w, h) of the model input, from the head's decoder (codec)."""
    decoder = cfg.model.head.get('decoder')
    if decoder is None or 'input_size' not in decoder:
        raise KeyError('model.head.decoder.input_size is needed to know the input size')
    return tuple(decoder['input_size'])


def regression_reference(model_cfg):
    """The same model with MMPose's RegressionHead (GAP neck + FC, Soft Wing) in place of its head; for
    FFLD's CropNetHead, the same head without refinement stages (its GAP + FC coarse regressor)."""
    ref = copy.deepcopy(model_cfg)
    head = model_cfg.head
    if head.get('type') == 'CropNetHead':
        ref.head.stages = []
        ref.head.stage_losses = []
        return ref
    if model_cfg.backbone.get('type') == 'TruncatedResNet':
        # ODN: the plain ResNet (its last residual unit back) + GAP + RegressionHead, the baseline it modifies
        ref.backbone = {k: v for k, v in model_cfg.backbone.items() if k != 'num_removed_blocks'}
        ref.backbone['type'] = 'ResNet'
        width = ref.backbone.get('base_channels', 64) * 8            # last stage of ResNet-18/34 (BasicBlock)
        ref.neck = dict(type='GlobalAveragePooling')
        ref.head = dict(type='RegressionHead', in_channels=width, num_joints=head.num_joints,
                        loss=dict(type='SoftWingLoss', use_target_weight=True), decoder=head.get('decoder'))
        return ref
    num_joints = head.get('num_joints')
    in_channels = head.get('in_channels')
    if num_joints is None or in_channels is None:
        raise KeyError('--reference-head needs model.head.num_joints and model.head.in_channels')
    ref.neck = dict(type='GlobalAveragePooling')
    ref.head = dict(type='RegressionHead', in_channels=in_channels, num_joints=num_joints,
                    loss=dict(type='SoftWingLoss', use_target_weight=True), decoder=head.get('decoder'))
    return ref


def median_time(fn, repeats: int, warmup: int = 3) -> float:
    # CUDA kernels run asynchronously: without a synchronisation each run would time the kernel launches only
    sync = torch.cuda.synchronize if torch.cuda.is_available() and torch.cuda.is_initialized() else (lambda: None)
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        sync()
        t = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def num_joints_of(model_cfg) -> int:
    head = model_cfg.head
    k = head.get('num_joints', head.get('out_channels', head.get('num_keypoints')))
    if k is None:
        raise KeyError('model.head.num_joints (or out_channels) is needed to build a training batch')
    return int(k)


def training_batch(model, model_cfg, input_size, batch_size: int) -> dict:
    """A preprocessed random batch with the targets the head's codec needs (regression, heatmap or SimCC)."""
    from mmpose.testing import get_packed_inputs
    w, h = input_size
    decoder = dict(model_cfg.head.get('decoder') or {})
    heatmap_size = tuple(decoder.get('heatmap_size', (w // 4, h // 4)))
    packed = get_packed_inputs(batch_size=batch_size, num_keypoints=num_joints_of(model_cfg), img_shape=(h, w),
                               input_size=(w, h), heatmap_size=heatmap_size,
                               simcc_split_ratio=decoder.get('simcc_split_ratio', 2.0),
                               with_heatmap='heatmap_size' in decoder, with_simcc_label='SimCC' in
                               str(decoder.get('type', '')))
    return model.data_preprocessor(packed, training=True)


def train_step_fn(model, data):
    # learning rate 0: the same work as a real SGD step (momentum buffers, update), but the weights stay put, so
    # repeated steps on one random batch cannot diverge (FFLD's pixel-space L2 losses would with lr 1e-4)
    optim = torch.optim.SGD(model.parameters(), lr=0., momentum=0.9)

    def step():
        losses = model(**data, mode='loss')
        loss = sum(v for k, v in losses.items() if 'loss' in k)
        optim.zero_grad()
        loss.backward()
        optim.step()
    return step


def _status_mb(field: str) -> float:
    """A memory field of /proc/self/status (Linux), in MB: ``VmRSS`` now, ``VmHWM`` the peak."""
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(field + ':'):
                return int(line.split()[1]) / 1024                    # kB
    raise RuntimeError(f'no {field} in /proc/self/status')


def _reset_peak_rss() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0), so the peak that follows is the step's own; False where the
    kernel or sandbox does not allow it (the peak is then the process's since it started, which includes model
    building). (``getrusage``'s ``ru_maxrss`` is no use here: Linux keeps it across ``execve``, so a subprocess
    would report its parent's peak.)"""
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
        return True
    except OSError:
        return False


def ready(model):
    """Give a cascade head that starts from a mean shape (SRN) one, as MeanShapeHook would before training: the
    timings do not depend on where the shape is, only that it is set."""
    head = getattr(model, 'head', None)
    if hasattr(head, 'set_mean_shape') and not bool(head.mean_shape_ready):
        k = head.mean_shape.shape[0]
        angle = torch.linspace(0, 2 * torch.pi, k + 1)[:k]
        head.set_mean_shape(torch.stack([0.5 + 0.3 * angle.cos(), 0.5 + 0.3 * angle.sin()], dim=1))
    return model


def srn_patch_share(model_cfg, input_size, args, batch: int = 32) -> dict:
    """SRN: the patch extraction (one ``crop_patches`` call per cascade iteration) as a share of the forward pass
    at ``batch``, both timed as medians on the same input."""
    from mmpose.registry import MODELS

    from mmfacealign.models.utils.patch_sampling import crop_patches, normalised_to_map
    torch.manual_seed(0)
    model = ready(MODELS.build(copy.deepcopy(model_cfg))).to(args.device).eval()
    w, h = input_size
    x = torch.randn(batch, 3, h, w, device=args.device)
    head = model.head
    centres = normalised_to_map(head.mean_shape.expand(batch, -1, -1), (h, w))

    def forward():
        with torch.no_grad():
            model._forward(x)

    def crops():
        with torch.no_grad():
            for _ in range(head.num_iterations):
                crop_patches(x, centres, head.patch_size)
    fwd = median_time(forward, max(3, args.repeats // 4))
    crop = median_time(crops, max(3, args.repeats // 4))
    return dict(patch_ms=crop * 1e3, forward_b32_ms=fwd * 1e3, patch_share_pct=100 * crop / fwd)


def memory_child(model_cfg, input_size, args) -> dict:
    """One warm-up-free training step in this (fresh) process: peak memory, and what the step added to it."""
    from mmpose.registry import MODELS
    torch.manual_seed(0)
    model = ready(MODELS.build(copy.deepcopy(model_cfg))).to(args.device)
    model.train()
    data = training_batch(model, model_cfg, input_size, args.train_batch)
    step = train_step_fn(model, data)
    step_only = True
    if args.device.startswith('cuda'):
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated() / 2 ** 20
        step()
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated() / 2 ** 20
    else:
        before = _status_mb('VmRSS')
        step_only = _reset_peak_rss()
        step()
        peak = _status_mb('VmHWM')
    return dict(train_peak_mb=peak, train_step_added_mb=peak - before, train_peak_of_step_only=step_only)


def measure_memory(path: str, reference: bool, args) -> dict:
    """Run :func:`memory_child` for one config in a fresh subprocess (peak RSS is per process)."""
    cmd = [sys.executable, osp.abspath(__file__), path, '--memory-child', 'reference' if reference else 'model',
           '--device', args.device, '--train-batch', str(args.train_batch)]
    if args.threads:
        cmd += ['--threads', str(args.threads)]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f'memory measurement of {path} failed:\n{out.stderr[-2000:]}')
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure(model_cfg, input_size, args) -> dict:
    from mmengine.analysis import get_model_complexity_info
    from mmpose.registry import MODELS

    torch.manual_seed(0)
    model = ready(MODELS.build(copy.deepcopy(model_cfg))).to(args.device)
    w, h = input_size
    params = sum(p.numel() for p in model.parameters())

    model.eval()

    class TensorMode(torch.nn.Module):
        """The estimator's tensor-mode forward (backbone, neck, head), as MMPose's get_flops.py counts it."""

        def __init__(self, estimator):
            super().__init__()
            self.estimator = estimator

        def forward(self, x):
            return self.estimator._forward(x)

    complexity = get_model_complexity_info(TensorMode(model), input_shape=(3, h, w), show_table=False,
                                           show_arch=False)
    flops = complexity['flops']

    def infer(batch):
        x = torch.randn(batch, 3, h, w, device=args.device)

        def run():
            with torch.no_grad():
                model._forward(x)   # mode='tensor': backbone, neck, head
        return run

    latency = median_time(infer(1), args.repeats)
    tput_time = median_time(infer(args.throughput_batch), max(3, args.repeats // 4))

    model.train()
    step = train_step_fn(model, training_batch(model, model_cfg, input_size, args.train_batch))
    train_time = median_time(step, max(3, args.repeats // 4))
    return dict(params_M=params / 1e6, gflops=flops / 1e9, latency_ms=latency * 1e3,
                throughput_img_s=args.throughput_batch / tput_time, train_step_ms=train_time * 1e3,
                train_batch=args.train_batch)


def has_reference(model_cfg) -> bool:
    head = model_cfg.head
    return (head.get('type') == 'CropNetHead' or model_cfg.backbone.get('type') == 'TruncatedResNet'
            or ('num_joints' in head and 'in_channels' in head))


def reference_label(model_cfg) -> str:
    if model_cfg.head.get('type') == 'CropNetHead':
        return 'no refinement reference'
    if model_cfg.backbone.get('type') == 'TruncatedResNet':
        return 'plain ResNet + RegressionHead reference'
    return 'RegressionHead reference'


def apply_variant(model_cfg, spec: str):
    """``NAME:key=value,key=value`` (keys relative to ``model``, values Python literals) -> (NAME, model config)."""
    import ast
    name, _, assignments = spec.partition(':')
    cfg = copy.deepcopy(model_cfg)
    for item in filter(None, assignments.split(',')):
        key, sep, value = item.partition('=')
        if not sep:
            raise ValueError(f'--variant {spec!r}: expected key=value, got {item!r}')
        *parents, leaf = key.strip().split('.')
        node = cfg
        for part in parents:
            if part not in node:
                raise KeyError(f'--variant {spec!r}: model has no {key.strip()!r}')
            node = node[part]
        if leaf not in node:
            raise KeyError(f'--variant {spec!r}: model has no {key.strip()!r}')
        try:
            node[leaf] = ast.literal_eval(value.strip())
        except (ValueError, SyntaxError):
            node[leaf] = value.strip()
    return name, cfg


def low_rank_svd_ms(model_cfg, args) -> float:
    """Median time of ``nuclear_norm`` forward + backward on M of the config's size (d x d)."""
    from mmfacealign.models.losses import nuclear_norm
    d = model_cfg.head.in_features
    m = torch.eye(d, device=args.device) + 0.01 * torch.randn(d, d, device=args.device)
    m.requires_grad_(True)

    def run():
        m.grad = None
        nuclear_norm(m).backward()
    return median_time(run, max(3, args.repeats // 2)) * 1e3


def main(argv=None):
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    from mmengine.config import Config
    from mmpose.utils import register_all_modules
    register_all_modules(init_default_scope=True)

    if args.memory_child:
        cfg = Config.fromfile(resolve_config(args.configs[0]))
        model_cfg = regression_reference(cfg.model) if args.memory_child == 'reference' else cfg.model
        print(json.dumps(memory_child(model_cfg, input_size_of(cfg), args)))
        return

    rows = []
    for path in args.configs:
        path = resolve_config(path)
        cfg = Config.fromfile(path)
        size = input_size_of(cfg)
        name = osp.splitext(osp.basename(path))[0]
        for spec in args.variant:                     # a bad --variant fails before anything is measured
            apply_variant(cfg.model, spec)
        res = measure(cfg.model, size, args)
        res.update(config=name, input=f'{size[0]}x{size[1]}')
        if args.train_memory:
            res.update(measure_memory(path, False, args))
        if args.reference_head and not has_reference(cfg.model):
            print(f'{name}: no reference head for a {cfg.model.head.type} (it needs num_joints and in_channels)')
        elif args.reference_head:
            ref = measure(regression_reference(cfg.model), size, args)
            ref.update(config=f'{name} [{reference_label(cfg.model)}]', input=f'{size[0]}x{size[1]}')
            if args.train_memory:
                ref.update(measure_memory(path, True, args))
            res['train_step_overhead_pct'] = 100 * (res['train_step_ms'] / ref['train_step_ms'] - 1)
            res['latency_overhead_pct'] = 100 * (res['latency_ms'] / ref['latency_ms'] - 1)
            rows.append(ref)
            print(f"measured {ref['config']}: latency {ref['latency_ms']:.1f} ms", flush=True)
        if cfg.model.head.get('type') == 'SRNHead':
            res.update(srn_patch_share(cfg.model, size, args))
            print(f"{name}: patch extraction {res['patch_ms']:.1f} ms = {res['patch_share_pct']:.1f}% of the "
                  f"forward pass at batch 32 ({res['forward_b32_ms']:.0f} ms)", flush=True)
        if cfg.model.head.get('type') == 'LowRankRegressionHead' and cfg.model.head.get('low_rank', True):
            res['svd_ms'] = low_rank_svd_ms(cfg.model, args)
            res['svd_share_pct'] = 100 * res['svd_ms'] / res['train_step_ms']
            print(f"{name}: nuclear norm of M ({cfg.model.head.in_features}^2, SVD + subgradient) {res['svd_ms']:.1f} "
                  f"ms = {res['svd_share_pct']:.1f}% of the training step", flush=True)
        rows.append(res)
        print(f"measured {res['config']}: latency {res['latency_ms']:.1f} ms", flush=True)
        for spec in args.variant:
            vname, vcfg = apply_variant(cfg.model, spec)
            var = measure(vcfg, size, args)
            var.update(config=f'{name} [{vname}]', input=f'{size[0]}x{size[1]}')
            # what the config adds to its variant (e.g. the regularisers' cost when the variant drops them)
            var['config_adds_train_pct'] = 100 * (res['train_step_ms'] / var['train_step_ms'] - 1)
            var['config_adds_latency_pct'] = 100 * (res['latency_ms'] / var['latency_ms'] - 1)
            if vcfg.head.get('type') == 'SRNHead':
                var.update(srn_patch_share(vcfg, size, args))
                print(f"{var['config']}: patch extraction {var['patch_share_pct']:.1f}% of the forward pass at "
                      'batch 32', flush=True)
            rows.append(var)
            print(f"measured {var['config']}: train step {var['train_step_ms']:.0f} ms", flush=True)
    if args.relative_to is not None:
        base = rows[args.relative_to]['latency_ms']
        for r in rows:
            r['latency_ratio'] = r['latency_ms'] / base

    print(f'device {args.device}, {torch.get_num_threads()} threads, torch {torch.__version__}; '
          f'median of {args.repeats} runs; throughput batch {args.throughput_batch}, train batch {args.train_batch}')
    columns = ['config', 'input', 'params (M)', 'GFLOPs', 'latency b1 (ms)',
               f'throughput b{args.throughput_batch} (img/s)', f'train step b{args.train_batch} (ms)',
               'step / latency overhead vs reference']
    if args.train_memory:
        columns += ['train step peak memory (MB)', 'added by the step (MB)']
    if args.relative_to is not None:
        columns += [f'latency / row {args.relative_to}']
    print('| ' + ' | '.join(columns) + ' |')
    print('|' + '---|' * len(columns))
    for r in rows:
        over = ''
        if 'train_step_overhead_pct' in r:
            over = f"{r['train_step_overhead_pct']:+.1f}% / {r['latency_overhead_pct']:+.1f}%"
        elif 'config_adds_train_pct' in r:
            over = (f"the config adds {r['config_adds_train_pct']:+.1f}% / {r['config_adds_latency_pct']:+.1f}% "
                    'to this variant')
        cells = [r['config'], r['input'], f"{r['params_M']:.3f}", f"{r['gflops']:.3f}", f"{r['latency_ms']:.1f}",
                 f"{r['throughput_img_s']:.1f}", f"{r['train_step_ms']:.0f}", over]
        if args.train_memory:
            mark = '' if r.get('train_peak_of_step_only', True) else ' (process peak: reset not allowed)'
            cells += [f"{r['train_peak_mb']:.0f}{mark}", f"{r['train_step_added_mb']:.0f}"]
        if args.relative_to is not None:
            cells += [f"{r['latency_ratio']:.2f}"]
        print('| ' + ' | '.join(cells) + ' |')
    if args.out:
        with open(args.out, 'w', encoding='utf-8') as f:
            json.dump(rows, f, indent=2)


if __name__ == '__main__':
    main()
