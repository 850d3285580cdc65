"""One forward pass per solution vs scoring step prefix by step prefix, on ProcessBench gsm8k with a tiny
causal PRM.

ProcessBench ships two PRM examples (QwenLM/ProcessBench ``code/``): ``run_eval_prm_trl.py`` already runs
one forward per solution and reads every step tag, as rewardlab does; ``run_eval_prm_rlhflow.py`` sends
each prefix (problem + steps 1..t) to a server and stops at the first step the PRM rejects. The baselines
here are the second, done three ways, all with the same model, layout, token-budget batching and head:

- ``per prefix, every step``: each prefix s_1..s_t scored separately (a per-step scorer with no early exit);
- ``per prefix, early exit``: as run_eval_prm_rlhflow.py, a solution stops at its first step scored below
  ``--threshold`` (0.5: the example's "+" vs "-"); prefixes are batched across solutions round by round,
  as its 32-process pool overlaps solutions. How far a solution gets depends on the model;
- ``per prefix, exit at the gold error``: the prefixes a perfect PRM's early exit would score (up to the
  labelled first wrong step; every step of a correct solution): the least work that method can ever do.

The example runs against vLLM with ``--enable-prefix-caching``, which reuses the previous prefix's KV cache
on a GPU; these baselines recompute each prefix (no prefix cache in a plain transformers forward), so the
ratios measure prefix recomputation on this CPU, not vLLM. For a causal model the single pass's step scores
equal the every-step prefix scores within 1e-4, and its first-error predictions at the threshold equal the
early-exit path's.

    python bench/prm_single_pass.py --quick          # a smoke run (20 solutions, 1 repeat, no record)
    python bench/prm_single_pass.py                   # the recorded run (all 400, median of 3)
    python bench/prm_single_pass.py --model PATH      # any PRM checkpoint instead of the tiny one

Writes docs/benchmarks/prm_single_pass.json (bench/_record.py) unless ``--quick``. Exit status 1 if the
scores or predictions disagree. Not a test: timings are printed and recorded, never asserted.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from _record import default_out, write_record  # on import it notes the load average before the run

REPO = Path(__file__).resolve().parents[1]


def tiny_causal_prm(path: Path, hidden: int, layers: int, seed: int = 0) -> Path:
    """A randomly initialised Llama token-classification PRM with the embedded MiniLM tokenizer.

    Random weights are enough here: the benchmark measures equality and speed, not accuracy.
    """
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForTokenClassification

    from rewardlab.engine.loading import embedded_model_path

    tokenizer = AutoTokenizer.from_pretrained(embedded_model_path())
    config = LlamaConfig(vocab_size=tokenizer.vocab_size, hidden_size=hidden, intermediate_size=4 * hidden,
                         num_hidden_layers=layers, num_attention_heads=4, num_key_value_heads=4,
                         max_position_embeddings=4096, pad_token_id=tokenizer.pad_token_id, num_labels=2,
                         initializer_range=0.2)
    torch.manual_seed(seed)
    LlamaForTokenClassification(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def timed(fn, repeats: int) -> tuple[object, list[float]]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return result, times


def per_prefix_until(reward, samples, stop_below: float | None,
                     last_step: list[int] | None = None) -> list[list[float]]:
    """Prefix-by-prefix scores, round by round across solutions (step 1 of every solution, then step 2 of
    those still going ...): a solution stops after a step scored below ``stop_below``, or after its
    ``last_step``. Uses the reward's own layout, head and batching (`rewardlab.rewards.process`)."""
    from rewardlab.rewards.process import read_scores

    steps = [reward.steps_of(s) for s in samples]
    last = last_step or [len(s) - 1 for s in steps]
    out: list[list[float]] = [[] for _ in samples]
    going, t = [i for i, s in enumerate(steps) if s], 0
    while going:
        encoded = [reward.layout.encode(reward.tokenizer, samples[i].prompt, steps[i][: t + 1]) for i in going]
        values = read_scores(reward.head, [ids for ids, _ in encoded], [[reads[-1]] for _, reads in encoded],
                             reward.tokenizer.pad_token_id, reward.options.batch, reward.stats)
        for i, v in zip(going, values):
            out[i].append(v[0])
        t += 1
        going = [i for i in going if t <= last[i] and (stop_below is None or out[i][-1] >= stop_below)]
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="20 solutions, 1 repeat (smoke run, no record)")
    parser.add_argument("--limit", type=int, default=None, help="solutions to score (default: all 400)")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats per path (median reported)")
    parser.add_argument("--model", default=None, help="a PRM checkpoint (default: a tiny causal PRM)")
    parser.add_argument("--hidden", type=int, default=128, help="tiny PRM hidden size")
    parser.add_argument("--layers", type=int, default=4, help="tiny PRM layers")
    parser.add_argument("--threshold", type=float, default=0.5, help="early exit below this step score")
    parser.add_argument("--options", default="", help="extra process: options, e.g. batch_tokens=8192")
    parser.add_argument("--data-root", default=None, help="folder holding ProcessBench/ (default ../shared/data)")
    parser.add_argument("--out", default=None, help="record path (default docs/benchmarks/prm_single_pass.json)")
    args = parser.parse_args()
    if args.quick:
        args.limit, args.repeats = args.limit or 20, 1

    from rewardlab.data import load_steps
    from rewardlab.evaluate.benchmarks import MissingBenchmarkData, locate
    from rewardlab.evaluate.processbench import PROCESSBENCH, predict_first_error
    from rewardlab.rewards.base import load_reward

    try:
        folder = locate(PROCESSBENCH, args.data_root)
    except MissingBenchmarkData as exc:
        print(f"skipped: {exc}")
        return 0
    records = load_steps(folder / "gsm8k.json", default_subset="gsm8k")[: args.limit]
    samples = [r.sample() for r in records]
    gold_last = [len(r.steps) - 1 if r.first_error in (None, -1) else r.first_error for r in records]
    with tempfile.TemporaryDirectory() as tmp:
        model = args.model or str(tiny_causal_prm(Path(tmp) / "prm", args.hidden, args.layers))
        # the tiny PRM has 4,096 positions (its MiniLM tokenizer says 512): no solution is cut, so both paths
        # see the same tokens. A left-truncated single pass differs from its untruncated prefixes by design.
        options = args.options or ("" if args.model else "max_length=4096")
        reward = load_reward(",".join(x for x in (f"process:{model}", options) if x))
        reward.score(samples[:4]), reward.score_per_prefix(samples[:4])  # warm-up
        paths = {
            "single pass": lambda: reward.score(samples),
            "per prefix, every step": lambda: reward.score_per_prefix(samples),
            "per prefix, early exit": lambda: per_prefix_until(reward, samples, args.threshold),
            "per prefix, exit at the gold error": lambda: per_prefix_until(reward, samples, None, gold_last),
        }
        outputs, timings, tokens = {}, {}, {}
        cut = reward.truncated
        for name, fn in paths.items():
            before = reward.stats.real_tokens
            outputs[name], times = timed(fn, args.repeats)
            timings[name], tokens[name] = statistics.median(times), (reward.stats.real_tokens - before) // args.repeats
        truncated = (reward.truncated - cut) // args.repeats
    single = outputs["single pass"]
    diffs = [abs(a - b) for s, p in zip(single, outputs["per prefix, every step"]) if s.ok for a, b in zip(s.steps, p)]
    exits = outputs["per prefix, early exit"]
    exit_at = [len(e) - 1 if e[-1] < args.threshold else -1 for e in exits]
    same_predictions = all(predict_first_error(s.steps, args.threshold) == x for s, x in zip(single, exit_at) if s.ok)
    steps = [len(r.steps) for r in records]
    figures = {
        "solutions": len(records), "failed": sum(not s.ok for s in single),
        "truncated_single_pass": truncated, "mean_steps": statistics.mean(steps), "threshold": args.threshold,
        "max_abs_diff": max(diffs) if diffs else float("nan"), "equal_within_1e-4": bool(diffs) and max(diffs) <= 1e-4,
        "early_exit_predictions_equal": same_predictions,
        "mean_prefixes_scored": {name: statistics.mean(len(x) for x in outputs[name]) for name in paths
                                 if name.startswith("per prefix")},
        "seconds": timings, "tokens": tokens,
        "speed_ratio": {name: timings[name] / timings["single pass"] for name in paths if name != "single pass"},
        "token_ratio": {name: tokens[name] / max(tokens["single pass"], 1) for name in paths if name != "single pass"},
        "repeats": args.repeats,
        "model": args.model or f"tiny causal Llama PRM (hidden {args.hidden}, {args.layers} layers, random)",
        "device": reward.provenance()["device"], "threads": os.environ.get("OMP_NUM_THREADS", "default"),
    }
    for key, value in figures.items():
        print(f"{key:>28}: {value:.6g}" if isinstance(value, float) else f"{key:>28}: {value}")
    write_record(args.out or default_out("prm_single_pass", args.quick), "prm_single_pass", figures)
    return 0 if figures["equal_within_1e-4"] and same_predictions else 1


if __name__ == "__main__":
    sys.path.insert(0, str(REPO / "src"))
    sys.exit(main())
