#!/usr/bin/env bash
# ODN's Table 4 on SynthFace: train and test each variant of configs/odn/td-odn_res18-w32_1xb64-15e_synthface-128x128.py
# under the same budget (15 epochs, CPU-sized), then print NME clean / occluded / masked per variant.
#   bash tools/benchmarks/odn_synthface_ablation.sh [VARIANT ...]     # default: all seven; about 13 min each on 2 cores
# Variants: brnet gm-dm dm-lm gm-lm all-no-l1 all (as configs/odn/ablation/, on SynthFace) and baseline (the SynthFace
# regression baseline, configs/baselines/td-reg_res18-w32_1xb64-15e_synthface-128x128.py, same budget). Work dirs:
# work_dirs/odn_ablation/<variant>; the data is generated first if missing (tools/misc/generate_synthface.py).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$REPO"
VENV="$(bash tools/setup_env.sh | tail -n 1)"
PY="$VENV/bin/python"
CONFIG=configs/odn/td-odn_res18-w32_1xb64-15e_synthface-128x128.py
DATA_ROOT="${DATA_ROOT:-data/synthface}"
"$PY" tools/misc/generate_synthface.py --out-dir "$DATA_ROOT"

declare -A OPTIONS=(
  [brnet]="model.neck.use_gm=False model.neck.use_dm=False model.head.low_rank=None"
  [gm-dm]="model.head.low_rank=None"
  [dm-lm]="model.neck.use_gm=False"
  [gm-lm]="model.neck.use_dm=False"
  [all-no-l1]="model.head.map_loss=None"
  [all]=""
  [baseline]=""
)
VARIANTS=("$@")
[ ${#VARIANTS[@]} -gt 0 ] || VARIANTS=(baseline brnet gm-dm dm-lm gm-lm all-no-l1 all)
DATA=(train_dataloader.dataset.data_root="$DATA_ROOT/" val_dataloader.dataset.data_root="$DATA_ROOT/")
for i in 0 1 2; do DATA+=("test_dataloader.dataset.datasets.$i.data_root=$DATA_ROOT/"); done

mkdir -p work_dirs/odn_ablation
for v in "${VARIANTS[@]}"; do
  [ -n "${OPTIONS[$v]+x}" ] || { echo "unknown variant $v (known: ${!OPTIONS[*]})" >&2; exit 2; }
  work="work_dirs/odn_ablation/$v"
  cfg="$CONFIG"
  [ "$v" != baseline ] || cfg=configs/baselines/td-reg_res18-w32_1xb64-15e_synthface-128x128.py
  echo "== $v: training (${OPTIONS[$v]:-the full model})"
  t0=$(date +%s)
  # shellcheck disable=SC2086
  "$PY" tools/train.py "$cfg" --work-dir "$work" --cfg-options "${DATA[@]}" ${OPTIONS[$v]} > "$work.train.log" 2>&1 \
    || { tail -n 30 "$work.train.log"; exit 1; }
  ckpt="$(ls -t "$work"/best_*.pth | head -n 1)"
  # shellcheck disable=SC2086
  "$PY" tools/test.py "$cfg" "$ckpt" --work-dir "$work/test" --out "$work/metrics.json" \
    --cfg-options "${DATA[@]}" ${OPTIONS[$v]} > "$work.test.log" 2>&1 || { tail -n 30 "$work.test.log"; exit 1; }
  echo "   $(( $(date +%s) - t0 )) s, checkpoint $ckpt"
  echo "$ckpt" > "$work/checkpoint.txt"
done

echo "== inter-ocular NME % (FR@0.1 %) on SynthFace's test splits"
"$PY" - "${VARIANTS[@]}" <<'PY'
import json, sys
print(f"{'variant':<11} {'clean':>13} {'occluded':>13} {'masked':>13} {'occl. landmarks':>16}")
for v in sys.argv[1:]:
    m = json.load(open(f'work_dirs/odn_ablation/{v}/metrics.json'))
    cells = [f"{100 * m[s + '/NME']:6.2f} ({100 * m[s + '/FR@0.1']:4.1f})" for s in ('clean', 'occluded', 'masked')]
    print(f"{v:<11} {' '.join(f'{c:>13}' for c in cells)} {100 * m['NME_occluded']:16.2f}")
# what the regularisers did to M (variants with the low-rank module): ||M - I||_F, effective rank, singular values
import os.path as osp
import torch
from mmfacealign.models.losses import low_rank_summary
rows = []
for v in sys.argv[1:]:
    path = f'work_dirs/odn_ablation/{v}/checkpoint.txt'
    if not osp.isfile(path):
        continue
    state = torch.load(open(path).read().strip(), map_location='cpu', weights_only=False)['state_dict']
    if 'head.low_rank.weight' in state:
        rows.append((v, low_rank_summary(state['head.low_rank.weight'])))
if rows:
    print('== the low-rank matrix M (d x d) at the end of training')
    print(f"{'variant':<11} {'||M||_*':>9} {'||M||_F^2':>10} {'||M-I||_F':>10} {'/sqrt(d)':>9} {'eff. rank':>10} "
          f"{'sigma max':>10} {'sigma min':>10}")
    for v, r in rows:
        print(f"{v:<11} {r['nuclear']:9.1f} {r['frobenius_sq']:10.1f} {r['dist_identity']:10.3f} "
              f"{r['rel_dist_identity']:9.4f} {r['effective_rank']:10.1f} {r['sigma_max']:10.3f} {r['sigma_min']:10.3f}")
PY
