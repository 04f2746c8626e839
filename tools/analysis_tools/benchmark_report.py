# Copyright (c) mmfacealign contributors. All rights reserved.
"""The reporting half of ``benchmark_model.py``: the markdown table, the PASS / FAIL target checks, the
accuracy-vs-latency chart and the results json, from measured rows (``benchmark_model.py`` measures;
``benchmark_model.py --render results.json`` re-renders a saved run through these functions without measuring).

Each row is a dict as ``benchmark_model.measure`` returns it (``config``, ``params_M``, ``gflops``, ``latency_ms``,
...); ``args`` carries the flags of the run (``--speedup-target``, ``--latency-ratio-target``, ``--markdown``,
``--chart``, ``--out``, ...).
"""
import json

import torch


def report(rows, rate, rates, load, setting, args) -> None:
    """Print the table and the target checks; write ``--markdown``, ``--chart`` and ``--out``."""
    lines = [setting, ''] + table_lines(rows, args)
    checks = target_checks(rows, args, rate)
    if checks:
        lines += ['', 'Targets:', ''] + [f'- {c}' for c in checks]
    print('\n'.join(lines))
    if args.markdown:
        with open(args.markdown, 'w', encoding='utf-8') as f:
            f.write('\n'.join(lines) + '\n')
    if args.chart:
        draw_chart(rows, args)
        print(f'chart: {args.chart}')
    if args.out:
        with open(args.out, 'w', encoding='utf-8') as f:
            json.dump(dict(setting=setting, matmul_gflop_s=rate, matmul_rates=rates, load_average=load,
                           targets=checks, rows=rows), f, indent=2)


def _timed(r, key, spread_key, runs):
    """``value ±spread%`` (the spread of the rounds; none with a single round)."""
    spread = r.get(spread_key)
    return f'{r[key]:.1f} ±{spread:.0f}%' if spread is not None and runs > 1 else f'{r[key]:.1f}'


def table_lines(rows, args) -> list:
    overhead = any('train_step_overhead_pct' in r or 'config_adds_train_pct' in r for r in rows)
    columns = ['config', 'input', 'params (M)', 'GFLOPs (multiply-adds)', 'latency b1 (ms)',
               f'throughput b{args.throughput_batch} (img/s)', f'train step b{args.train_batch} (ms)']
    if overhead:
        columns += ['step / latency overhead vs reference']
    if args.onnx:
        columns += ['ORT latency b1 (ms)', f'ORT throughput b{args.throughput_batch} (img/s)', 'ORT / eager b1',
                    'max abs ONNX - PyTorch (/ max abs output)']
    if args.matmul_rate:
        columns += [f'b{args.throughput_batch} share of matmul rate (eager' + (' / ORT)' if args.onnx else ')')]
    if args.train_memory:
        columns += ['train step peak memory (MB)', 'added by the step (MB)']
    if args.relative_to is not None:
        columns += [f'latency / row {args.relative_to}']
    if any('accuracy' in r for r in rows):
        columns += [f'SynthFace {args.accuracy_key} (%)']
    columns += ['ops not counted in FLOPs']
    lines = ['| ' + ' | '.join(columns) + ' |', '|' + '---|' * len(columns)]
    for r in rows:
        over = ''
        if 'train_step_overhead_pct' in r:
            over = f"{r['train_step_overhead_pct']:+.1f}% / {r['latency_overhead_pct']:+.1f}%"
            if 'train_ratio_interleaved' in r:                 # the two timed alternately: load hits both alike
                over += (f"; alternated {100 * (r['train_ratio_interleaved'] - 1):+.1f}% / "
                         f"{100 * (r['latency_ratio_interleaved'] - 1):+.1f}%")
        elif 'config_adds_train_pct' in r:
            over = (f"the config adds {r['config_adds_train_pct']:+.1f}% / {r['config_adds_latency_pct']:+.1f}% "
                    'to this variant')
        n = args.runs
        cells = [r['config'], r['input'], f"{r['params_M']:.3f}", f"{r['gflops']:.3f}",
                 _timed(r, 'latency_ms', 'latency_spread_pct', n),
                 _timed(r, 'throughput_img_s', 'throughput_spread_pct', n),
                 _timed(r, 'train_step_ms', 'train_step_spread_pct', n)] + ([over] if overhead else [])
        if args.onnx and 'onnx_error' in r:
            cells += ['export failed: ' + r['onnx_error'][:120], '-', '-', '-']
        elif args.onnx:
            cells += [_timed(r, 'ort_latency_ms', 'ort_latency_spread_pct', n),
                      _timed(r, 'ort_throughput_img_s', 'ort_throughput_spread_pct', n),
                      f"{r['ort_latency_ms'] / r['latency_ms']:.2f}",
                      f"{r['onnx_max_abs_diff']:.1e} ({r['onnx_max_abs_diff'] / r['onnx_output_scale']:.0e})"]
        if args.matmul_rate:
            share = f"{r['matmul_share_pct']:.0f}%"
            cells += [share + (f" / {r['ort_matmul_share_pct']:.0f}%" if args.onnx else '')]
        if args.train_memory:
            mark = '' if r.get('train_peak_of_step_only', True) else ' (process peak: reset not allowed)'
            cells += [f"{r['train_peak_mb']:.0f}{mark}", f"{r['train_step_added_mb']:.0f}"]
        if args.relative_to is not None:
            cells += [f"{r['latency_ratio']:.2f}"]
        if any('accuracy' in x for x in rows):
            cells += [f"{r['accuracy']:.2f}" if 'accuracy' in r else '-']
        cells += [', '.join(f'{op.replace("aten::", "")} x{n}' for op, n in sorted(r['uncounted_ops'].items()))
                  or 'none']
        lines.append('| ' + ' | '.join(cells) + ' |')
    return lines


def _row(rows, name):
    found = [r for r in rows if r['config'] == name]
    if not found:
        raise KeyError(f'target check: no row {name!r} (rows: {", ".join(r["config"] for r in rows)})')
    return found[0]


def target_checks(rows, args, rate) -> list:
    """The issue's targets, each line 'PASS' or 'FAIL' with the measured figures (ratios from this one run)."""
    checks = []
    for spec in args.speedup_target:
        pair, sep, bound = spec.partition('>=')
        a, sep2, b = pair.partition('/')
        if not (sep and sep2):
            raise ValueError(f'--speedup-target {spec!r}: expected A/B>=X')
        ra, rb = _row(rows, a.strip()), _row(rows, b.strip())
        ratio = rb['latency_ms'] / ra['latency_ms']           # batch-1 throughput = 1 / latency
        checks.append(f"{'PASS' if ratio >= float(bound) else 'FAIL'}: {a.strip()} has {ratio:.1f}x the batch-1 "
                      f'throughput of {b.strip()} (target >= {float(bound):g}x)')
    for spec in getattr(args, 'latency_ratio_target', []):
        name, sep, bound = spec.partition('<=')
        if not sep:
            raise ValueError(f'--latency-ratio-target {spec!r}: expected A<=X')
        r = _row(rows, name.strip())
        if 'latency_overhead_pct' not in r:
            raise ValueError(f'--latency-ratio-target {spec!r}: row {name.strip()!r} has no reference row '
                             '(run with --reference-head)')
        rows_ratio = 1 + r['latency_overhead_pct'] / 100
        ratio = r.get('latency_ratio_interleaved', rows_ratio)       # alternated timing, when measured
        how = (f"timed alternately, quartiles {r['latency_ratio_q25']:.2f}-{r['latency_ratio_q75']:.2f}; rows "
               f"{rows_ratio:.2f}x; " if 'latency_ratio_interleaved' in r else '')
        checks.append(f"{'PASS' if ratio <= float(bound) else 'FAIL'}: {name.strip()} has {ratio:.2f}x the batch-1 "
                      f"latency of its reference (target <= {float(bound):g}x; {how}FLOPs ratio "
                      f"{r['gflops'] / r['reference_gflops']:.2f}x)")
    for r in rows:
        if 'onnx_error' in r:
            checks.append(f"FAIL: {r['config']}: no ONNX export ({r['onnx_error']})")
        if 'ort_latency_ms' in r:
            ok = r['ort_latency_ms'] <= r['latency_ms']
            checks.append(f"{'PASS' if ok else 'FAIL'}: {r['config']}: onnxruntime batch-1 latency "
                          f"{r['ort_latency_ms']:.1f} ms vs eager {r['latency_ms']:.1f} ms (target: no worse)")
            ok = r['onnx_max_abs_diff'] <= 1e-4 * max(1., r['onnx_output_scale'])
            rel = r['onnx_max_abs_diff'] / r['onnx_output_scale']
            checks.append(f"{'PASS' if ok else 'FAIL'}: {r['config']}: ONNX outputs within "
                          f"{r['onnx_max_abs_diff']:.1e} of PyTorch, {rel:.0e} of the largest output "
                          f"{r['onnx_output_scale']:.2g} (target 1e-4"
                          + (' x max |output|)' if r['onnx_output_scale'] > 1 else ')'))
        if rate is not None:
            shares = {'eager': r['matmul_share_pct']}
            if 'ort_matmul_share_pct' in r:
                shares['onnxruntime'] = r['ort_matmul_share_pct']
            # a share above 100% cannot be a share of the machine's rate: that backend does fewer multiply-adds
            # than counted (e.g. Winograd convolutions) or the roof was under-measured; it is not counted
            valid = [v for v in shares.values() if v <= 100]
            if not valid:
                verdict = 'INVALID ROOF'
            else:
                verdict = 'PASS' if max(valid) >= args.matmul_share_target else 'FAIL'
            above = [k for k, v in shares.items() if v > 100]
            checks.append(f"{verdict}: {r['config']}: batch-{args.throughput_batch} inference at "
                          + ', '.join(f'{v:.0f}% ({k})' for k, v in shares.items())
                          + f' of the fp32 matmul roof ({rate:.0f} GFLOP/s; target >= '
                          f'{args.matmul_share_target:g}% with the faster backend'
                          + (f"; {', '.join(above)} above 100%, not counted)" if above else ')'))
    return checks


def draw_chart(rows, args) -> None:
    """Accuracy (``--accuracy-key``, %) against batch-1 latency, one point per row with an accuracy; rows
    without one are latency marks on the x axis (red: other packages' configs, ``mmpose::...``; grey: ours, e.g.
    at the papers' input sizes, which have no SynthFace-trained model)."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(8, 5))
    with_acc = [r for r in rows if 'accuracy' in r]
    for r in with_acc:
        ax.scatter(r['latency_ms'], r['accuracy'], s=40)
        ax.annotate(f"{r['config']} ({r['input']})", (r['latency_ms'], r['accuracy']), fontsize=7,
                    xytext=(4, 4), textcoords='offset points')
    lo = min([r['accuracy'] for r in with_acc], default=0.)
    for r in rows:
        if 'accuracy' not in r:
            ax.axvline(r['latency_ms'], color='tab:red' if r.get('external') else 'grey', linestyle=':',
                       linewidth=0.8)
            ax.annotate(f"{r['config']} ({r['input']}, latency only)", (r['latency_ms'], lo), rotation=90,
                        fontsize=6, color='grey', va='bottom', ha='right')
    ax.set_xscale('log')
    ax.set_xlabel(f'batch-1 latency, PyTorch eager (ms, log scale; {args.device}, {torch.get_num_threads()} threads)')
    ax.set_ylabel(f'SynthFace {args.accuracy_key} (%, lower is better)')
    ax.set_title('Accuracy vs latency')
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(args.chart, dpi=120)
    plt.close(fig)
