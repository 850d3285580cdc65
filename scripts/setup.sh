#!/usr/bin/env bash
# Idempotent set-up: installs the CPU build of torch where no torch is present (a bare `torch` requirement
# would pull a multi-GB CUDA build), then rewardlab with the extras in $EXTRAS (default dev: everything the
# tests need; `make demo` asks for demo, the few the main job needs, so a fresh machine is ready sooner).
# A machine that has torch keeps it. Re-runs are instant while pyproject.toml is unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
EXTRAS=${EXTRAS:-dev}
stamp=.setup-stamp-$EXTRAS
want=$(sha256sum pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && "$PYTHON" -c "import rewardlab, torch" 2>/dev/null; then
  exit 0
fi
if ! "$PYTHON" -c "import torch" 2>/dev/null; then
  # TORCH_INDEX_URL lets a machine elsewhere point at the CPU wheel index
  # (https://download.pytorch.org/whl/cpu); here the pinned CPU build is served by pip directly.
  echo "[setup] installing the CPU build of torch (${TORCH_SPEC:-torch==2.13.0})"
  "$PYTHON" -m pip install -q ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"} "${TORCH_SPEC:-torch==2.13.0}"
fi
echo "[setup] installing rewardlab and its $EXTRAS extras"
"$PYTHON" -m pip install -q -e ".[$EXTRAS]"
echo "$want" > "$stamp"
