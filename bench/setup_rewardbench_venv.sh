#!/usr/bin/env bash
# A side venv with reward-bench 0.1.4 (it pins transformers==4.51 and imports pkg_resources, so it cannot
# share rewardlab's environment). torch is installed first as the CPU build so nothing pulls CUDA wheels.
# Usage: bash bench/setup_rewardbench_venv.sh [VENV_DIR]   (prints the interpreter path at the end)
set -euo pipefail
VENV=${1:-${REWARDBENCH_VENV:-$HOME/.cache/rewardlab/rewardbench-venv}}
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
"$VENV/bin/pip" install -q "${TORCH_SPEC:-torch==2.13.0}"
"$VENV/bin/pip" install -q "setuptools<81" "rewardbench==0.1.4"
"$VENV/bin/python" -c "import rewardbench, transformers; print('rewardbench ok, transformers', transformers.__version__)"
echo "$VENV/bin/python"
