# Sourced by the GPU scripts (tools/benchmarks/gpu_check.sh, projects/srn_video/tools/table9_gpu.sh) from the
# repository root, with PY and SITE set: where .whl/ holds wheels (git-ignored; see gpu_check.sh), install them into
# $SITE, replace mmcv-lite's mmcv/ops/__init__.py by the placeholder stub and put $SITE on PYTHONPATH; use the carried
# SynthFace shape model .whl/pdm/ (MMFA_CACHE). Without .whl/ (a machine with the project's environment) nothing
# changes; SKIP_WHEELS=1 skips the wheels (a dry run here).
if [ -z "${SKIP_WHEELS:-}" ] && compgen -G ".whl/*.whl" > /dev/null; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" .whl/*.whl \
    || { echo "wheel install failed"; exit 1; }
  cp tools/benchmarks/gpu_shim/mmcv_ops_stub.py "$SITE/mmcv/ops/__init__.py"
  export PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}"
fi
if [ -d .whl/pdm ]; then export MMFA_CACHE="$PWD/.whl/pdm"; fi
