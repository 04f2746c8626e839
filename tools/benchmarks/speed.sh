#!/usr/bin/env bash
# The speed / cost benchmark of record: regenerates the table and chart in README.md ("Speed and cost") and each
# method's rows in configs/<method>/README.md, from one run of tools/analysis_tools/benchmark_model.py on this
# machine (ratios and targets are only meaningful within one run: keep the machine otherwise idle).
#
#   bash tools/benchmarks/speed.sh                 # CPU; CUDA rows too when a GPU is present
#
# Rows: every family at its paper's input size (SCDF static 300W and dynamic WFLW, FFLD ResNet18-25% 3 stages,
# ODN, SRN), every SynthFace config (128x128, with its SynthFace occluded NME), and MMPose's own WFLW face models
# (HRNetV2-W18 heatmap, ResNet-50 Soft Wing regression, RTMPose-m). Each row: parameters, FLOPs (and the ops
# mmengine does not count), eager and onnxruntime latency at batch 1 and throughput at batch 32 (3 rounds,
# median and spread), the share of the fp32 matmul rate, ONNX vs PyTorch difference, training step and its peak
# memory at batch 32. Targets are checked and printed (PASS / FAIL), not enforced.
#
# Accuracy: the SynthFace occluded NME of config NAME is read from work_dirs/quickstart/NAME/metrics.json (what
# `bash tools/quickstart.sh CONFIG` writes); a checkpoint there without metrics is evaluated first. With
# SPEED_TRAIN=1 a missing model is trained by tools/quickstart.sh (about 10-15 min per config on 2 cores);
# otherwise it is charted without accuracy.
# Knobs: THREADS (default: all cores), RUNS (3), REPEATS (10), BATCH (32; smaller for a smoke run), OUT_DIR (docs),
# SPEED_TRAIN, SKIP_CUDA=1, RENDER_ONLY=1 (re-render the table, checks, chart and READMEs from the last json).
# About 20 minutes on 2 CPU cores.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$REPO"
VENV="$(bash tools/setup_env.sh | tail -n 1)"
PY="$VENV/bin/python"
OUT_DIR="${OUT_DIR:-docs}"
THREADS="${THREADS:-$(nproc)}"
mkdir -p "$OUT_DIR/images"

PAPER=(
  configs/scdf/td-scdf_res34_1xb64-500e_300w-256x256.py
  configs/scdf/td-scdf-dyn_res34_1xb64-500e_wflw-256x256.py
  configs/ffld/td-ffld_res18-25_1xb64-400e_300w-224x224.py
  configs/odn/td-odn_res18_1xb64-210e_300w-224x224.py
  configs/srn/td-srn_pcnn_1xb64-100k_300w-224x224.py
)
SYNTH=(
  configs/baselines/td-reg_res18-w32_1xb64-15e_synthface-128x128.py
  configs/scdf/td-scdf_res18-w32_1xb64-15e_synthface-128x128.py
  configs/ffld/td-ffld_res18-w32_1xb64-15e_synthface-128x128.py
  configs/odn/td-odn_res18-w32_1xb64-15e_synthface-128x128.py
  configs/srn/td-srn_pcnn-s_1xb64-15e_synthface-128x128.py
)
REFS=(
  mmpose::face_2d_keypoint/topdown_heatmap/wflw/td-hm_hrnetv2-w18_8xb64-60e_wflw-256x256.py
  mmpose::face_2d_keypoint/topdown_regression/wflw/td-reg_res50_softwingloss_8xb64-210e_wflw-256x256.py
  mmpose::face_2d_keypoint/rtmpose/wflw/rtmpose-m_8xb64-60e_wflw-256x256.py
)

# ------------------------------------------------------------------------------ SynthFace accuracy of each model
ACC=()
for cfg in "${SYNTH[@]}"; do
  name="$(basename "$cfg" .py)"
  work="work_dirs/quickstart/$name"
  if [ ! -f "$work/metrics.json" ] && ! ls "$work"/*.pth > /dev/null 2>&1 && [ -n "${SPEED_TRAIN:-}" ]; then
    echo "== training $name (SPEED_TRAIN=1)"
    bash tools/quickstart.sh "$cfg"
  fi
  if [ ! -f "$work/metrics.json" ] && ls "$work"/*.pth > /dev/null 2>&1; then
    ckpt="$(ls -t "$work"/best_*.pth 2>/dev/null | head -n 1 || true)"
    [ -n "$ckpt" ] || ckpt="$(ls -t "$work"/epoch_*.pth | head -n 1)"
    echo "== evaluating $ckpt on the SynthFace test splits"
    DATA=(val_dataloader.dataset.data_root=data/synthface/)
    for i in 0 1 2; do DATA+=("test_dataloader.dataset.datasets.$i.data_root=data/synthface/"); done
    "$PY" tools/misc/generate_synthface.py --out-dir data/synthface
    "$PY" tools/test.py "$cfg" "$ckpt" --work-dir "$work/test" --out "$work/metrics.json" \
      --cfg-options "${DATA[@]}" > "$work/test.log" 2>&1 || { tail -n 30 "$work/test.log"; exit 1; }
  fi
  if [ -f "$work/metrics.json" ]; then
    ACC+=(--accuracy "$name=$work/metrics.json")
  else
    echo "== no SynthFace model for $name in $work: charted without accuracy (SPEED_TRAIN=1 trains it)"
  fi
done

# ---------------------------------------------------------------------------------------------- the benchmark
FFLD=td-ffld_res18-25_1xb64-400e_300w-224x224
HRNET=td-hm_hrnetv2-w18_8xb64-60e_wflw-256x256
run_bench() {   # device, output stem
  echo "== benchmark_model.py --device $1 ($THREADS threads)"
  "$PY" tools/analysis_tools/benchmark_model.py "${PAPER[@]}" "${SYNTH[@]}" "${REFS[@]}" --device "$1" \
    --threads "$THREADS" --runs "${RUNS:-3}" --repeats "${REPEATS:-10}" --throughput-batch "${BATCH:-32}" --train-batch "${BATCH:-32}" \
    --train-memory --matmul-rate "${@:3}" "${ACC[@]}" --speedup-target "$FFLD/$HRNET>=5" \
    --out "$OUT_DIR/$2.json" --markdown "$OUT_DIR/$2.md" --chart "$OUT_DIR/images/$2.png" \
    2> "$OUT_DIR/$2.log"
}
if [ -n "${RENDER_ONLY:-}" ]; then     # the table, checks and chart again from the last run, nothing measured
  "$PY" tools/analysis_tools/benchmark_model.py --render "$OUT_DIR/benchmark_speed_cpu.json" --onnx --matmul-rate \
    --train-memory --runs "${RUNS:-3}" --repeats "${REPEATS:-10}" --throughput-batch "${BATCH:-32}" \
    --train-batch "${BATCH:-32}" --speedup-target "$FFLD/$HRNET>=5" --markdown "$OUT_DIR/benchmark_speed_cpu.md" \
    --chart "$OUT_DIR/images/benchmark_speed_cpu.png" > /dev/null
else
  run_bench cpu benchmark_speed_cpu --onnx
fi
CUDA_MD=""
if [ -z "${SKIP_CUDA:-}${RENDER_ONLY:-}" ] && "$PY" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)'; then
  run_bench cuda benchmark_speed_cuda      # onnxruntime rows are CPU-only here (no onnxruntime-gpu)
  CUDA_MD="$OUT_DIR/benchmark_speed_cuda.md"
fi

# ------------------------------------------------------------- README.md and the model-zoo READMEs, in place
"$PY" - "$OUT_DIR/benchmark_speed_cpu.md" "$OUT_DIR/images/benchmark_speed_cpu.png" "$CUDA_MD" <<'EOF_PY'
import os.path as osp
import re
import sys

cpu_md, chart, cuda_md = sys.argv[1:4]
START, END = '<!-- speed-table:start -->', '<!-- speed-table:end -->'
cmd = '`bash tools/benchmarks/speed.sh`'


def splice(path, body):
    text = open(path, encoding='utf-8').read()
    if START not in text or END not in text:
        sys.exit(f'{path}: no {START} ... {END} markers to put the table between')
    head, rest = text.split(START, 1)
    tail = rest.split(END, 1)[1]
    open(path, 'w', encoding='utf-8').write(f'{head}{START}\n{body}\n{END}{tail}')
    print(f'updated {path}')


def parts(md):
    lines = open(md, encoding='utf-8').read().splitlines()
    table = [l for l in lines if l.startswith('|')]
    targets = [l for l in lines if l.startswith('- ')]
    return lines[0], table[:2], table[2:], targets


setting, header, rows, targets = parts(cpu_md)
body = [f'Measured here by {cmd} (one run; regenerate it with that command). {setting}.', '']
body += header + rows
if cuda_md:
    c_setting, c_header, c_rows, _ = parts(cuda_md)
    body += ['', f'CUDA: {c_setting}.', ''] + c_header + c_rows
body += ['', 'Targets (PASS / FAIL as measured in this run):', ''] + targets
body += ['', f'![accuracy vs latency]({osp.relpath(chart, ".")})']
splice('README.md', '\n'.join(body))

for method in ('baselines', 'scdf', 'ffld', 'odn', 'srn'):
    names = {osp.splitext(f)[0] for f in __import__('os').listdir(osp.join('configs', method)) if f.endswith('.py')}
    mine = [r for r in rows if r.split('|')[1].strip() in names]
    mine_targets = [t for t in targets if any(re.search(rf'\b{re.escape(n)}\b', t) for n in names)]
    text = [f'Measured here by {cmd}; the whole table, with MMPose\'s WFLW models as references, is in the '
            f'top-level README. {setting}.', ''] + header + mine + ['', 'Targets:', ''] + mine_targets
    splice(osp.join('configs', method, 'README.md'), '\n'.join(text))
EOF_PY
echo "== done: $OUT_DIR/benchmark_speed_cpu.{md,json,log}, $OUT_DIR/images/benchmark_speed_cpu.png"
