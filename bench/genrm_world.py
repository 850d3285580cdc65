"""A generative verifier (GenRM) against a Bradley-Terry reward model on the embedded world, same problems.

*Generative Verifiers: Reward Modeling as Next-Token Prediction* in kind: the world's tiny SFT policy is
trained with ``rewardlab train genrm`` to answer ``Is the answer correct (Yes/No)?`` and read as the reward
P(Yes) (``judge:hf:OUT,protocol=genrm,mode=logprob``); the baseline is the demo's MiniLM Bradley-Terry
reward model. Both learn from the same problems and the same responses:

1. candidates: the policy samples solutions to the training and evaluation problems; ``rule:math``
   labels them (the demo's sampling and verifier, `rewardlab.demo.pipeline`);
2. BT pairs: (correct, wrong) candidates of a training problem, the gold solution or a world corruption
   standing in where a problem has no correct or no wrong sample (the demo's `build_pairs`);
3. GenRM rows: every distinct response of those pairs, labelled correct (chosen) or incorrect (rejected):
   the same information the BT model gets, as verdicts;
4. evaluation on held-out problems: pairwise accuracy over every (correct, wrong) candidate pair of a
   problem (strict, ties wrong, bootstrap CI), the exact best-of-N curve up to N = pool size (order
   statistics, bootstrap CI over problems; `rewardlab.evaluate.metrics`) with the verifier (oracle) and
   random choice beside it, and paired bootstraps of GenRM minus BT on both.

    python bench/genrm_world.py --quick              # minutes: tiny policy, few problems (no record)
    python bench/genrm_world.py                      # the recorded run: docs/benchmarks/genrm_world.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _record import default_out, write_record  # noqa: E402

TRAIN_SEED, EVAL_SEED = 41_001, 41_002


def sizes(args: argparse.Namespace) -> Any:
    from rewardlab.demo.pipeline import DemoSize

    return DemoSize("genrm-world", args.policy_size, "easy", rm_problems=args.train_problems,
                    rm_samples=args.train_samples, pairs_per_problem=args.pairs_per_problem,
                    eval_problems=args.eval_problems, eval_samples=args.pool, temperature=args.temperature,
                    max_new_tokens=80, rm_epochs=args.bt_epochs, rm_batch_size=16, rm_learning_rate=args.bt_lr)


def genrm_rows(pairs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Both sides of every BT pair as a verdict row (each distinct prompt/response once)."""
    seen, rows = set(), []
    for pair in pairs:
        for side, label in (("chosen", "correct"), ("rejected", "incorrect")):
            key = (pair["prompt"], pair[side])
            if key not in seen:
                seen.add(key)
                rows.append({"prompt": pair["prompt"], "response": pair[side], "label": label,
                             "subset": pair["subset"]})
    return rows


def score_pool(spec: str, rows: list[dict[str, Any]]) -> np.ndarray:
    """Reward of every evaluation candidate, shape (problems, pool); failures are NaN (counted by the caller)."""
    from rewardlab.rewards.base import load_reward
    from rewardlab.types import Sample

    reward = load_reward(spec)
    scores = reward.score([Sample(row["prompt"], r) for row in rows for r in row["responses"]])
    values = np.array([s.value if s.ok else np.nan for s in scores], dtype=np.float64)
    return values.reshape(len(rows), -1)


def compare(scores: dict[str, np.ndarray], correct: np.ndarray) -> dict[str, Any]:
    """Pairwise accuracy and best-of-N for each reward; GenRM minus BT as paired bootstraps."""
    from rewardlab.demo.report import held_out_pairs
    from rewardlab.evaluate.metrics import (
        best_of_n_curve,
        best_of_n_expectations,
        default_best_of_n_sizes,
        paired_bootstrap,
        pairwise_accuracy,
        pairwise_credit,
    )

    gold = correct.astype(np.float64)
    ns = default_best_of_n_sizes(correct.shape[1])
    out: dict[str, Any] = {"pairwise": {}, "best_of_n": {}, "failed_scores": {}}
    credits, bon = {}, {}
    for name, s in scores.items():
        chosen, rejected = held_out_pairs(s, correct)
        acc = pairwise_accuracy(chosen, rejected)
        out["pairwise"][name] = {k: v.to_dict() for k, v in acc.items()}
        out["best_of_n"][name] = best_of_n_curve(s, gold, ns, ci=True)
        out["failed_scores"][name] = int(np.isnan(s).sum())
        credits[name] = pairwise_credit(chosen, rejected, 0.0)
        bon[name] = best_of_n_expectations(s, gold, ns)[0]
    out["best_of_n"]["oracle (verifier)"] = best_of_n_curve(gold, gold, ns, ci=True)
    out["best_of_n"]["random"] = [{"n": n, "gold": float(gold.mean())} for n in ns]
    out["genrm_minus_bt"] = {"pairwise_strict": paired_bootstrap(credits["genrm"], credits["bt"]),
                             f"best_of_{ns[-1]}": paired_bootstrap(bon["genrm"][:, -1], bon["bt"][:, -1])}
    out["pairs"] = int(len(held_out_pairs(gold, correct)[0]))
    return out


def run(args: argparse.Namespace) -> dict[str, Any]:
    from rewardlab.demo.pipeline import build_pairs, read_jsonl, sample_candidates, train_reward_model
    from rewardlab.io import write_jsonl
    from rewardlab.synth.policy import default_policy, policy_card
    from rewardlab.synth.world import generate_problems
    from rewardlab.train.genrm import GenRMConfig
    from rewardlab.train.genrm import main as train_genrm

    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    cfg = sizes(args)
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        timings[name] = round(time.perf_counter() - clock, 1)
        clock = time.perf_counter()
        print(f"[{name}] {timings[name]} s", flush=True)

    policy = Path(args.policy) if args.policy else default_policy(size=args.policy_size, progress=args.progress)
    lap("policy")
    train_problems = generate_problems(args.train_problems, TRAIN_SEED, "easy")
    eval_problems = generate_problems(args.eval_problems, EVAL_SEED, "easy")
    files = {name: work / f"{name}.jsonl" for name in ("candidates_rm", "candidates_eval", "pairs", "genrm")}
    files["verifier"] = work / "verifier.json"
    sample_candidates(policy, train_problems, eval_problems, cfg, files)
    lap("candidates")
    pairs = build_pairs(train_problems, read_jsonl(files["candidates_rm"]), cfg.pairs_per_problem, seed=0)
    # an empty sample (the tiny policy ends at once now and then) is no training pair for either model
    empty = sum(1 for p in pairs if not (p["chosen"].strip() and p["rejected"].strip()))
    pairs = [p for p in pairs if p["chosen"].strip() and p["rejected"].strip()]
    write_jsonl(files["pairs"], pairs)
    rows = genrm_rows(pairs)
    write_jsonl(files["genrm"], rows)
    bt_record = train_reward_model(files["pairs"], work / "bt", cfg, args.progress)
    lap("bt_train")
    genrm_record = train_genrm(GenRMConfig(
        data=str(files["genrm"]), out=str(work / "genrm"), model=str(policy), epochs=args.genrm_epochs,
        batch_size=16, learning_rate=args.genrm_lr, warmup_ratio=0.1, eval_fraction=0.1, overwrite=True,
        seed=0, progress=args.progress, log_every=10))
    lap("genrm_train")
    pool = read_jsonl(files["candidates_eval"])
    correct = np.array([r["correct"] for r in pool], dtype=bool)
    scores = {"bt": score_pool(f"classifier:{work / 'bt'}", pool)}
    lap("bt_score")
    scores["genrm"] = score_pool(genrm_record["reward"], pool)
    lap("genrm_score")
    figures = compare(scores, correct)
    subsets: dict[str, int] = {}
    for p in pairs:
        subsets[p["subset"]] = subsets.get(p["subset"], 0) + 1
    figures.update({
        "setup": {"policy": str(policy), "policy_size": args.policy_size, "policy_accuracy": policy_card(policy).get(
            "accuracy"), "train_problems": args.train_problems, "train_samples": args.train_samples,
            "eval_problems": args.eval_problems, "pool": args.pool, "temperature": args.temperature,
            "bt_pairs": len(pairs), "bt_pairs_by_subset": subsets,
            "pairs_dropped_empty_side": empty, "genrm_rows": len(rows),
            "genrm_rows_correct": sum(r["label"] == "correct" for r in rows),
            "eval_candidate_accuracy": float(correct.mean()), "eval_pass_at_pool": float(correct.any(1).mean()),
            "verifier": json.loads(files["verifier"].read_text(encoding="utf-8"))},
        "bt": {"steps": bt_record.get("steps"), "train_seconds": bt_record.get("train_seconds"),
               "held_out_pairs": bt_record.get("eval")},
        "genrm": {"reward": genrm_record["reward"], "steps": genrm_record.get("steps"),
                  "train_seconds": genrm_record.get("train_seconds"), "held_out_rows": genrm_record.get("eval")},
        "timings_s": timings, "timings_note": "loaded machine (2 shared CPU cores); to be re-recorded",
    })
    return figures


def summary(figures: dict[str, Any]) -> str:
    pool = figures["setup"]["pool"]
    lines = [f"held-out pairs: {figures['pairs']}; pool {pool}; candidate accuracy "
             f"{figures['setup']['eval_candidate_accuracy']:.3f}"]
    for name in ("genrm", "bt"):
        acc = figures["pairwise"][name]["strict"]
        last = figures["best_of_n"][name][-1]
        lines.append(f"{name:6s} pairwise {acc['value']:.3f} [{acc['ci_low']:.3f}, {acc['ci_high']:.3f}]  "
                     f"best-of-{last['n']} {last['gold']:.3f} [{last['gold_ci_low']:.3f}, {last['gold_ci_high']:.3f}]")
    oracle, rand = figures["best_of_n"]["oracle (verifier)"][-1], figures["best_of_n"]["random"][-1]
    lines.append(f"oracle best-of-{oracle['n']} {oracle['gold']:.3f}; random {rand['gold']:.3f}")
    for key, d in figures["genrm_minus_bt"].items():
        lines.append(f"genrm - bt {key}: {d['diff']:+.3f} [{d['ci_low']:+.3f}, {d['ci_high']:+.3f}] "
                     f"p={d['p_value']:.3f}")
    return "\n".join(lines)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="tiny policy, few problems: checks the pipeline")
    ap.add_argument("--work", default="bench/results/genrm_world", help="scratch folder (candidates, models)")
    ap.add_argument("--out", help="record path (default docs/benchmarks/genrm_world.json; none with --quick)")
    ap.add_argument("--policy", help="a causal LM folder (default: the embedded world's policy)")
    ap.add_argument("--policy-size", default="full", choices=["tiny", "small", "full"])
    ap.add_argument("--train-problems", type=int, default=200)
    ap.add_argument("--train-samples", type=int, default=8)
    ap.add_argument("--pairs-per-problem", type=int, default=3)
    ap.add_argument("--eval-problems", type=int, default=100)
    ap.add_argument("--pool", type=int, default=16, help="candidates per evaluation problem (best-of-N up to it)")
    ap.add_argument("--temperature", type=float, default=0.8)
    ap.add_argument("--bt-epochs", type=int, default=1)
    ap.add_argument("--bt-lr", type=float, default=5e-5)
    ap.add_argument("--genrm-epochs", type=int, default=3)
    ap.add_argument("--genrm-lr", type=float, default=5e-4)
    ap.add_argument("--progress", action="store_true")
    args = ap.parse_args(argv)
    if args.quick:
        args.policy_size, args.train_problems, args.train_samples, args.eval_problems, args.pool = "tiny", 24, 4, 12, 8
        args.genrm_epochs = 1
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    figures = run(args)
    print(summary(figures))
    write_record(args.out or default_out("genrm_world", args.quick), "genrm_world", figures)


if __name__ == "__main__":
    main()
