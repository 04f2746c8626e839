#!/usr/bin/env bash
# One-shot GPU check of the five SynthFace model families (baseline, SCDF, FFLD, ODN, SRN), written for the lent
# H200 machine (a bare image with torch but no OpenMMLab packages, nothing downloadable) and runnable anywhere:
#   1. tools/analysis_tools/benchmark_model.py --device cuda over the five configs, ALONE and first (latency at batch
#      1, throughput at batch 32, training step and its peak memory at batch 32);
#   2. short training of every family (default 8 epochs = 256 iterations at batch 64, validation at the end), once in
#      fp32 and once with --amp (fp16 autocast + dynamic loss scale): losses, s/iter, data_time, peak memory, val NME;
#      the five families of one precision train CONCURRENTLY on the one GPU (timings are under that load).
#
#   OUT=/some/dir bash tools/benchmarks/gpu_check.sh
#
# Environment. Where .whl/ holds wheels (git-ignored; mmengine, mmcv-lite, mmpose, mmdet and their small pure-Python
# or numpy-2 dependencies, xtcocotools built here for cp312), they are installed into $SITE and mmcv-lite's
# mmcv/ops/__init__.py is replaced by tools/benchmarks/gpu_shim/mmcv_ops_stub.py (placeholders: mmpose and mmdet
# import compiled ops at import time; our models use none). SynthFace is generated into $DATA_ROOT from the carried
# shape model .whl/pdm/ (MMFA_CACHE), identical to the one made with network access.
# Knobs: PY (python3), SITE (/tmp/gpu_check/site), DATA_ROOT (/tmp/gpu_check/synthface), EPOCHS (8), WORKERS (3
# loader workers per run), SF_ARGS (extra generate_synthface.py arguments, e.g. a tiny dataset for a dry run),
# FAMILIES (default all five), BENCH_REPEATS (50), SKIP_BENCH=1, SKIP_TRAIN=1, TRAIN_TIMEOUT (s per run, 150),
# BENCH_TIMEOUT (s per config, 90).
set -uo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$REPO"
OUT="${OUT:-$REPO/work_dirs/gpu_check}"
PY="${PY:-python3}"
BASE=/tmp/gpu_check
SITE="${SITE:-$BASE/site}"
DATA_ROOT="${DATA_ROOT:-$BASE/synthface}"
EPOCHS="${EPOCHS:-8}"
WORKERS="${WORKERS:-3}"
LOGS="$BASE/logs"
WORK="$BASE/work"
mkdir -p "$OUT" "$LOGS" "$WORK"
export PYTHONUNBUFFERED=1 PYTHONWARNINGS=ignore
T0=$(date +%s)
stamp() { echo "[$(( $(date +%s) - T0 )) s] $*"; }
pack() { tar -C "$BASE" -czf "$OUT/logs.tar.gz" logs 2>/dev/null || true; }

declare -A CONFIGS=(
  [baseline]=configs/baselines/td-reg_res18-w32_1xb64-15e_synthface-128x128.py
  [scdf]=configs/scdf/td-scdf_res18-w32_1xb64-15e_synthface-128x128.py
  [ffld]=configs/ffld/td-ffld_res18-w32_1xb64-15e_synthface-128x128.py
  [odn]=configs/odn/td-odn_res18-w32_1xb64-15e_synthface-128x128.py
  [srn]=configs/srn/td-srn_pcnn-s_1xb64-15e_synthface-128x128.py
)
read -r -a FAMS <<< "${FAMILIES:-baseline scdf ffld odn srn}"

# ---------------------------------------------------------------------------------------------------- environment
stamp "environment"
# shellcheck source=tools/benchmarks/gpu_env.sh
source tools/benchmarks/gpu_env.sh
{
  nvidia-smi 2>&1 || echo "no nvidia-smi"
  "$PY" - <<'EOF_PY'
import platform, torch, numpy, cv2
import mmcv, mmengine, mmpose, mmdet
print('python', platform.python_version(), '| torch', torch.__version__, '| cuda', torch.version.cuda,
      '| cudnn', torch.backends.cudnn.version(), '| numpy', numpy.__version__, '| cv2', cv2.__version__)
print('mmcv', mmcv.__version__, '| mmengine', mmengine.__version__, '| mmpose', mmpose.__version__,
      '| mmdet', mmdet.__version__)
if torch.cuda.is_available():
    p = torch.cuda.get_device_properties(0)
    print('gpu', p.name, f'{p.total_memory / 2**30:.1f} GiB', f'sm_{p.major}{p.minor}', p.multi_processor_count, 'SMs')
import mmpose.models, mmfacealign  # noqa: the imports every run needs
print('imports ok')
EOF_PY
} 2>&1 | tee "$OUT/env.txt"
[ "${PIPESTATUS[0]}" = 0 ] || { echo "environment check failed"; exit 1; }
DEVICE=cpu; "$PY" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' && DEVICE=cuda

if [ -z "${SKIP_TRAIN:-}" ]; then
  stamp "SynthFace into $DATA_ROOT"
  # shellcheck disable=SC2086
  "$PY" tools/misc/generate_synthface.py --out-dir "$DATA_ROOT" --splits train val --workers "$(nproc)" \
    ${SF_ARGS:-} 2>&1 | tee "$LOGS/generate_synthface.log" | grep -v Warning
  [ -f "$DATA_ROOT/meta.json" ] || { echo "SynthFace generation failed"; exit 1; }
fi

# ----------------------------------------------------------------------------------------------- 1. benchmark_model
if [ -z "${SKIP_BENCH:-}" ]; then
  # one process a config, so that one failure loses no other row
  for f in "${FAMS[@]}"; do
    stamp "benchmark_model --device $DEVICE $f (alone)"
    timeout "${BENCH_TIMEOUT:-90}" "$PY" tools/analysis_tools/benchmark_model.py "${CONFIGS[$f]}" --device "$DEVICE" \
      --repeats "${BENCH_REPEATS:-50}" --throughput-batch 32 --train-batch 32 --train-memory \
      --out "$LOGS/benchmark_$f.json" 2>&1 | grep -v -i warn | tee "$LOGS/benchmark_$f.log"
  done
  "$PY" - "$OUT/benchmark_$DEVICE.json" "$LOGS" "${FAMS[@]}" <<'EOF_PY'
import json, os.path as osp, sys
rows = []
for fam in sys.argv[3:]:
    p = osp.join(sys.argv[2], f'benchmark_{fam}.json')
    rows += json.load(open(p))['rows'] if osp.isfile(p) else [dict(config=fam, failed=True)]
base = next((r['latency_ms'] for r in rows if 'latency_ms' in r), None)
for r in rows:
    if base and 'latency_ms' in r:
        r['latency_ratio'] = r['latency_ms'] / base
json.dump(rows, open(sys.argv[1], 'w'), indent=2)
EOF_PY
  pack
fi

# --------------------------------------------------------------------------------------------------- 2. training
OPTS=(train_dataloader.dataset.data_root="$DATA_ROOT/" val_dataloader.dataset.data_root="$DATA_ROOT/"
      train_dataloader.num_workers="$WORKERS" val_dataloader.num_workers="$WORKERS"
      train_cfg.max_epochs="$EPOCHS" train_cfg.val_interval="$EPOCHS" default_hooks.checkpoint.interval="$EPOCHS"
      randomness.seed=0)
PRECS=(fp32 amp); [ -n "${SKIP_TRAIN:-}" ] && PRECS=()
for prec in "${PRECS[@]}"; do
  stamp "training wave $prec (${FAMS[*]} concurrently, $EPOCHS epochs each)"
  flag=(); [ "$prec" = amp ] && flag=(--amp)
  pids=()
  for f in "${FAMS[@]}"; do
    ( s=$(date +%s%N)
      timeout "${TRAIN_TIMEOUT:-150}" "$PY" tools/train.py "${CONFIGS[$f]}" --work-dir "$WORK/${f}_$prec" "${flag[@]}" \
        --cfg-options "${OPTS[@]}" > "$LOGS/${f}_$prec.log" 2>&1
      rc=$?
      echo "{\"rc\": $rc, \"wall_s\": $(( ($(date +%s%N) - s) / 1000000 )).0e-3}" > "$LOGS/${f}_$prec.status.json"
      echo "  $f $prec: rc $rc" ) &
    pids+=($!)
  done
  wait "${pids[@]}"
  for f in "${FAMS[@]}"; do
    sj=$(ls "$WORK/${f}_$prec"/*/vis_data/scalars.json 2>/dev/null | tail -n 1)
    [ -n "$sj" ] && cp "$sj" "$LOGS/${f}_$prec.scalars.json"
    grep -E "Error|error:" "$LOGS/${f}_$prec.log" | grep -v Warning | tail -n 3
  done
  pack
done

# -------------------------------------------------------------------------------------------------------- summary
stamp "summary"
"$PY" - "$LOGS" "$OUT" "$DEVICE" "$EPOCHS" "${FAMS[@]}" <<'EOF_PY' 2>&1 | tee "$LOGS/summary.log"
import glob, json, os.path as osp, re, statistics, sys
logs, out, device, epochs, fams = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5:]
summary = dict(device=device, epochs=epochs, note='the five families of one precision trained concurrently on one '
               'device, so s/iter and data_time are under that shared load; benchmark_model ran alone', runs={})
rows = []
for fam in fams:
    for prec in ('fp32', 'amp'):
        run = dict(family=fam, precision=prec)
        st = osp.join(logs, f'{fam}_{prec}.status.json')
        if not osp.isfile(st):
            continue                                            # not run (SKIP_TRAIN)
        run.update(json.load(open(st)))
        sj = osp.join(logs, f'{fam}_{prec}.scalars.json')
        recs = [json.loads(l) for l in open(sj)] if osp.isfile(sj) else []
        train = [r for r in recs if 'loss' in r]
        val = [r for r in recs if 'NME' in r]
        if train:
            keys = [k for k in train[0] if k.startswith('loss')]
            run['loss_first'] = {k: train[0][k] for k in keys}
            run['loss_last'] = {k: train[-1].get(k) for k in keys}
            run['iters'] = train[-1].get('iter', train[-1].get('step'))
            steady = train[1:] or train
            run['s_per_iter'] = statistics.median(r['time'] for r in steady)
            run['data_time_s'] = statistics.median(r['data_time'] for r in steady)
            mem = [r['memory'] for r in train if 'memory' in r]
            if mem:
                run['peak_memory_MiB'] = max(mem)
        if val:
            run['val'] = {k: v for k, v in val[-1].items() if k not in ('data_time', 'time', 'step')}
            run['val_NME'] = val[-1]['NME']
        log = osp.join(logs, f'{fam}_{prec}.log')
        if run.get('rc', 0) != 0 and osp.isfile(log):
            tail = [l.rstrip() for l in open(log, errors='replace') if l.strip()][-6:]
            run['error_tail'] = tail
        summary['runs'][f'{fam}_{prec}'] = run
        rows.append(run)
bench = osp.join(out, f'benchmark_{device}.json')
if osp.isfile(bench):
    bench_json = json.load(open(bench))   # {setting, matmul_gflop_s, targets, rows} (a plain list before)
    summary['benchmark_model'] = bench_json['rows'] if isinstance(bench_json, dict) else bench_json
env = osp.join(out, 'env.txt')
if osp.isfile(env):
    summary['env'] = [l.rstrip() for l in open(env) if re.match(r'(python|mmcv|gpu|\|.*Driver)', l)]
json.dump(summary, open(osp.join(out, 'summary.json'), 'w'), indent=2)

def fmt_loss(d):
    return ', '.join(f'{k} {v:.4g}' for k, v in d.items() if v is not None) if d else '-'
lines = [f'# GPU check ({device}), {epochs} epochs per run', '', summary['note'], '']
lines += ['| family | precision | rc | iters | loss first -> last | s/iter | data_time (s) | peak mem (MiB) | '
          'val NME | wall (s) |', '|---|---|---|---|---|---|---|---|---|---|']
for r in rows:
    losses = f"{fmt_loss(r.get('loss_first'))} -> {fmt_loss(r.get('loss_last'))}" if 'loss_first' in r else '-'
    f = lambda k, p: (p % r[k]) if k in r else '-'
    lines.append(f"| {r['family']} | {r['precision']} | {r.get('rc', '-')} | {r.get('iters', '-')} | {losses} | "
                 f"{f('s_per_iter', '%.4f')} | {f('data_time_s', '%.4f')} | {f('peak_memory_MiB', '%.0f')} | "
                 f"{f('val_NME', '%.4f')} | {f('wall_s', '%.0f')} |")
if 'benchmark_model' in summary:
    lines += ['', f'benchmark_model.py --device {device} (alone):', '',
              '| config | params (M) | GFLOPs | latency b1 (ms) | throughput b32 (img/s) | train step b32 (ms) | '
              'train peak mem (MB) |', '|---|---|---|---|---|---|---|']
    for b in summary['benchmark_model']:
        if b.get('failed'):
            lines.append(f"| {b['config']} | failed (see logs.tar.gz) | | | | | |")
            continue
        lines.append(f"| {b['config']} | {b['params_M']:.3f} | {b['gflops']:.3f} | {b['latency_ms']:.2f} | "
                     f"{b['throughput_img_s']:.0f} | {b['train_step_ms']:.1f} | "
                     f"{b.get('train_peak_mb', float('nan')):.0f} |")
open(osp.join(out, 'summary.md'), 'w').write('\n'.join(lines) + '\n')
print('\n'.join(lines))
EOF_PY
pack
stamp "done"
