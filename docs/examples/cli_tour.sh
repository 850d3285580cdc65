# The CLI offline: the embedded world's labelled data, the embedded MiniLM reward model scoring pairs, and
# best-of-N evaluations (results.json + report.html each) of the rule:math verifier and of DAPO's length
# penalty as a picker, compared item by item (paired bootstrap).
set -euo pipefail
OUT=${OUT:-runs/cli-tour}
rewardlab synth --out "$OUT/world" --n 20 --seed 0
rewardlab score --reward classifier:minilm --data "$OUT/world/pairs.jsonl" --limit 16 --out "$OUT/scores.jsonl"
rewardlab eval --reward rule:math --bench "$OUT/world/bon.jsonl" --out "$OUT/eval-verifier"
rewardlab eval --reward rule:overlong,max=60,cache=40 --bench "$OUT/world/bon.jsonl" --out "$OUT/eval-length"
rewardlab compare "$OUT/eval-verifier" "$OUT/eval-length"
