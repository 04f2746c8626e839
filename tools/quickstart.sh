#!/usr/bin/env bash
# The main job, from a fresh clone: set up the environment if needed, generate SynthFace if absent, train the
# baseline on CPU, evaluate it on the clean, occluded and masked test splits, and draw its predictions.
#
#   bash tools/quickstart.sh [CONFIG]        (default: the ResNet-18 regression baseline)
#
# Environment knobs: WORK_DIR (default work_dirs/quickstart/<config name>), DATA_ROOT (default data/synthface),
# QUICKSTART_EPOCHS (override train_cfg.max_epochs, e.g. 2 for a smoke run).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
CONFIG="${1:-configs/baselines/td-reg_res18-w32_1xb64-15e_synthface-128x128.py}"
NAME="$(basename "$CONFIG" .py)"
WORK_DIR="${WORK_DIR:-work_dirs/quickstart/$NAME}"
DATA_ROOT="${DATA_ROOT:-data/synthface}"
t0=$(date +%s)

VENV="$(bash tools/setup_env.sh | tail -n 1)"
PY="$VENV/bin/python"
echo "== environment: $VENV"

echo "== 1/4 SynthFace in $DATA_ROOT"
"$PY" tools/misc/generate_synthface.py --out-dir "$DATA_ROOT"

echo "== 2/4 training $CONFIG (work dir $WORK_DIR)"
EXTRA=(train_dataloader.dataset.data_root="$DATA_ROOT/" val_dataloader.dataset.data_root="$DATA_ROOT/")
for i in 0 1 2; do EXTRA+=("test_dataloader.dataset.datasets.$i.data_root=$DATA_ROOT/"); done
if [ -n "${QUICKSTART_EPOCHS:-}" ]; then
  EXTRA+=(train_cfg.max_epochs="$QUICKSTART_EPOCHS" train_cfg.val_interval="$QUICKSTART_EPOCHS"
          default_hooks.checkpoint.interval="$QUICKSTART_EPOCHS")
fi
t_train=$(date +%s)
"$PY" tools/train.py "$CONFIG" --work-dir "$WORK_DIR" --cfg-options "${EXTRA[@]}"
train_s=$(( $(date +%s) - t_train ))
CKPT="$(ls -t "$WORK_DIR"/best_*.pth 2>/dev/null | head -n 1 || true)"
[ -n "$CKPT" ] || CKPT="$(ls -t "$WORK_DIR"/epoch_*.pth | head -n 1)"
echo "checkpoint: $CKPT"

echo "== 3/4 evaluation on test (clean), test_occluded and test_masked"
"$PY" tools/test.py "$CONFIG" "$CKPT" --work-dir "$WORK_DIR/test" --out "$WORK_DIR/metrics.json" \
  --cfg-options "${EXTRA[@]}" > "$WORK_DIR/test.log" 2>&1 || { tail -n 40 "$WORK_DIR/test.log"; exit 1; }

echo "== 4/4 drawing predictions"
"$PY" tools/analysis_tools/vis_predictions.py "$CONFIG" "$CKPT" --out "$WORK_DIR/predictions_test.png" \
  --num 16 --ann-file annotations/synthface_test.json
"$PY" tools/analysis_tools/vis_predictions.py "$CONFIG" "$CKPT" --out "$WORK_DIR/predictions_test_occluded.png" \
  --num 16 --ann-file annotations/synthface_test_occluded.json

"$PY" - "$WORK_DIR" "$train_s" "$(( $(date +%s) - t0 ))" "$DATA_ROOT" <<'EOF_PY'
import json, os.path as osp, sys
from mmfacealign.evaluation.functional import mean_shape_nme
work, train_s, total_s, root = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
print('\n== summary (inter-ocular NME and FR in %, AUC@0.1 as a fraction)')
with open(osp.join(work, 'metrics.json')) as f:
    m = json.load(f)
print(f'{"subset":<12}{"NME %":>8}{"FR@0.1 %":>10}{"AUC@0.1":>9}')
for subset in ('clean', 'occluded', 'masked', 'full'):
    print(f'{subset:<12}{100 * m[subset + "/NME"]:>8.2f}{100 * m[subset + "/FR@0.1"]:>10.2f}'
          f'{m[subset + "/AUC@0.1"]:>9.4f}')
ann = lambda split: osp.join(root, 'annotations', f'synthface_{split}.json')
ref = {subset: mean_shape_nme(ann('train'), ann(split))
       for subset, split in (('clean', 'test'), ('occluded', 'test_occluded'), ('masked', 'test_masked'))}
print('mean-shape reference (the training mean shape placed in each box; a model must beat it): '
      + ', '.join(f'{k} {100 * v:.2f}' for k, v in ref.items()))
print(f'training {train_s} s, whole job {total_s} s')
print(f'predictions: {osp.join(work, "predictions_test.png")}, {osp.join(work, "predictions_test_occluded.png")}')
EOF_PY
