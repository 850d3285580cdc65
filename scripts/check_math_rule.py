"""Check ``rule:math`` against real labelled data and list every disagreement (the numbers in docs/rules.md).

1. GSM8K ``example_model_solutions.jsonl``: 1,319 questions x 4 model solutions with the dataset's own
   ``is_correct``; the rule scores each solution against the ground-truth solution and must agree.
2. MATH-500: each gold ``solution``'s extracted final answer must be judged equal to the ``answer`` field.
3. A negative control for both: the same answers against a *different* item's gold answer must mostly be
   judged unequal (a checker that says "equal" to everything would pass 1 and 2).

    python scripts/check_math_rule.py [--data ../shared/data] [--limit N]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

from rewardlab import Sample, load_reward

GSM = "grade-school-math/grade_school_math/data/example_model_solutions.jsonl"
MATH500 = "math-500/test.jsonl"
MODELS = ("6b_finetuning", "6b_verification", "175b_finetuning", "175b_verification")


def read_jsonl(path: Path, limit: int | None) -> list[dict]:
    rows = []
    with open(path) as f:
        for line in f:
            if line.strip():
                rows.append(json.loads(line))
            if limit and len(rows) >= limit:
                break
    return rows


def gsm_samples(rows: list[dict], shift: int = 0) -> tuple[list[Sample], list[bool]]:
    """One sample per model solution; ``shift`` pairs each with another question's gold (negative control)."""
    samples, labels = [], []
    for i, row in enumerate(rows):
        gold = rows[(i + shift) % len(rows)]["ground_truth"]
        for model in MODELS:
            solution = row[model]["solution"]
            samples.append(Sample(row["question"], solution, reference=gold, metadata={"id": f"{i}/{model}"}))
            labels.append(bool(row[model]["is_correct"]))
    return samples, labels


def math500_samples(rows: list[dict], shift: int = 0) -> list[Sample]:
    return [Sample(r["problem"], r["solution"], reference=rows[(i + shift) % len(rows)]["answer"],
                   metadata={"id": r["unique_id"]}) for i, r in enumerate(rows)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    parser.add_argument("--limit", type=int, default=None, help="only the first N rows of each file")
    args = parser.parse_args()
    data = Path(args.data)
    rule = load_reward("rule:math")

    t = time.perf_counter()
    gsm_rows = read_jsonl(data / GSM, args.limit)
    samples, labels = gsm_samples(gsm_rows)
    scores = rule.score(samples)
    agree = [(s.value == 1.0) == y for s, y in zip(scores, labels)]
    print(f"## GSM8K example_model_solutions: {sum(agree)}/{len(agree)} agree with is_correct "
          f"({100 * sum(agree) / len(agree):.2f}%), {time.perf_counter() - t:.1f} s")
    for sample, score, y, ok in zip(samples, scores, labels, agree):
        if not ok:
            print(f"- {sample.metadata['id']}: dataset says {y}, rule says {score.value}: {score.rationale}")
    neg, _ = gsm_samples(gsm_rows, shift=1)
    neg_scores = rule.score(neg)
    print(f"  negative control (other question's gold): {sum(s.value == 1.0 for s in neg_scores)}/{len(neg)} "
          "judged equal")

    t = time.perf_counter()
    math_rows = read_jsonl(data / MATH500, args.limit)
    samples = math500_samples(math_rows)
    scores = rule.score(samples)
    equal = [s.value == 1.0 for s in scores]
    how = Counter(s.rationale.rsplit("(", 1)[-1].rstrip(")") for s in scores if s.rationale)
    print(f"## MATH-500 gold solutions: {sum(equal)}/{len(equal)} extracted answers equal `answer` "
          f"({100 * sum(equal) / len(equal):.2f}%), {time.perf_counter() - t:.1f} s; decided by {dict(how)}")
    for sample, score, ok in zip(samples, scores, equal):
        if not ok:
            print(f"- {sample.metadata['id']}: {score.rationale or score.error}")
    neg_scores = rule.score(math500_samples(math_rows, shift=1))
    hits = [(s, sc) for s, sc in zip(math500_samples(math_rows, shift=1), neg_scores) if sc.value == 1.0]
    print(f"  negative control (next item's answer): {len(hits)}/{len(math_rows)} judged equal")
    for sample, score in hits:
        print(f"  - {sample.metadata['id']}: {score.rationale}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
