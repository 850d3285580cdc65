#!/usr/bin/env bash
# A side venv with reward-bench 0.1.4 (it pins transformers==4.51 and imports pkg_resources, so it cannot
# share rewardlab's environment). torch is installed first as the CPU build so nothing pulls CUDA wheels
# (TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu where pip's default index serves the CUDA build).
# Usage: bash bench/setup_rewardbench_venv.sh [VENV_DIR]   (prints the interpreter path on its last line)
# A venv that already imports rewardbench 0.1.4 is reused as it is (CI keeps it under ~/.cache); pip's own
# cache makes a rebuild download nothing twice.
set -euo pipefail
VENV=${1:-${REWARDBENCH_VENV:-$HOME/.cache/rewardlab/rewardbench-venv}}
check='import importlib.metadata as md, rewardbench, transformers; assert md.version("rewardbench") == "0.1.4"'
if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c "$check" 2>/dev/null; then
  echo "$VENV/bin/python"
  exit 0
fi
mkdir -p "$(dirname "$VENV")"
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
"$VENV/bin/pip" install -q ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"} "${TORCH_SPEC:-torch==2.13.0}"
"$VENV/bin/pip" install -q "setuptools<81" "rewardbench==0.1.4"
"$VENV/bin/python" -c "$check; print('rewardbench ok, transformers', transformers.__version__)"
echo "$VENV/bin/python"
