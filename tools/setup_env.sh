#!/usr/bin/env bash
# Create (or reuse) the Python environment that mmfacealign runs in, then print its path on the last line.
#
#   bash tools/setup_env.sh            # create or reuse; prints the venv path
#   source "$(bash tools/setup_env.sh | tail -n 1)/bin/activate"
#
# The environment lives outside the clone, in ${MMFA_ENV_ROOT:-~/.cache/mmfacealign}/venv-<py>-<hash>, where <hash>
# is taken over the heavy recipe (see recipe_hash): the same recipe reuses a ready environment in seconds, a
# changed one builds a new one. Override the location with MMFA_VENV=/path/to/venv.
#
# CPU recipe (verified on Debian 12, x86_64, Python 3.11; see README "Installation" for why each step is so):
#   1. build tools first: setuptools<81, wheel, ninja, numpy          (requirements/build.txt)
#   2. torch 2.9.1 + torchvision 0.24.1                                (requirements/torch.txt)
#   3. mmcv 2.1.0 compiled with its ops, no build isolation           (~15 min on 2 cores, then pip's cache)
#   4. mmengine, then mmdet and mmpose with --no-deps (chumpy)         (requirements/mminstall.txt)
#   5. xtcocotools built from source against numpy 2
#   6. runtime + test requirements, then mmfacealign itself (editable)
# GPU users: set MMFA_MMCV_FROM_MIM=1 to take a prebuilt mmcv for their CUDA/torch through `mim install`.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
log() { echo "[setup_env] $*" >&2; }

# The venv's name hashes the heavy recipe only (build tools, torch, OpenMMLab pins, RECIPE_VERSION): changing it
# builds a new environment. runtime.txt/tests.txt/nodeps.txt changes are applied in place (seconds).
RECIPE_VERSION=1
recipe_hash() {
  { echo "$RECIPE_VERSION"; cat "$REPO"/requirements/{build,torch,mminstall}.txt; } | sha256sum | cut -c1-12
}
light_hash() {
  cat "$REPO"/requirements/{runtime,tests,nodeps}.txt | sha256sum | cut -c1-12
}
PYVER="$("$PYTHON" -c 'import sys; print("py%d%d" % sys.version_info[:2])')"
ENV_ROOT="${MMFA_ENV_ROOT:-$HOME/.cache/mmfacealign}"
VENV="${MMFA_VENV:-$ENV_ROOT/venv-$PYVER-$(recipe_hash)}"
STAMP="$VENV/.mmfacealign-ready"
LIGHT_STAMP="$VENV/.mmfacealign-light-$(light_hash)"
mkdir -p "$(dirname "$VENV")"

# One setup at a time per environment (two README commands started together must not race).
exec 9>"$VENV.lock"
flock 9

vpy() { "$VENV/bin/python" "$@"; }
vpip() { "$VENV/bin/python" -m pip "$@"; }

# The editable install records this clone's path; a fresh clone elsewhere re-points it (a few seconds).
ensure_project_installed() {
  local where
  where="$(cd / && vpy -c 'import mmfacealign, os; print(os.path.dirname(os.path.dirname(mmfacealign.__file__)))' 2>/dev/null || true)"
  if [ "$where" != "$REPO" ] || [ ! -e "$REPO/mmfacealign/.mim/tools" ]; then   # .mim is made at install time
    log "installing mmfacealign (editable) from $REPO"
    vpip install --quiet --no-deps --no-build-isolation -e "$REPO" >&2
  fi
}

install_light() {
  vpip install --quiet -r "$REPO/requirements/runtime.txt" -r "$REPO/requirements/tests.txt" \
    -r "$REPO/requirements/build.txt" >&2
  vpip install --quiet --no-deps -r "$REPO/requirements/nodeps.txt" >&2   # metadata pins older than our stack
  rm -f "$VENV"/.mmfacealign-light-*
  touch "$LIGHT_STAMP"
}

if [ -f "$STAMP" ] && vpy -c 'import mmcv.ops, mmpose.models, mmengine, torch' 2>/dev/null; then
  if [ ! -f "$LIGHT_STAMP" ]; then
    log "runtime/test requirements changed: updating them"
    install_light
  fi
  ensure_project_installed
  log "reusing ready environment $VENV"
  echo "$VENV"
  exit 0
fi

start=$(date +%s)
log "building environment $VENV (first time on this machine: about 15-20 minutes, mostly compiling mmcv)"
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
rm -f "$STAMP"

log "1/6 build tools"
vpip install --quiet -r "$REPO/requirements/build.txt" >&2
log "2/6 torch and torchvision"
vpip install --quiet -r "$REPO/requirements/torch.txt" >&2

req_version() { sed -n "s/^$1==//p" "$REPO/requirements/mminstall.txt"; }
MMCV_V="$(req_version mmcv)"; MMENGINE_V="$(req_version mmengine)"
MMDET_V="$(req_version mmdet)"; MMPOSE_V="$(req_version mmpose)"

log "3/6 mmcv $MMCV_V with ops"
if ! vpy -c 'import mmcv.ops' 2>/dev/null; then
  if [ "${MMFA_MMCV_FROM_MIM:-0}" = "1" ]; then
    vpip install --quiet "openmim==0.3.9" "mmengine==$MMENGINE_V" >&2
    "$VENV/bin/mim" install "mmcv==$MMCV_V" >&2
  else
    MMCV_WITH_OPS=1 MAX_JOBS="${MAX_JOBS:-2}" vpip install --no-build-isolation "mmcv==$MMCV_V" "mmengine==$MMENGINE_V" >&2
  fi
fi

log "4/6 mmengine $MMENGINE_V, mmdet $MMDET_V, mmpose $MMPOSE_V (mmdet/mmpose without their declared deps)"
vpip install --quiet "mmengine==$MMENGINE_V" >&2
vpip install --quiet --no-deps "mmdet==$MMDET_V" "mmpose==$MMPOSE_V" >&2

log "5/6 xtcocotools from source (the binary wheel was built against numpy 1)"
if ! vpy -c 'import xtcocotools.coco' 2>/dev/null; then
  vpip install --quiet --no-binary xtcocotools "xtcocotools==1.14.3" >&2
fi

log "6/6 runtime and test requirements, mmfacealign"
install_light
ensure_project_installed

vpy - <<'EOF' >&2
import mmcv, mmcv.ops, mmengine, mmpose, torch, torchvision
from mmpose.utils import register_all_modules
register_all_modules()
import mmfacealign  # noqa: F401  (registers our modules)
print(f'torch {torch.__version__}, torchvision {torchvision.__version__}, mmcv {mmcv.__version__}, '
      f'mmengine {mmengine.__version__}, mmpose {mmpose.__version__}')
EOF
touch "$STAMP"
log "environment ready in $(( $(date +%s) - start )) s"
echo "$VENV"
