"""rule:math on real labelled data (skipped where ../shared/data is absent).

The full listing of disagreements is produced by ``scripts/check_math_rule.py`` and kept in docs/rules.md;
these tests hold the floors: >= 99% agreement with GSM8K's ``is_correct`` over all 5,276 model solutions,
>= 99% of MATH-500 gold solutions judged equal to their ``answer``, and a negative control showing the
checker does not call unrelated answers equal.
"""

from __future__ import annotations

import json

from rewardlab import Sample, load_reward

GSM = "grade-school-math/grade_school_math/data/example_model_solutions.jsonl"
MATH500 = "math-500/test.jsonl"
MODELS = ("6b_finetuning", "6b_verification", "175b_finetuning", "175b_verification")


def _rows(path):
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_gsm8k_model_solutions_agree_with_is_correct(shared_file):
    rows = _rows(shared_file(GSM))
    samples, labels = [], []
    for row in rows:
        for model in MODELS:
            samples.append(Sample(row["question"], row[model]["solution"], reference=row["ground_truth"]))
            labels.append(row[model]["is_correct"])
    scores = load_reward("rule:math").score(samples)
    assert len(scores) == 4 * len(rows) == 5276
    agree = sum((s.value == 1.0) == y for s, y in zip(scores, labels))
    assert agree / len(labels) >= 0.99, f"{agree}/{len(labels)} agree"
    # Negative control: each solution against the next question's gold answer. Only true coincidences
    # of the final number (about 1%) may be judged equal.
    shifted = [Sample(s.prompt, s.response, reference=rows[(i // 4 + 1) % len(rows)]["ground_truth"])
               for i, s in enumerate(samples)]
    coincidences = sum(s.value == 1.0 for s in load_reward("rule:math").score(shifted))
    assert coincidences / len(shifted) < 0.03


def test_math500_gold_solutions_match_answers(shared_file):
    rows = _rows(shared_file(MATH500))
    rule = load_reward("rule:math")
    scores = rule.score([Sample(r["problem"], r["solution"], reference=r["answer"]) for r in rows])
    equal = sum(s.value == 1.0 for s in scores)
    assert len(rows) == 500 and equal / len(rows) >= 0.99, f"{equal}/500"
    # Negative control on the first 100 items (unequal answers take the slow sympy path): each gold
    # solution against the next item's answer. docs/rules.md lists the 3 coincidences among all 500.
    shifted = rule.score([Sample(r["problem"], r["solution"], reference=rows[i + 1]["answer"])
                          for i, r in enumerate(rows[:100])])
    assert sum(s.value == 1.0 for s in shifted) <= 3
