# Copyright (c) mmfacealign contributors. All rights reserved.
"""Ablation of SynthFace's rendering features: what each brings on SynthFace and on real photographs.

    python tools/benchmarks/synthface_ablation.py [--variants all flat shading ...] [--num-train 2000]
        [--epochs 15] [--warmup-iters 100] [--test-root data/synthface3d]
        [--out-dir docs/benchmarks/synthface_ablation]
    python tools/benchmarks/synthface_ablation.py --render        # the table from the saved results only

For each variant (``all``: the '3d' style with every feature; ``flat``: the original renderer; any other name: the
'3d' style with that feature of ``renderer3d.RenderFeatures`` switched off) it

1. generates a SynthFace train/val set of ``--num-train`` faces with those settings (``data/ablation/<variant>``,
   reused when present) and records the generation speed;
2. trains the real-photo config (``configs/baselines/td-reg_res18-w32_1xb64-8e_synthface3d-real-128x128.py``:
   its model, augmentation and box jitter) on it for ``--epochs`` epochs, through ``tools/train.py``. The default
   budget is the quick-start's (2000 faces, 15 epochs, a 100-iteration warm-up, learning rate x 0.2 after 2/3
   and 13/15 of the epochs: about 8 minutes of training on 2 cores), so a row says what the quick-start would
   reach with that data; the real-photo config's own warm-up (200 iterations) would take most of such a run;
3. tests the last checkpoint on the *same* test splits for every variant (``--test-root``, the default '3d' style
   data; clean / occluded / masked) through ``tools/test.py``;
4. runs ``tools/analysis_tools/real_photo_check.py`` on it: NME on the real photos against the dlib peer (a
   PROXY) and against the hand-placed points where the photos have them, from detector and landmark boxes.

Each variant writes ``<out-dir>/<variant>.json`` (settings, metrics, proxy figures, times, git commit, machine);
variants whose json exists are skipped, so the script resumes after an interruption and runs in parts. The
summary ``<out-dir>/README.md`` is rewritten after every variant.
"""
import argparse
import json
import os
import os.path as osp
import platform
import subprocess
import sys
import time

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, REPO)
CONFIG = 'configs/baselines/td-reg_res18-w32_1xb64-8e_synthface3d-real-128x128.py'
DEFAULT_VARIANTS = ('all', 'flat', 'silhouette_contour', 'shading', 'skin_texture', 'hair', 'photo_background',
                    'camera_effects')


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--variants', nargs='+', default=list(DEFAULT_VARIANTS))
    p.add_argument('--num-train', type=int, default=2000)
    p.add_argument('--epochs', type=int, default=15)
    p.add_argument('--warmup-iters', type=int, default=100, help='linear warm-up (param_scheduler.0.end)')
    p.add_argument('--seed', type=int, default=0, help='training seed (randomness.seed)')
    p.add_argument('--test-root', default='data/synthface3d', help='the common test splits (3d style, default)')
    p.add_argument('--out-dir', default='docs/benchmarks/synthface_ablation')
    p.add_argument('--data-dir', default='data/ablation')
    p.add_argument('--work-dir', default='work_dirs/ablation')
    p.add_argument('--render', action='store_true', help='only rewrite the summary from the saved jsons')
    return p.parse_args(argv)


def run(cmd, log):
    with open(log, 'w') as f:
        proc = subprocess.run(cmd, cwd=REPO, stdout=f, stderr=subprocess.STDOUT)
    if proc.returncode:
        raise RuntimeError(f'{" ".join(cmd)} failed (exit {proc.returncode}); see {log}')


def variant_config(name, num_train, seed=0):
    from mmfacealign.datasets.synthface import SynthFaceConfig
    from mmfacealign.datasets.synthface.renderer3d import RenderFeatures
    if name == 'flat':
        return SynthFaceConfig(num_train=num_train, splits=('train', 'val'), seed=seed)
    if name != 'all' and name not in RenderFeatures.names():
        raise SystemExit(f'unknown variant {name!r}: all, flat or one of {", ".join(RenderFeatures.names())}')
    return SynthFaceConfig(num_train=num_train, splits=('train', 'val'), seed=seed, style='3d',
                           features={} if name == 'all' else {name: False})


def git_commit():
    try:
        return subprocess.check_output(['git', 'rev-parse', 'HEAD'], cwd=REPO, text=True).strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def run_variant(args, name):
    from dataclasses import asdict

    from mmfacealign.datasets.synthface import write_synthface
    py = sys.executable
    data = osp.join(args.data_dir, name)
    work = osp.join(args.work_dir, name)
    os.makedirs(work, exist_ok=True)
    cfg = variant_config(name, args.num_train)
    t = time.time()
    meta = write_synthface(data, cfg, workers=1, log=lambda *a: None)
    gen_s = time.time() - t
    faces_per_s = None if gen_s < 1 else (args.num_train + cfg.num_val) / gen_s    # None: reused, not measured
    root, test_root = data.rstrip('/') + '/', args.test_root.rstrip('/') + '/'
    last = args.epochs
    opts = [f'train_dataloader.dataset.data_root={root}', f'val_dataloader.dataset.data_root={root}',
            f'train_cfg.max_epochs={last}', f'train_cfg.val_interval={last}',
            f'param_scheduler.0.end={args.warmup_iters}', f'param_scheduler.1.end={last}',
            f'param_scheduler.1.milestones=[{round(last * 2 / 3)},{round(last * 13 / 15)}]',
            f'default_hooks.checkpoint.interval={last}', f'randomness.seed={args.seed}',
            *[f'test_dataloader.dataset.datasets.{i}.data_root={test_root}' for i in range(3)]]
    t = time.time()
    run([py, 'tools/train.py', CONFIG, '--work-dir', work, '--cfg-options', *opts], osp.join(work, 'train.log'))
    train_s = time.time() - t
    ckpt = osp.join(work, f'epoch_{last}.pth')
    run([py, 'tools/test.py', CONFIG, ckpt, '--work-dir', osp.join(work, 'test'), '--out',
         osp.join(work, 'metrics.json'), '--cfg-options', *opts], osp.join(work, 'test.log'))
    with open(osp.join(work, 'metrics.json')) as f:
        metrics = json.load(f)
    run([py, 'tools/analysis_tools/real_photo_check.py', CONFIG, ckpt, '--out-dir', osp.join(work, 'real'),
         '--offline', '--no-draw'], osp.join(work, 'real.log'))
    with open(osp.join(work, 'real', 'real_photo_check.json')) as f:
        real = json.load(f)
    return dict(variant=name, synthface=asdict(cfg), shape_model=meta.get('shape_model_source'),
                generation_faces_per_s_1_worker=faces_per_s, train_s=round(train_s, 1), epochs=last,
                num_train=args.num_train, warmup_iters=args.warmup_iters, seed=args.seed,
                test_root=args.test_root, config=CONFIG,
                metrics={k: v for k, v in metrics.items() if k.split('/')[0] in ('clean', 'occluded', 'masked')},
                real_photo_means=real['means'], git_commit=git_commit(),
                machine=f'{platform.machine()}, {os.cpu_count()} CPUs, {platform.python_version()}')


def real_columns(results):
    keys = set()
    for r in results:
        keys |= {k for k in r['real_photo_means'] if not k.startswith('agree:')}
    return sorted(k for k in keys if k.startswith(('det', 'lmk')))


def render(args):
    results = []
    for name in os.listdir(args.out_dir) if osp.isdir(args.out_dir) else []:
        if name.endswith('.json'):
            with open(osp.join(args.out_dir, name)) as f:
                results.append(json.load(f))
    order = {v: i for i, v in enumerate(DEFAULT_VARIANTS)}
    results.sort(key=lambda r: order.get(r['variant'], 99))
    cols = real_columns(results)
    lines = ['# SynthFace rendering ablation', '',
             'Written by `python tools/benchmarks/synthface_ablation.py` (see its docstring). Each row trains the '
             'real-photo config on a SynthFace train split rendered with one feature off (`all`: every feature; '
             '`flat`: the original renderer) and tests it on the same data: SynthFace 3d test splits '
             '(inter-ocular NME %) and the real photos of `real_photo_check.py` (NME as a fraction of the '
             'inter-ocular distance, mean over faces; `dlib` columns are a PROXY against a peer predictor, `gt` '
             'columns against hand-placed points). `det`: from the default detector\'s box, `lmk`: from the box '
             'of the reference landmarks. One seed per row: differences of a few tenths are within noise.', '']
    if results:
        r0 = results[0]
        lines.append(f'Budget: {r0["num_train"]} training faces, {r0["epochs"]} epochs, '
                     f'{r0.get("warmup_iters", 200)} warm-up iterations, seed {r0["seed"]}, {r0["machine"]}.')
        lines.append('')
    head = ['variant', 'clean', 'occluded', 'masked', *cols, 'gen faces/s (1 core)', 'train s']
    lines += ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
    for r in results:
        m = r['metrics']
        cells = [r['variant']] + [f'{100 * m[f"{s}/NME"]:.2f}' if f'{s}/NME' in m else '-'
                                  for s in ('clean', 'occluded', 'masked')]
        for c in cols:
            v = r['real_photo_means'].get(c, {}).get('nme')
            cells.append('-' if v is None else f'{v:.3f}')
        g = r.get('generation_faces_per_s_1_worker')
        cells += ['-' if g is None else f'{g:.0f}', f'{r["train_s"]:.0f}']
        lines.append('| ' + ' | '.join(cells) + ' |')
    os.makedirs(args.out_dir, exist_ok=True)
    with open(osp.join(args.out_dir, 'README.md'), 'w') as f:
        f.write('\n'.join(lines) + '\n')
    print('\n'.join(lines))


def main(argv=None):
    from mmfacealign.utils.io import dump_json_atomic
    args = parse_args(argv)
    if not args.render:
        os.makedirs(args.out_dir, exist_ok=True)
        todo = [v for v in args.variants if not osp.isfile(osp.join(args.out_dir, f'{v}.json'))]
        t0 = time.time()
        for i, name in enumerate(todo):
            left = '' if i == 0 else f', about {(time.time() - t0) / i * (len(todo) - i) / 60:.0f} min left'
            print(f'[{i + 1}/{len(todo)}] {name}{left}', flush=True)
            result = run_variant(args, name)
            dump_json_atomic(result, osp.join(args.out_dir, f'{name}.json'), indent=1)
            render(args)
    render(args)


if __name__ == '__main__':
    main()
