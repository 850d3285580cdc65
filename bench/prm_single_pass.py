"""One forward pass per solution vs one forward per step prefix (ProcessBench's PRM example), on
ProcessBench gsm8k with a tiny causal PRM.

Both paths use the same model, layout, token-budget batching and head; the only difference is what is
run: the whole solution once (scores read at every step tag), or each prefix s_1..s_t separately (score
read at its last tag). For a causal model the step scores must agree within 1e-4; the speed ratio should
be about the mean number of steps (more, since each prefix repeats the prompt).

    python bench/prm_single_pass.py --quick          # a smoke run (20 solutions, 1 repeat)
    python bench/prm_single_pass.py                   # the recorded run (all 400, median of 3)
    python bench/prm_single_pass.py --model PATH      # any PRM checkpoint instead of the tiny one

Exit status 1 if the scores disagree. Not a test: timings are printed (and written with --out), never
asserted.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="20 solutions, 1 repeat (smoke run)")
    parser.add_argument("--limit", type=int, default=None, help="solutions to score (default: all 400)")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats per path (median reported)")
    parser.add_argument("--model", default=None, help="a PRM checkpoint (default: a tiny causal PRM)")
    parser.add_argument("--hidden", type=int, default=128, help="tiny PRM hidden size")
    parser.add_argument("--layers", type=int, default=4, help="tiny PRM layers")
    parser.add_argument("--options", default="", help="extra process: options, e.g. batch_tokens=8192")
    parser.add_argument("--data-root", default=None, help="folder holding ProcessBench/ (default ../shared/data)")
    parser.add_argument("--out", default=None, help="write the figures as JSON here")
    args = parser.parse_args()
    if args.quick:
        args.limit, args.repeats = args.limit or 20, 1

    from rewardlab.data import load_steps
    from rewardlab.evaluate.benchmarks import MissingBenchmarkData, locate
    from rewardlab.evaluate.processbench import PROCESSBENCH
    from rewardlab.rewards.base import load_reward

    try:
        folder = locate(PROCESSBENCH, args.data_root)
    except MissingBenchmarkData as exc:
        print(f"skipped: {exc}")
        return 0
    records = load_steps(folder / "gsm8k.json", default_subset="gsm8k")[: args.limit]
    samples = [r.sample() for r in records]
    with tempfile.TemporaryDirectory() as tmp:
        model = args.model or str(tiny_causal_prm(Path(tmp) / "prm", args.hidden, args.layers))
        # the tiny PRM has 4,096 positions (its MiniLM tokenizer says 512): no solution is cut, so both paths
        # see the same tokens. A left-truncated single pass differs from its untruncated prefixes by design.
        options = args.options or ("" if args.model else "max_length=4096")
        reward = load_reward(",".join(x for x in (f"process:{model}", options) if x))
        reward.score(samples[:4]), reward.score_per_prefix(samples[:4])  # warm-up
        before, cut = reward.stats.real_tokens, reward.truncated
        single, t_single = timed(lambda: reward.score(samples), args.repeats)
        single_tokens = (reward.stats.real_tokens - before) // args.repeats
        truncated = (reward.truncated - cut) // args.repeats
        before = reward.stats.real_tokens
        prefix, t_prefix = timed(lambda: reward.score_per_prefix(samples), args.repeats)
        prefix_tokens = (reward.stats.real_tokens - before) // args.repeats
    diffs = [abs(a - b) for s, p in zip(single, prefix) if s.ok for a, b in zip(s.steps, p)]
    failed = sum(not s.ok for s in single)
    steps = [len(r.steps) for r in records]
    figures = {
        "solutions": len(records), "failed": failed,
        "truncated_single_pass": truncated, "mean_steps": statistics.mean(steps),
        "max_abs_diff": max(diffs) if diffs else float("nan"), "equal_within_1e-4": bool(diffs) and max(diffs) <= 1e-4,
        "single_pass_s": statistics.median(t_single), "per_prefix_s": statistics.median(t_prefix),
        "speed_ratio": statistics.median(t_prefix) / statistics.median(t_single),
        "single_pass_tokens": single_tokens, "per_prefix_tokens": prefix_tokens,
        "token_ratio": prefix_tokens / max(single_tokens, 1), "repeats": args.repeats,
        "model": args.model or f"tiny causal Llama PRM (hidden {args.hidden}, {args.layers} layers, random)",
        "device": reward.provenance()["device"], "threads": os.environ.get("OMP_NUM_THREADS", "default"),
    }
    for key, value in figures.items():
        print(f"{key:>20}: {value:.6g}" if isinstance(value, float) else f"{key:>20}: {value}")
    if args.out:
        from rewardlab.io import write_json

        write_json(args.out, figures)
    return 0 if figures["equal_within_1e-4"] else 1


if __name__ == "__main__":
    sys.path.insert(0, str(REPO / "src"))
    sys.exit(main())
