#!/usr/bin/env bash
# Run the lint check and the test suite, setting up the environment first if needed (what CI runs: .ci/run calls
# this).
#   bash tools/run_tests.sh [pytest options]      e.g. bash tools/run_tests.sh -k synthface
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
VENV="$(bash tools/setup_env.sh | tail -n 1)"
echo "[run_tests] ruff check (style: ruff.toml)"
"$VENV/bin/python" -m ruff check .
exec "$VENV/bin/python" -m pytest tests -n "${PYTEST_WORKERS:-2}" --durations=15 "$@"
