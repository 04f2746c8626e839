#!/usr/bin/env bash
# SRN's Table 9 on SynthFace video: fine-tune the image-trained CPU-sized SRN on SynthFace video clips without
# occlusion augmentation, with random occlusion synthesis (RSF) and with HOFS, under one budget (the configs'
# schedule), then test each in video mode (state carried within 8-frame clips) and print per-frame NME per category
# and the jitter where the ground truth is still. Two reference rows test the pre-trained model without
# fine-tuning, with the state carried and with every frame independent (carry_hidden=False).
#   bash projects/srn_video/tools/table9_synthface_video.sh [PRETRAINED.pth]
# PRETRAINED defaults to work_dirs/srn_synthface/best_*.pth; if there is none, the image SRN is trained first with
# configs/srn/td-srn_pcnn-s_1xb64-15e_synthface-128x128.py (about 20 min on 2 cores). Work dirs:
# work_dirs/srn_video/<variant>; the data are generated first when missing.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
cd "$REPO"
VENV="$(bash tools/setup_env.sh | tail -n 1)"
PY="$VENV/bin/python"
export PYTHONPATH="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)${PYTHONPATH:+:$PYTHONPATH}"   # the srn_video package
CFG_DIR=projects/srn_video/configs
"$PY" tools/misc/generate_synthface.py --out-dir data/synthface
"$PY" tools/misc/generate_synthface.py --video --out-dir data/synthface_video

PRETRAINED="${1:-$(ls -t work_dirs/srn_synthface/best_*.pth 2>/dev/null | head -n 1 || true)}"
if [ -z "$PRETRAINED" ]; then
  echo "== training the image SRN on SynthFace (work_dirs/srn_synthface)"
  "$PY" tools/train.py configs/srn/td-srn_pcnn-s_1xb64-15e_synthface-128x128.py --work-dir work_dirs/srn_synthface \
    > work_dirs/srn_synthface.train.log 2>&1 || { tail -n 30 work_dirs/srn_synthface.train.log; exit 1; }
  PRETRAINED="$(ls -t work_dirs/srn_synthface/best_*.pth | head -n 1)"
fi
echo "== pre-trained SRN: $PRETRAINED"
mkdir -p work_dirs/srn_video

test_row () {   # name config checkpoint [cfg-options...]
  local name=$1 cfg=$2 ckpt=$3; shift 3
  "$PY" tools/test.py "$cfg" "$ckpt" --work-dir "work_dirs/srn_video/$name/test" \
    --out "work_dirs/srn_video/$name/metrics.json" --cfg-options "$@" > "work_dirs/srn_video/$name.test.log" 2>&1 \
    || { tail -n 30 "work_dirs/srn_video/$name.test.log"; exit 1; }
}
NOAUG=$CFG_DIR/srn-video_pcnn-s_no-occlusion_synthface-video-128x128.py
mkdir -p work_dirs/srn_video/pretrained work_dirs/srn_video/pretrained-independent
test_row pretrained "$NOAUG" "$PRETRAINED" model.carry_hidden=True
test_row pretrained-independent "$NOAUG" "$PRETRAINED" model.carry_hidden=False

for v in no-occlusion rsf hofs; do
  work="work_dirs/srn_video/$v"
  cfg="$CFG_DIR/srn-video_pcnn-s_${v}_synthface-video-128x128.py"
  echo "== $v: fine-tuning"
  t0=$(date +%s)
  "$PY" tools/train.py "$cfg" --work-dir "$work" --cfg-options load_from="$PRETRAINED" > "$work.train.log" 2>&1 \
    || { tail -n 30 "$work.train.log"; exit 1; }
  ckpt="$(ls -t "$work"/epoch_*.pth | head -n 1)"
  test_row "$v" "$cfg" "$ckpt" model.carry_hidden=True
  echo "   $(( $(date +%s) - t0 )) s, checkpoint $ckpt"
done

echo "== SynthFace video test (12 videos x 32 frames): per-frame inter-ocular NME % and jitter (% of the"
echo "   inter-ocular distance per frame, on ground-truth-still frame pairs)"
"$PY" - <<'PY'
import json
rows = ['pretrained-independent', 'pretrained', 'no-occlusion', 'rsf', 'hofs']
cols = ['NME', 'category1/NME', 'category2/NME', 'category3/NME', 'occluded/NME', 'NME_occluded', 'jitter']
print(f"{'row':<24}" + ''.join(f'{c:>15}' for c in cols))
for r in rows:
    m = json.load(open(f'work_dirs/srn_video/{r}/metrics.json'))
    print(f'{r:<24}' + ''.join(f"{100 * m[c]:15.2f}" if c in m else f"{'-':>15}" for c in cols))
PY
