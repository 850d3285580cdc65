"""Beam search vs best-of-N vs weighted voting at equal generated tokens, on the embedded world with its
policy and a PRM trained on the world's exact step labels.

1. PRM: `rewardlab train prm` (MiniLM, token head) on gold solutions and one corruption of each kind
   (`rewardlab.synth.export.step_rows`), whose first wrong step is known exactly.
2. Beam search (`rewardlab.search.beam`): width W, E expansions per beam, step delimiter ``\\n``; every
   generated token counted (per prompt).
3. Best-of-N from one pool of M full samples per prompt: for each compute level the N whose mean cost in
   generated tokens matches the beam's is used, and best-of-N accuracy at that N is the exact
   order-statistics expectation over all N-subsets of the pool (`rewardlab.evaluate.metrics`), so the
   match is to the token, not to a rerun. Weighted voting (PRM min-aggregated values as votes) and majority
   voting at that N are averages over random N-subsets (`rewardlab.search.voting`).

Accuracy is the world's exact verifier (stated answer == gold); CIs are 95% percentile bootstraps over
prompts. Not a test: figures are printed and recorded (bench/_record.py), never asserted.

    python bench/search_equal_compute.py --quick     # smoke: tiny sizes, no record
    python bench/search_equal_compute.py             # the recorded run
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from _record import default_out, write_record  # on import it notes the load average before the run

SIZES = {  # prompts, pool M, PRM problems, PRM steps, beam configs (width, expansions)
    "quick": (12, 16, 24, 30, [(2, 2), (4, 2)]),
    "full": (100, 64, 200, 300, [(2, 2), (4, 4), (8, 4)]),
}


def train_prm(out: Path, problems: int, steps: int) -> Path:
    from rewardlab.io import write_jsonl
    from rewardlab.synth.export import step_rows
    from rewardlab.synth.world import generate_problems
    from rewardlab.train.prm import PRMConfig, main

    data = out / "steps.jsonl"
    write_jsonl(data, step_rows(generate_problems(problems, seed=11, difficulty="easy")))
    main(PRMConfig(data=str(data), out=str(out / "prm"), max_steps=steps, batch_size=8, learning_rate=1e-4,
                   progress=False, overwrite=True))
    return out / "prm"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--policy", default=None, help="world policy size (full, small, tiny) or a path")
    parser.add_argument("--prm", default=None, help="a trained PRM folder (default: train one)")
    parser.add_argument("--out", default=None)
    parser.add_argument("--temperature", type=float, default=0.8)
    parser.add_argument("--figure", default=None, help="also write the over-optimisation plot here (PNG)")
    args = parser.parse_args()
    size = "quick" if args.quick else "full"
    n_prompts, pool, prm_problems, prm_steps, beams = SIZES[size]

    from rewardlab.evaluate.metrics import best_of_n_expectations, bootstrap_ci
    from rewardlab.generation import SamplingParams, load_generator
    from rewardlab.rewards.base import load_reward
    from rewardlab.search.answers import answer_ids, extract_all
    from rewardlab.search.beam import BeamConfig, beam_search
    from rewardlab.search.bon import candidate_value, score_pools
    from rewardlab.search.generate import generate_pools
    from rewardlab.search.pools import Compute, CountingReward
    from rewardlab.search.prompts import load_prompts
    from rewardlab.search.voting import vote_expectations, vote_weights
    from rewardlab.synth.world import is_correct

    work = Path(tempfile.mkdtemp(prefix="search-bench-"))
    started = time.perf_counter()
    prm_path = Path(args.prm) if args.prm else train_prm(work, prm_problems, prm_steps)
    prm = load_reward(f"process:{prm_path},agg=min")
    policy = args.policy or ("small" if args.quick else "full")
    spec = f"hf:world-{policy}" if policy in ("small", "tiny") else ("hf:world" if policy == "full" else f"hf:{policy}")
    gen = load_generator(spec)
    prompts = load_prompts(f"world:{n_prompts}")
    by_id = {p.id: p for p in prompts}

    # best-of-N pool: M full solutions per prompt
    pool_compute = Compute()
    params = SamplingParams(n=pool, temperature=args.temperature, max_new_tokens=160, seed=1)
    pools, failed = generate_pools(gen, prompts, params, pool_compute)
    if failed:
        sys.exit(f"generation failed for {[f.id for f in failed]}")
    scores = score_pools(prm, pools, show_progress=False)
    values = np.asarray([[candidate_value(s, "min") for s in row] for row in scores])
    values = np.where(np.isfinite(values), values, -1.0)  # a failed score ranks last, and votes 0
    gold = np.asarray([p.correct for p in pools], dtype=np.float64)
    ids = answer_ids(extract_all([p.responses for p in pools], "world").answers)
    weights = np.stack([vote_weights(v, "raw") for v in np.clip(values, 0, None)])
    tokens_per_sample = pool_compute.generated_tokens / (n_prompts * pool)

    def ci(per_prompt: np.ndarray) -> dict[str, float]:
        low, high = bootstrap_ci(per_prompt)
        return {"accuracy": float(per_prompt.mean()), "ci_low": low, "ci_high": high}

    rows = []
    for width, expansions in beams:
        compute = Compute()
        cfg = BeamConfig(width=width, expansions=expansions, max_steps=6, step_tokens=40,
                         temperature=args.temperature, answer="world", seed=2)
        start = time.perf_counter()
        result = beam_search(gen, CountingReward(prm, compute), prompts, cfg, compute)
        beam_s = time.perf_counter() - start
        right = np.asarray([float(bool(r.get("chosen")) and is_correct(r["chosen"], by_id[r["id"]].reference))
                            for r in result.rows])
        per_prompt_tokens = compute.generated_tokens / n_prompts
        n_eq = int(min(pool, max(1, round(per_prompt_tokens / tokens_per_sample))))
        bon_gold, _ = best_of_n_expectations(values, gold, [n_eq])
        wv = vote_expectations(ids, gold >= 0.5, [n_eq], weights, subsets=256, seed=0)[:, 0]
        mv = vote_expectations(ids, gold >= 0.5, [n_eq], None, subsets=256, seed=0)[:, 0]
        rows.append({"beam": f"W={width}, E={expansions}", "tokens_per_prompt": round(per_prompt_tokens, 1),
                     "equal_compute_n": n_eq, "reward_calls": compute.reward_calls,
                     "reward_samples": compute.reward_samples, "beam_seconds": round(beam_s, 1),
                     "beam search": ci(right), "best-of-N (PRM min)": ci(bon_gold[:, 0]),
                     "weighted vote (PRM min)": ci(wv), "majority vote": ci(mv)})
    from rewardlab.evaluate.metrics import best_of_n_curve

    overopt = best_of_n_curve(values, gold, ci=True)  # proxy (PRM min) and gold of best-of-n vs KL
    figures = {"overoptimisation": overopt, "size": size, "policy": spec, "prompts": n_prompts, "pool_size": pool,
               "tokens_per_sample": round(tokens_per_sample, 1), "prm": str(prm_path),
               "prm_training": ({"problems": prm_problems, "steps": prm_steps} if not args.prm else "given (--prm)"),
               "random_candidate_accuracy": float(gold.mean()), "rows": rows,
               "seconds": round(time.perf_counter() - started, 1)}
    methods = ("beam search", "best-of-N (PRM min)", "weighted vote (PRM min)", "majority vote")
    print(f"policy {spec}, {n_prompts} prompts, pool M={pool}, {tokens_per_sample:.1f} tokens per full sample, "
          f"random candidate accuracy {gold.mean():.3f}")
    print("| beam | tokens/prompt | equal-compute N | " + " | ".join(methods) + " |")
    print("|---|---|---|" + "---|" * len(methods))
    for r in rows:
        cells = [f"{r[m]['accuracy']:.3f} [{r[m]['ci_low']:.3f}, {r[m]['ci_high']:.3f}]" for m in methods]
        print(f"| {r['beam']} | {r['tokens_per_prompt']} | {r['equal_compute_n']} | " + " | ".join(cells) + " |")
    print("| n | KL(best-of-n) | proxy (PRM min) | gold accuracy [95% CI] |")
    print("|---|---|---|---|")
    for r in overopt:
        print(f"| {r['n']} | {r['kl_bon']:.3f} | {r['proxy']:.3f} | {r['gold']:.3f} "
              f"[{r['gold_ci_low']:.3f}, {r['gold_ci_high']:.3f}] |")
    if args.figure:
        import base64

        from rewardlab.search.curves import overoptimisation_figure

        Path(args.figure).write_bytes(base64.b64decode(overoptimisation_figure(overopt)))
    out = args.out or default_out("search_equal_compute", args.quick)
    write_record(out, "search_equal_compute", figures)
    if args.out is None and args.quick:
        print(json.dumps({k: v for k, v in figures.items() if k != "rows"}))


if __name__ == "__main__":
    main()
