"""Automatic step labels: MC rollouts (Math-Shepherd) and binary search (OmegaPRM-style), checked against
the world's known first wrong step with a deterministic completer, plus the arithmetic by hand."""

from __future__ import annotations

import json
import math
from collections import defaultdict

import pytest
from typer.testing import CliRunner

from rewardlab.labeling import binary_search_labels, mc_labels
from rewardlab.labeling.run import Task, agreement, label_tasks
from rewardlab.labeling.world import gold_completer, world_verifier
from rewardlab.synth.export import step_rows
from rewardlab.synth.world import generate_problems, is_correct


def truth_table(recoverable_until: int, successes: dict[int, int] | None = None, n_max: int = 8):
    """A real completer over a known truth table: from a prefix of length L (steps 0..L-1), completions
    reach answer 1 iff L <= recoverable_until; ``successes[L]`` (if given) is how many of every n do."""
    calls = []

    def rollout(prefix, n):
        calls.append((len(prefix), n))
        good = successes.get(len(prefix), n) if successes else (n if len(prefix) <= recoverable_until else 0)
        return ["The answer is 1."] * min(good, n) + ["The answer is 0."] * (n - min(good, n))

    def verify(text):
        return text.rstrip().endswith("The answer is 1.")

    return rollout, verify, calls


def test_binary_search_probes_by_hand():
    """T = 8 steps, first wrong step 5 (prefixes of length <= 5 are recoverable).
    final (step 7) wrong -> lo, hi = 0, 7; m = 3: q > 0 -> lo = 4; m = 5: q = 0 -> hi = 5;
    m = 4: q > 0 -> lo = 5 = hi: first error 5."""
    steps = [f"s{i}" for i in range(7)] + ["s7 The answer is 0."]
    rollout, verify, calls = truth_table(recoverable_until=5)
    labels = binary_search_labels(steps, rollout, verify, n=4, chunk=1)
    assert [t for t, _ in labels.trace] == [7, 3, 5, 4]
    assert labels.first_error == 5
    assert labels.hard == [1.0] * 5 + [0.0, None, None]
    # positive probes stop at their first success (1 rollout each), the negative one draws all 4
    assert labels.rollouts == 1 + 4 + 1 and labels.probes == 4 and calls == [(4, 1), (6, 1), (6, 1), (6, 1),
                                                                             (6, 1), (5, 1)]


def test_mc_soft_and_hard_labels_are_success_shares():
    """c_t successes of n = 8 from prefixes of length 1, 2, 3: q = c/n; the full solution is just verified."""
    steps = ["a", "b", "c", "d The answer is 0."]
    rollout, verify, _ = truth_table(0, successes={1: 8, 2: 6, 3: 3})
    labels = mc_labels(steps, rollout, verify, n=8)
    assert labels.soft == [1.0, 0.75, 0.375, 0.0]
    assert labels.hard == [1.0, 1.0, 1.0, 0.0]
    assert labels.first_error == 3 and labels.rollouts == 3 * 8 and labels.verifications == 3 * 8 + 1


def test_early_stop_draws_until_the_first_success():
    steps = ["a", "b The answer is 0."]
    rollout, verify, calls = truth_table(0, successes={1: 1})  # 1 success in 8, placed first
    assert binary_search_labels(steps, rollout, verify, n=8, chunk=1).rollouts == 1
    assert binary_search_labels(steps, rollout, verify, n=8, chunk=8).rollouts == 8


def world_tasks(n_problems=12, seed=0):
    problems = generate_problems(n_problems, seed)
    by_id = {p.id: p for p in problems}
    tasks = []
    for row in step_rows(problems, seed):
        problem = by_id[row["id"].rsplit("-", 1)[0]]
        tasks.append(Task(row["id"], row["prompt"], row["steps"], gold_completer(problem), world_verifier(problem),
                          row["first_error"], row["kind"], row["reference"]))
    return tasks


def test_gold_completer_is_right_from_gold_prefixes_and_wrong_after_a_used_error():
    problem = generate_problems(1, 5, "hard")[0]
    complete = gold_completer(problem)
    for t in range(len(problem.steps) - 1):
        (completion,) = complete(problem.steps[: t + 1], 1)
        assert is_correct("\n".join([*problem.steps[: t + 1], completion]), problem.answer)
    broken = problem.steps[0].replace(f"= {problem.values()[0]}.", f"= {problem.values()[0] + 1}.")
    (completion,) = complete([broken], 1)
    assert not is_correct(broken + "\n" + completion, problem.answer)


def test_both_methods_find_the_gold_first_error_with_a_perfect_completer():
    tasks = world_tasks()
    results = {m: label_tasks(tasks, m, n=4)[0] for m in ("mc", "binary")}
    by_kind = defaultdict(list)
    for task, mc, binary in zip(tasks, results["mc"], results["binary"]):
        by_kind[task.kind].append((task, mc, binary))
    assert set(by_kind) >= {"correct", "arithmetic", "operand", "skip", "final", "flawed"}
    for kind, items in by_kind.items():
        for task, mc, binary in items:
            if kind == "flawed":  # final answer right: invisible to binary search by construction
                assert binary.first_error == -1 and binary.rollouts == 0
                assert mc.first_error in (task.gold_first_error, -1)
            else:
                assert mc.first_error == task.gold_first_error, (kind, task.id)
                assert binary.first_error == task.gold_first_error, (kind, task.id)
            T = len(task.steps)
            assert mc.rollouts == 4 * (T - 1)
            assert binary.probes <= 1 + math.ceil(math.log2(T)) and binary.rollouts <= 4 * math.ceil(math.log2(T))
    wrong = [i for i, t in enumerate(tasks) if t.gold_first_error != -1]
    assert sum(results["binary"][i].rollouts for i in wrong) < sum(results["mc"][i].rollouts for i in wrong) / 2
    # a perfect prefix-trusting solver also exposes some flawed steps (a shown wrong number it carries on)
    assert any(mc.first_error == t.gold_first_error for t, mc, _ in by_kind["flawed"])


def test_agreement_arithmetic():
    from rewardlab.labeling.mc import StepLabels

    def task(gold, kind):
        return Task("x", "p", ["a", "b", "c"], None, None, gold, kind)  # type: ignore[arg-type]

    tasks = [task(-1, "correct"), task(1, "arithmetic"), task(2, "arithmetic"), task(0, "flawed")]
    labels = [StepLabels([], [], -1, rollouts=0, probes=1), StepLabels([], [], 1, rollouts=8, probes=3),
              StepLabels([], [], 1, rollouts=4, probes=2), StepLabels([], [], -1, rollouts=0, probes=1)]
    report = agreement(tasks, labels)
    assert report["all"]["agreement"] == 2 / 4 and report["all"]["rollouts_per_solution"] == 12 / 4
    assert report["correct_solutions"]["agreement"] == 1.0
    assert report["wrong_solutions"]["agreement"] == 1 / 3
    assert report["per_kind"]["arithmetic"] == pytest.approx({
        "solutions": 2, "agreement": 0.5, "rollouts": 12, "rollouts_per_solution": 6.0,
        "probes_per_solution": 2.5, "mean_steps": 3.0})


def test_label_steps_command_writes_labels_that_train_prm_reads(tmp_path):
    from rewardlab.cli import app
    from rewardlab.data import load_steps

    result = CliRunner().invoke(app, ["label-steps", "--out", str(tmp_path), "--completer", "gold",
                                      "--problems", "3", "--n", "2", "--no-progress"])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "report.json").read_text())
    assert set(report["methods"]) == {"mc", "binary"} and report["methods"]["mc"]["all"]["solutions"] >= 9
    mc, binary = load_steps(tmp_path / "mc.jsonl"), load_steps(tmp_path / "binary.jsonl")
    assert all(r.labels is not None and len(r.labels) == len(r.steps) for r in mc)
    assert all(r.first_error is not None for r in binary)
    bad = CliRunner().invoke(app, ["label-steps", "--out", str(tmp_path), "--data", "x.jsonl",
                                   "--completer", "gold"])
    assert bad.exit_code != 0 and "needs --data world" in bad.output


def test_policy_completer_drives_both_methods_with_a_real_generate(tmp_path):
    """An untrained tiny Llama is a real (if hopeless) policy: rollouts are generated, counted, and
    reproducible for the same seed."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from rewardlab.labeling.world import policy_completer
    from rewardlab.testing import tiny_llama

    path = tiny_llama(tmp_path / "policy")
    model, tokenizer = AutoModelForCausalLM.from_pretrained(path).eval(), AutoTokenizer.from_pretrained(path)
    problem = generate_problems(1, 0, "easy")[0]
    first = policy_completer(model, tokenizer, problem.prompt, max_new_tokens=6, seed=1)(problem.steps[:1], 3)
    again = policy_completer(model, tokenizer, problem.prompt, max_new_tokens=6, seed=1)(problem.steps[:1], 3)
    assert len(first) == 3 and first == again and all(isinstance(c, str) for c in first)
    wrong = list(problem.steps[:-1]) + ["The answer is 0."]
    rollout = policy_completer(model, tokenizer, problem.prompt, max_new_tokens=6)
    mc = mc_labels(wrong, rollout, world_verifier(problem), n=2)
    binary = binary_search_labels(wrong, rollout, world_verifier(problem), n=2, chunk=2)
    assert mc.rollouts == 2 * (len(wrong) - 1) and len(mc.soft) == len(wrong)
    assert binary.rollouts == 2 * (binary.probes - 1) and binary.first_error in range(len(wrong))
