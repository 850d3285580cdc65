"""Real-data results for ``rewardlab train bt`` (reported in docs/training.md; not a test).

Two tasks on the shared, read-only data (``../shared/data`` or ``$REWARDLAB_DATA``):

- **GSM8K verifier.** ``grade-school-math/.../example_model_solutions.jsonl`` has 4 model solutions per
  test question with gold correctness. Pairs are (correct, incorrect) solutions of the same question;
  questions are split into train and held-out *by question*. Reported on held-out questions: pairwise
  accuracy with a bootstrap 95% CI, and best-of-4 accuracy (expected correctness of the top-scored
  solution, ties broken uniformly) against a random pick, majority vote on the final answer (``A: ...``)
  and the oracle.
- **hh-rlhf harmless.** The harmless-base test split, split by prompt into train and held-out pairs.

Every number is also given for two baselines: the untrained head (``classifier:minilm``: MiniLM with a
freshly initialised, seeded head) and length only (the longer response wins; the shorter-wins figure is
shown too, since for these tasks either could be the informed guess).

    python bench/real_data_results.py                      # full size (long on 2 CPU cores)
    python bench/real_data_results.py --max-train-pairs 600 --max-eval-pairs 400 --max-length 256
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
GSM8K = "grade-school-math/grade_school_math/data/example_model_solutions.jsonl"
HH = "hh-rlhf/harmless-base/test.jsonl.gz"
SOLVERS = ("6b_finetuning", "6b_verification", "175b_finetuning", "175b_verification")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", choices=["gsm8k", "hh", "both"], default="both")
    parser.add_argument("--data-root", default=os.environ.get("REWARDLAB_DATA", str(REPO.parent / "shared" / "data")))
    parser.add_argument("--out", default=str(REPO / "runs" / "real_data"), help="models and results.json go here")
    parser.add_argument("--model", default="minilm")
    parser.add_argument("--held-out", type=float, default=0.3, help="share of questions / prompts held out")
    parser.add_argument("--max-train-pairs", type=int, default=None, help="cap on training pairs (seeded sample)")
    parser.add_argument("--max-eval-pairs", type=int, default=None, help="cap on held-out hh pairs")
    parser.add_argument("--max-eval-questions", type=int, default=None, help="cap on held-out GSM8K questions")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--learning-rate", type=float, default=3e-5)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-length", type=int, default=512)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {"settings": vars(args)}
    if args.task in ("gsm8k", "both"):
        results["gsm8k"] = run_gsm8k(args, out / "gsm8k")
    if args.task in ("hh", "both"):
        results["hh_rlhf_harmless"] = run_hh(args, out / "hh")
    from rewardlab.io import write_json

    write_json(out / "results.json", results)
    print(json.dumps(results, indent=1, default=str))
    print(f"\nwritten to {out / 'results.json'}")


# ------------------------------------------------------------------ GSM8K verifier
def final_answer(solution: str) -> str | None:
    """The text after the last ``A:`` (GSM8K sample solutions end with ``A: <answer>``), normalised."""
    match = re.findall(r"A:\s*(.+)", solution)
    if not match:
        return None
    return match[-1].strip().rstrip(".").replace(",", "").replace("$", "")


def held_out(key: str, fraction: float, seed: int) -> bool:
    digest = hashlib.sha256(f"{seed}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction


def gsm8k_split(rows: list[dict[str, Any]], args) -> tuple[list[dict], list[dict]]:
    train_pairs, eval_groups = [], []
    for row in rows:
        sols = [(row[k]["solution"], bool(row[k]["is_correct"])) for k in SOLVERS]
        if held_out(row["question"], args.held_out, args.seed):
            eval_groups.append({"prompt": row["question"], "solutions": sols})
            continue
        right = [s for s, ok in sols if ok]
        wrong = [s for s, ok in sols if not ok]
        train_pairs += [{"prompt": row["question"], "chosen": c, "rejected": r} for c in right for r in wrong if c != r]
    train_pairs = _cap(train_pairs, args.max_train_pairs, args.seed)
    eval_groups = _cap(eval_groups, args.max_eval_questions, args.seed)
    return train_pairs, eval_groups


def run_gsm8k(args, out: Path) -> dict[str, Any]:
    path = Path(args.data_root) / GSM8K
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    train_pairs, groups = gsm8k_split(rows, args)
    eval_pairs = [{"prompt": g["prompt"], "chosen": c, "rejected": r} for g in groups
                  for c, ok_c in g["solutions"] if ok_c for r, ok_r in g["solutions"] if not ok_r and c != r]
    out.mkdir(parents=True, exist_ok=True)
    train_file, eval_file = _write(out / "train.jsonl", train_pairs), _write(out / "eval.jsonl", eval_pairs)
    record = train(args, train_file, eval_file, out / "model")

    from rewardlab.types import Sample

    samples = [Sample(g["prompt"], s) for g in groups for s, _ in g["solutions"]]
    correct = np.array([[ok for _, ok in g["solutions"]] for g in groups], dtype=bool)
    report: dict[str, Any] = {"train_pairs": len(train_pairs), "eval_pairs": len(eval_pairs),
                              "eval_questions": len(groups), "train": _train_summary(record)}
    for name, scorer in scorers(args, out / "model").items():
        values = np.array(scorer(samples), dtype=np.float64).reshape(len(groups), 4)
        report[name] = {"pairwise": pair_accuracy_from_groups(values, correct),
                        "best_of_4": credit_summary(best_of_n(values, correct))}
    report["random_pick"] = credit_summary(correct.mean(axis=1))
    report["majority_vote"] = credit_summary(majority_vote(groups))
    report["oracle"] = credit_summary(correct.any(axis=1).astype(float))
    return report


def best_of_n(scores: np.ndarray, correct: np.ndarray) -> np.ndarray:
    from rewardlab.evaluate.metrics import best_of_n_credit

    return best_of_n_credit(scores, correct)


def majority_vote(groups: list[dict[str, Any]]) -> np.ndarray:
    """Expected correctness of the most frequent final answer (ties between answers broken uniformly)."""
    credit = []
    for g in groups:
        answers: dict[str | None, list[bool]] = {}
        for solution, ok in g["solutions"]:
            answers.setdefault(final_answer(solution), []).append(ok)
        top = max(len(v) for v in answers.values())
        winners = [v for v in answers.values() if len(v) == top]
        credit.append(np.mean([any(v) for v in winners]))
    return np.array(credit, dtype=np.float64)


def pair_accuracy_from_groups(values: np.ndarray, correct: np.ndarray) -> dict[str, float]:
    chosen, rejected = [], []
    for row, ok in zip(values, correct):
        for i in np.flatnonzero(ok):
            for j in np.flatnonzero(~ok):
                chosen.append(row[i])
                rejected.append(row[j])
    return accuracy_summary(np.array(chosen), np.array(rejected))


# ------------------------------------------------------------------ hh-rlhf harmless
def run_hh(args, out: Path) -> dict[str, Any]:
    from rewardlab.data import FieldKeys
    from rewardlab.train.records import load_pairs_checked

    pairs, _, bad = load_pairs_checked(str(Path(args.data_root) / HH), FieldKeys(), "skip")
    rows = [{"prompt": p.prompt, "chosen": p.chosen, "rejected": p.rejected} for p in pairs]
    train_rows = [r for r in rows if not held_out(json.dumps(r["prompt"]), args.held_out, args.seed)]
    eval_rows = [r for r in rows if held_out(json.dumps(r["prompt"]), args.held_out, args.seed)]
    train_rows = _cap(train_rows, args.max_train_pairs, args.seed)
    eval_rows = _cap(eval_rows, args.max_eval_pairs, args.seed)
    out.mkdir(parents=True, exist_ok=True)
    train_file, eval_file = _write(out / "train.jsonl", train_rows), _write(out / "eval.jsonl", eval_rows)
    record = train(args, train_file, eval_file, out / "model")

    from rewardlab.data import load_pairs

    held = load_pairs(eval_file)
    samples = [s for p in held for s in p.samples()]
    report: dict[str, Any] = {"pairs_in_file": len(pairs) + bad.total, "left_out": bad.counts(),
                              "train_pairs": len(train_rows), "eval_pairs": len(eval_rows),
                              "train": _train_summary(record)}
    for name, scorer in scorers(args, out / "model").items():
        values = np.array(scorer(samples), dtype=np.float64)
        report[name] = accuracy_summary(values[0::2], values[1::2])
    return report


# ------------------------------------------------------------------ shared
def train(args, train_file: Path, eval_file: Path, out: Path) -> dict[str, Any]:
    from rewardlab.train import bt
    from rewardlab.train.config import BTConfig

    start = time.perf_counter()
    record = bt.main(BTConfig(data=str(train_file), eval=str(eval_file), out=str(out), model=args.model,
                              epochs=args.epochs, learning_rate=args.learning_rate, batch_size=args.batch_size,
                              max_length=args.max_length, seed=args.seed, overwrite=True, bad_pairs="skip",
                              warmup_ratio=0.1))
    record["wall_seconds"] = time.perf_counter() - start
    return record


def scorers(args, model_dir: Path) -> dict[str, Any]:
    """Trained model, untrained head and the two length rules, each mapping samples to scores."""
    from rewardlab import load_reward
    from rewardlab.scoring import score_samples

    def reward(spec: str):
        rm = load_reward(f"{spec},max_length={args.max_length}")
        return lambda samples: [s.value for s in score_samples(rm, samples, show_progress=False)[0]]

    return {
        "trained_bt": reward(f"classifier:{model_dir}"),
        "untrained_head": reward(f"classifier:{args.model}"),
        "length_longer_wins": lambda samples: [float(len(s.response)) for s in samples],
        "length_shorter_wins": lambda samples: [-float(len(s.response)) for s in samples],
    }


def accuracy_summary(chosen: np.ndarray, rejected: np.ndarray) -> dict[str, float]:
    from rewardlab.train.records import pairwise_accuracy

    return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in pairwise_accuracy(chosen, rejected).items()}


def credit_summary(credit: np.ndarray) -> dict[str, float]:
    from rewardlab.evaluate.metrics import accuracy_from_credit

    acc = accuracy_from_credit(credit)
    return {"accuracy": round(acc.value, 4), "ci_low": round(acc.ci_low, 4), "ci_high": round(acc.ci_high, 4),
            "questions": acc.scored}


def _train_summary(record: dict[str, Any]) -> dict[str, Any]:
    keys = ("train_pairs", "eval_pairs", "steps", "train_seconds", "pairs_per_second", "wall_seconds",
            "truncated", "dropped_too_long", "bad_records", "reward_mean", "reward_std")
    return {k: record.get(k) for k in keys}


def _cap(items: list, limit: int | None, seed: int) -> list:
    if limit is None or len(items) <= limit:
        return items
    rng = np.random.default_rng(seed)
    keep = sorted(rng.choice(len(items), size=limit, replace=False).tolist())
    return [items[i] for i in keep]


def _write(path: Path, rows: list[dict[str, Any]]) -> Path:
    from rewardlab.io import write_jsonl

    write_jsonl(path, rows)
    return path


if __name__ == "__main__":
    main()
