#!/usr/bin/env bash
# Does the SynthFace data pipeline keep up with each family's training step? Train each SynthFace config for a
# few dozen iterations (the config's batch 64, its train pipeline, 2 persistent DataLoader workers) and report,
# from mmengine's per-iteration timers (IterTimerHook: `data_time` = time spent waiting for the next batch,
# `time` = the whole iteration), the share of training time spent waiting on data, as a markdown table.
#   bash tools/benchmarks/data_wait.sh [FAMILY ...]      # default: baselines scdf ffld odn srn
# Environment: ITERS (measured iterations, default 25; ITERS + WARMUP batches of 64 must fit the train split),
# WARMUP (first iterations left out: worker start-up and
# the first prefetch, default 5), WORKERS (default 2), THREADS (torch threads of the training process, default:
# OMP_NUM_THREADS or the core count), DATA_ROOT (default data/synthface, generated if missing), WORK (default
# work_dirs/data_wait). On a machine with few cores the workers compete with the training step for the CPU, so
# the share measures that machine, not the pipeline alone.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$REPO"
VENV="${VENV:-$(bash tools/setup_env.sh | tail -n 1)}"
PY="$VENV/bin/python"
ITERS="${ITERS:-25}"
WARMUP="${WARMUP:-5}"
WORKERS="${WORKERS:-2}"
THREADS="${THREADS:-${OMP_NUM_THREADS:-$(nproc)}}"
DATA_ROOT="${DATA_ROOT:-data/synthface}"
WORK="${WORK:-work_dirs/data_wait}"
[ -f "$DATA_ROOT/annotations/synthface_train.json" ] || "$PY" tools/misc/generate_synthface.py --out-dir "$DATA_ROOT"

# family = the config's folder: configs/<family>/td-*_synthface-128x128.py (one SynthFace config per family)
declare -A CONFIGS=()
for cfg in configs/*/td-*_synthface-128x128.py; do CONFIGS[$(basename "$(dirname "$cfg")")]="$cfg"; done
FAMILIES=("$@")
[ ${#FAMILIES[@]} -gt 0 ] || FAMILIES=(baselines scdf ffld odn srn)
TOTAL=$((ITERS + WARMUP))
FAILED=()   # a family whose training stops is reported as such; the others are still measured
# one epoch of exactly TOTAL batches of 64 (no epoch boundary inside the measurement), every iteration logged with
# its own timings (log window 1), no validation, no checkpoint
OPTS=(train_dataloader.dataset.data_root="$DATA_ROOT/" train_dataloader.dataset.indices=$((TOTAL * 64))
      train_dataloader.batch_size=64 train_dataloader.num_workers="$WORKERS" train_dataloader.persistent_workers=True
      train_cfg.max_epochs=1 default_hooks.logger.interval=1 log_processor.window_size=1
      default_hooks.checkpoint.interval=1000 default_hooks.checkpoint.save_last=False randomness.seed=0)

for f in "${FAMILIES[@]}"; do
  [ -n "${CONFIGS[$f]+x}" ] || { echo "unknown family $f (known: ${!CONFIGS[*]})" >&2; exit 2; }
  rm -rf "${WORK:?}/$f"
  mkdir -p "$WORK"
  echo "== $f: $TOTAL iterations, $WORKERS workers, $THREADS threads" >&2
  OMP_NUM_THREADS="$THREADS" "$PY" tools/train.py "${CONFIGS[$f]}" --work-dir "$WORK/$f" --no-validate \
    --cfg-options "${OPTS[@]}" > "$WORK/$f.log" 2>&1 || { FAILED+=("$f"); tail -n 3 "$WORK/$f.log" >&2; }
done

FAILED="${FAILED[*]}" "$PY" - "$WORK" "$WARMUP" "$WORKERS" "$THREADS" "${FAMILIES[@]}" <<'PY'
import glob, json, os, os.path as osp, platform, sys
import torch
work, warmup, workers, threads, families = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5:]
cpu = platform.machine()
if osp.exists('/proc/cpuinfo'):
    with open('/proc/cpuinfo') as fh:
        cpu = next((line.split(':', 1)[1].strip() for line in fh if line.startswith('model name')), cpu)
print(f'{cpu}, {os.cpu_count()} cores; {threads} training threads, {workers} DataLoader workers, batch 64, '
      f'torch {torch.__version__}; the first {warmup} iterations left out\n')
print('| family | iterations | s / iteration | data wait s / iteration | data-wait share |')
print('|---|---|---|---|---|')
failed = os.environ.get('FAILED', '').split()
for f in families:
    paths = sorted(glob.glob(osp.join(work, f, '*', 'vis_data', 'scalars.json')))
    rows = []
    if paths:
        with open(paths[-1]) as fh:
            rows = [json.loads(line) for line in fh if '"data_time"' in line]
    if f in failed:
        print(f'| {f} | training stopped with an error after {len(rows)} iterations ({work}/{f}.log) | | | |')
        continue
    rows = rows[warmup:]
    if not rows:
        sys.exit(f'{work}/{f}: no iteration logged after the first {warmup}')
    t, d = sum(r['time'] for r in rows), sum(r['data_time'] for r in rows)
    print(f'| {f} | {len(rows)} | {t / len(rows):.3f} | {d / len(rows):.3f} | {100 * d / t:.1f}% |')
PY
