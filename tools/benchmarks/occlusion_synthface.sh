#!/usr/bin/env bash
# The occlusion output (OcclusionPredictHead) on SynthFace: train and test each family's -occ config under the
# SynthFace budget (15 epochs, CPU-sized), then print, per row, the landmark NME on the test splits and the
# occlusion prediction on the occluded and masked splits (recall at 80% precision, AP).
#   bash tools/benchmarks/occlusion_synthface.sh [ROW ...]     # default: all rows; about 12-25 min each on 2 cores
# Rows: baseline (configs/baselines/td-reg-occ_..., per-landmark features), baseline-pooled (the same with
# features='pooled', MMPose's VisPredictHead branch), scdf, ffld, odn, srn (configs/<family>/td-<family>-occ_...).
# The landmark NME without the output is the family's SynthFace row in its README (same data and budget).
# Work dirs: work_dirs/occlusion/<row>; the data is generated first if missing (tools/misc/generate_synthface.py).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$REPO"
VENV="$(bash tools/setup_env.sh | tail -n 1)"
PY="$VENV/bin/python"
DATA_ROOT="${DATA_ROOT:-data/synthface}"
"$PY" tools/misc/generate_synthface.py --out-dir "$DATA_ROOT"

declare -A CONFIGS=(
  [baseline]=configs/baselines/td-reg-occ_res18-w32_1xb64-15e_synthface-128x128.py
  [baseline-pooled]=configs/baselines/td-reg-occ_res18-w32_1xb64-15e_synthface-128x128.py
  [scdf]=configs/scdf/td-scdf-occ_res18-w32_1xb64-15e_synthface-128x128.py
  [ffld]=configs/ffld/td-ffld-occ_res18-w32_1xb64-15e_synthface-128x128.py
  [odn]=configs/odn/td-odn-occ_res18-w32_1xb64-15e_synthface-128x128.py
  [srn]=configs/srn/td-srn-occ_pcnn-s_1xb64-15e_synthface-128x128.py
)
declare -A OPTIONS=([baseline-pooled]="model.head.features=pooled")
ROWS=("$@")
[ ${#ROWS[@]} -gt 0 ] || ROWS=(baseline baseline-pooled scdf ffld odn srn)
DATA=(train_dataloader.dataset.data_root="$DATA_ROOT/" val_dataloader.dataset.data_root="$DATA_ROOT/")
for i in 0 1 2; do DATA+=("test_dataloader.dataset.datasets.$i.data_root=$DATA_ROOT/"); done

mkdir -p work_dirs/occlusion
for r in "${ROWS[@]}"; do
  [ -n "${CONFIGS[$r]+x}" ] || { echo "unknown row $r (known: ${!CONFIGS[*]})" >&2; exit 2; }
  work="work_dirs/occlusion/$r"
  cfg="${CONFIGS[$r]}"
  if [ -f "$work/metrics.json" ]; then echo "== $r: done ($work/metrics.json)"; continue; fi
  echo "== $r: training $cfg ${OPTIONS[$r]:-}"
  t0=$(date +%s)
  # shellcheck disable=SC2086
  "$PY" tools/train.py "$cfg" --work-dir "$work" --cfg-options "${DATA[@]}" ${OPTIONS[$r]:-} > "$work.train.log" 2>&1 \
    || { tail -n 30 "$work.train.log"; exit 1; }
  ckpt="$(ls -t "$work"/best_*.pth | head -n 1)"
  # shellcheck disable=SC2086
  "$PY" tools/test.py "$cfg" "$ckpt" --work-dir "$work/test" --out "$work/metrics.json" \
    --cfg-options "${DATA[@]}" ${OPTIONS[$r]:-} > "$work.test.log" 2>&1 || { tail -n 30 "$work.test.log"; exit 1; }
  echo "   $(( $(date +%s) - t0 )) s, checkpoint $ckpt"
  echo "$ckpt" > "$work/checkpoint.txt"
done

echo "== landmark NME % on SynthFace's test splits; occlusion prediction on the occluded / masked splits"
"$PY" - "${ROWS[@]}" <<'PY'
import json, os.path as osp, sys
print(f"{'row':<16} {'NME clean':>9} {'occluded':>9} {'masked':>9} | {'R@P80 occl.':>11} {'AP occl.':>9} "
      f"{'R@P80 mask.':>11} {'AP mask.':>9}")
for r in sys.argv[1:]:
    path = f'work_dirs/occlusion/{r}/metrics.json'
    if not osp.isfile(path):
        continue
    m = json.load(open(path))
    nme = ' '.join(f"{100 * m[s + '/NME']:9.2f}" for s in ('clean', 'occluded', 'masked'))
    occ = ' '.join(f"{100 * m.get(s + '/occ_recall@P80', float('nan')):11.1f} {100 * m.get(s + '/occ_AP', float('nan')):9.1f}"
                   for s in ('occluded', 'masked'))
    print(f'{r:<16} {nme} | {occ}')
PY
