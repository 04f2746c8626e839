#!/usr/bin/env bash
# SRN's Table 9 on SynthFace video on one GPU (written for the lent H200: a bare image, wheels carried in .whl/, see
# tools/benchmarks/gpu_check.sh): fine-tune the image-trained SRN (PRETRAINED) without occlusion augmentation, with
# RSF and with HOFS, CONCURRENTLY on the one GPU, for EPOCHS epochs of the SynthFace-video configs (the Q-only
# warm-up and the epsilon decay scale with the budget: 10 and 30 iterations per epoch), each validated at the end
# on the test videos (state carried within 8-frame clips); plus the pre-trained model tested as it is.
#   OUT=dir PRETRAINED=work_dirs/srn_synthface/best_NME_epoch_15.pth EPOCHS=4 bash projects/srn_video/tools/table9_gpu.sh
# Writes $OUT/table9_gpu.json (every run's final metrics and s/iter) and $OUT/logs.tar.gz.
set -uo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
cd "$REPO"
OUT="${OUT:-$REPO/work_dirs/table9_gpu}"
PY="${PY:-python3}"
export PYTHONPATH="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)${PYTHONPATH:+:$PYTHONPATH}"   # the srn_video package
BASE=/tmp/table9_gpu
SITE="${SITE:-$BASE/site}"
DATA_ROOT="${DATA_ROOT:-$BASE/synthface_video}"
EPOCHS="${EPOCHS:-4}"
PRETRAINED="${PRETRAINED:-work_dirs/srn_synthface/best_NME_epoch_15.pth}"
mkdir -p "$OUT" "$BASE/logs"
export PYTHONUNBUFFERED=1 PYTHONWARNINGS=ignore
T0=$(date +%s)
stamp() { echo "[$(( $(date +%s) - T0 )) s] $*"; }
# shellcheck source=tools/benchmarks/gpu_env.sh
source tools/benchmarks/gpu_env.sh
"$PY" -c 'import torch; print("cuda", torch.cuda.is_available(), torch.__version__)'
stamp "SynthFace video into $DATA_ROOT"
"$PY" tools/misc/generate_synthface.py --video --out-dir "$DATA_ROOT" --workers "$(nproc)" ${SF_ARGS:-} \
  > "$BASE/logs/generate.log" 2>&1 || { tail "$BASE/logs/generate.log"; exit 1; }

CFG=projects/srn_video/configs/srn-video_pcnn-s_%s_synthface-video-128x128.py
OPTS=(load_from="$PRETRAINED" "train_cfg.max_epochs=$EPOCHS" "train_cfg.val_interval=$EPOCHS"
      "default_hooks.checkpoint.interval=$EPOCHS" "default_hooks.logger.interval=5")
for loader in train_dataloader val_dataloader test_dataloader; do
  OPTS+=("$loader.dataset.dataset.data_root=$DATA_ROOT/" "$loader.num_workers=${WORKERS:-4}")
done
stamp "training no-occlusion / rsf / hofs concurrently, $EPOCHS epochs"
for v in no-occlusion rsf hofs pretrained; do
  extra=()
  [ "$v" != hofs ] || extra=("model.q_only_iters=$((EPOCHS * 10))"
                             "model.occlusion_synthesis.epsilon.steps=$((EPOCHS * 30))")
  # shellcheck disable=SC2059
  cfg="$(printf "$CFG" "${v/pretrained/no-occlusion}")"
  if [ "$v" = pretrained ]; then
    cmd=(tools/test.py "$cfg" "$PRETRAINED" --work-dir "$BASE/work/$v" --out "$BASE/work/$v/metrics.json")
  else
    cmd=(tools/train.py "$cfg" --work-dir "$BASE/work/$v")
  fi
  timeout "${TRAIN_TIMEOUT:-150}" "$PY" "${cmd[@]}" --cfg-options "${OPTS[@]}" "${extra[@]}" \
    > "$BASE/logs/$v.log" 2>&1 &
done
wait
stamp "done"
tar -C "$BASE" -czf "$OUT/logs.tar.gz" logs 2>/dev/null || true
"$PY" - "$BASE" "$OUT/table9_gpu.json" <<'PY'
import glob, json, os.path as osp, re, sys
base, out = sys.argv[1:]
rows = {}
for v in ('pretrained', 'no-occlusion', 'rsf', 'hofs'):
    row = {}
    if v == 'pretrained':
        path = f'{base}/work/{v}/metrics.json'
        row.update(json.load(open(path)) if osp.isfile(path) else {})
    else:
        for f in sorted(glob.glob(f'{base}/work/{v}/*/vis_data/scalars.json')):
            lines = [json.loads(line) for line in open(f)]
            train = [x for x in lines if 'loss' in x or 'srn_nme' in x]
            val = [x for x in lines if 'NME' in x]
            if val:
                row.update(val[-1])
            if train:
                row['first'], row['last'] = train[0], train[-1]
                row['s_per_iter'] = sum(x['time'] for x in train[1:]) / max(len(train) - 1, 1)
    log = open(f'{base}/logs/{v}.log').read() if osp.isfile(f'{base}/logs/{v}.log') else ''
    row['error'] = (re.findall(r'\w+Error: .*', log) or [None])[-1]
    rows[v] = row
json.dump(rows, open(out, 'w'), indent=1)
for v, r in rows.items():
    cells = ' '.join(f"{k}={100 * r[k]:.2f}" for k in ('NME', 'category1/NME', 'category2/NME', 'category3/NME',
                                                      'occluded/NME', 'jitter') if k in r)
    print(v, cells, f"s/iter={r.get('s_per_iter', 0):.3f}", r['error'] or '')
PY
