"""`rewardlab demo` end to end at a reduced size: every stage runs for real (policy SFT, sampling, rule
verification, MiniLM BT training, equation labels, the step verifier's training on the policy, scoring,
comparison with CIs, report), then a second run reuses the cache. At this size nothing is asserted about
which rule wins."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from rewardlab.demo.compare import comparison, majority_full_pool, per_problem, vote_rule, weighted_vote_full_pool
from rewardlab.demo.pipeline import OUTCOME_RM, REWARDS, SIZES, STEP_VERIFIER, build_pairs, run_demo
from rewardlab.demo.report import held_out_pairs
from rewardlab.demo.verifier import equation_holds, equation_text, solution_equations, verifier_rows
from rewardlab.search.answers import answer_ids
from rewardlab.search.voting import majority_vote_curve
from rewardlab.synth.world import generate_problems, is_correct

CI_SIZE = replace(SIZES["small"], name="ci", policy="tiny", rm_problems=12, rm_samples=2, eval_problems=8,
                  eval_samples=4, max_new_tokens=40, policy_eval_problems=0, probe_problems=6,
                  verifier_world_problems=6)


def test_majority_vote_hand_computed():
    # group 0: answers [7, 7, 3, None]; 7 is right. group 1: nobody answers.
    ids = answer_ids([[7, 7, 3, None], [None, None, None, None]])
    assert ids.tolist() == [[0, 0, 1, -1], [-1, -1, -1, -1]]
    correct = np.array([[True, True, False, False], [False] * 4])
    rows = majority_vote_curve(ids, correct, [1, 4], subsets=4000, seed=0)
    # N=1: a random candidate votes alone: right with prob 2/4 (the None abstains -> wrong); group 1 scores 0
    assert rows[0]["gold"] == pytest.approx((0.5 + 0.0) / 2, abs=0.02)
    # N=4: 7 has two votes, 3 one: always right in group 0 (exact, one subset)
    assert rows[1] == {"n": 4, "gold": 0.5, "subsets": 1}
    # N=2 in group 0: pairs {7,7}:1 of 6, {7,3}: tie -> 1/2 (2 pairs), {7,None}: 1 (2 pairs), {3,None}: 0
    two = majority_vote_curve(ids[:1], correct[:1], [2], subsets=20000, seed=1)[0]["gold"]
    assert two == pytest.approx((1 + 2 * 0.5 + 2 * 1 + 0) / 6, abs=0.01)


def test_stage_cache_reruns_a_stage_and_everything_after_it(tmp_path):
    from rewardlab.demo.pipeline import StageCache

    built: list[str] = []

    def pipeline(fresh: bool = False, b_setting: int = 1) -> StageCache:
        stages = StageCache(tmp_path, fresh, "k0", echo=lambda line: None)
        for name in ("a", "b", "c"):
            out = tmp_path / f"{name}.txt"
            stages.run(name, (out,), lambda out=out, name=name: (built.append(name), out.write_text(name)),
                       {"setting": b_setting} if name == "b" else None)
        return stages

    assert pipeline().cached == [] and built == ["a", "b", "c"]
    built.clear()
    assert pipeline().cached == ["a", "b", "c"] and built == []
    (tmp_path / "b.txt").unlink()  # b's output is gone: b reruns, and so does c, which reads it
    assert pipeline().cached == ["a"] and built == ["b", "c"]
    built.clear()
    assert pipeline(fresh=True).cached == [] and built == ["a", "b", "c"]
    (tmp_path / "demo_cache.json").write_text('{"keys": {"a": "stale", "b": "stale", "c": "stale"}}')
    built.clear()
    assert pipeline().cached == [] and built == ["a", "b", "c"]  # a changed input key reruns too
    built.clear()
    assert pipeline(b_setting=2).cached == ["a"] and built == ["b", "c"]  # b's own setting: a is kept


def test_held_out_pairs_are_every_correct_wrong_combination():
    scores = np.array([[3.0, 1.0, 2.0], [0.5, 0.1, 0.2]])
    correct = np.array([[True, False, False], [False, True, True]])
    chosen, rejected = held_out_pairs(scores, correct)
    assert chosen.tolist() == [3.0, 3.0, 0.1, 0.2] and rejected.tolist() == [1.0, 2.0, 0.5, 0.5]


def test_build_pairs_uses_stand_ins_only_when_needed():
    problems = generate_problems(3, seed=0, difficulty="easy")
    good = problems[0].solution
    rows = [{"responses": [good, "x The answer is 1."], "correct": [True, False]},
            {"responses": ["a The answer is 1.", "b The answer is 2."], "correct": [False, False]},
            {"responses": [problems[2].solution], "correct": [True]}]
    pairs = build_pairs(problems, rows, per_problem=2)
    assert [p["subset"] for p in pairs] == ["policy-vs-policy", "gold-vs-policy", "gold-vs-policy",
                                            "policy-vs-corrupt"]
    assert pairs[0]["chosen"] == good and pairs[1]["chosen"] == problems[1].solution
    assert not is_correct(pairs[3]["rejected"], problems[2].answer)


@pytest.mark.slow
def test_demo_end_to_end_then_cached(tmp_path):
    lines: list[str] = []
    report = run_demo(tmp_path, size=CI_SIZE, progress=False, echo=lines.append)
    assert report == tmp_path / "report.html" and f"report: {report.resolve()}" in lines
    page = report.read_text()
    results = json.loads((tmp_path / "results.json").read_text())
    assert page.index("Which reward helps this policy") < page.index("data:image/png;base64,") < page.index(
        "Best-of-N (accuracy")
    assert all(name in page for name in (*REWARDS, "majority vote", "random", "oracle (verifier)"))

    rows = [json.loads(x) for x in (tmp_path / "candidates_eval.jsonl").read_text().splitlines()]
    assert len(rows) == 8 and all(len(r["responses"]) == 4 for r in rows)
    for r in rows:  # the verifier's labels are the world's exact ones on this world
        assert r["correct"] == [is_correct(t, int(r["reference"])) for t in r["responses"]]
    correct = np.array([r["correct"] for r in rows])

    rules = results["comparison"]["rules"]
    votes = [vote_rule(name) for name in REWARDS]
    assert set(rules) == {*REWARDS, *votes, "majority vote", "random", "oracle (verifier)"}
    for name, rule in rules.items():
        assert rule["problems"] == 8 and rule["ci_low"] <= rule["accuracy"] <= rule["ci_high"], name
    assert rules["random"]["accuracy"] == pytest.approx(correct.mean())
    assert rules["oracle (verifier)"]["accuracy"] == pytest.approx(correct.any(axis=1).mean())
    for name in (*REWARDS, *votes):  # each learned rule against both baselines, paired over the same 8 problems
        assert set(rules[name]["vs"]) == {"random", "majority vote"}
        assert rules[name]["vs"]["random"]["n"] == 8 and isinstance(rules[name]["beats_baselines"], bool)
        assert rules[name]["vs"]["random"]["diff"] == pytest.approx(rules[name]["accuracy"] - correct.mean())
    assert results["note"].startswith(("No learned reward", *(f"{n} helps" for n in (*REWARDS, *votes))))

    curves = results["best_of_n"]
    assert set(curves) == {*REWARDS, *votes, "majority vote", "random", "oracle (verifier)"}
    assert [c["n"] for c in curves["random"]] == [1, 2, 4]
    for name in REWARDS:  # N=1 is one random candidate whatever the reward; N=M is the comparison's value
        assert curves[name][0]["gold"] == pytest.approx(correct.mean())
        assert curves[name][-1]["gold"] == pytest.approx(rules[name]["accuracy"])
    assert curves["oracle (verifier)"][-1]["gold"] == pytest.approx(correct.any(axis=1).mean())
    for name in votes:  # a weighted vote over the whole pool is exact (one subset): the comparison's value
        assert curves[name][-1]["gold"] == pytest.approx(rules[name]["accuracy"])
    assert results["vote_weighting"] == {STEP_VERIFIER: "raw", OUTCOME_RM: "sigmoid"}

    prm, bt = (results["rewards"][name] for name in (STEP_VERIFIER, OUTCOME_RM))
    assert bt["recipe"] == "bt" and bt["train"]["pairs"] == len((tmp_path / "pairs.jsonl").read_text().splitlines())
    steps = [json.loads(x) for x in (tmp_path / "verifier_steps.jsonl").read_text().splitlines()]
    assert prm["recipe"] == "prm" and prm["train"]["step_rows"] == len(steps)
    by_source = prm["train"]["step_rows_by_source"]
    assert by_source.get("world/gold", 0) + by_source.get("world/slipped", 0) == 6 * (1 + CI_SIZE.verifier_copies)
    # a candidate without any equation has nothing to check: NaN, counted as a failure
    assert prm["failed_scores"] == sum(not solution_equations(t) for r in rows for t in r["responses"])
    assert Path(prm["backbone"]) == tmp_path / "policy"  # the verifier starts from the policy's own weights
    for block in (bt, prm):
        assert block["held_out"]["pairs"] == int(sum(c.sum() * (~c).sum() for c in correct))
        assert set(block["probe"]["by_kind"]) == {"arithmetic", "operand", "skip", "final", "flawed"}
        assert block["probe"]["all"]["pairs"] == 5 * 6
    assert results["cached_stages"] == []

    lines.clear()
    run_demo(tmp_path, size=CI_SIZE, progress=False, echo=lines.append)
    again = json.loads((tmp_path / "results.json").read_text())
    assert again["cached_stages"] == ["policy", "candidates", "verifier_steps", "verifier", "pairs", "reward_model",
                                      "scores"]
    assert again["build_seconds"] == results["build_seconds"] and set(again["build_seconds"]) == set(
        again["cached_stages"])
    assert again["best_of_n"] == results["best_of_n"] and again["comparison"] == results["comparison"]
    assert "[policy] cached" in lines

    # without the outcome RM: its stages are skipped, the scores are rebuilt for the verifier alone
    alone = json.loads((run_demo(tmp_path, size=replace(CI_SIZE, outcome_rm=False), progress=False,
                                 echo=lines.append).parent / "results.json").read_text())
    assert alone["cached_stages"] == ["policy", "candidates", "verifier_steps", "verifier"]
    assert set(alone["comparison"]["rules"]) == {STEP_VERIFIER, vote_rule(STEP_VERIFIER), "majority vote", "random",
                                                 "oracle (verifier)"}
    assert alone["comparison"]["rules"][STEP_VERIFIER] == results["comparison"]["rules"][STEP_VERIFIER]


def test_majority_full_pool_is_the_curve_at_n_equals_m():
    answers = [[7, 7, 3, None], [None] * 4, [1, 2, 2, 1], [5, 6, 8, 9]]
    correct = np.array([[1, 1, 0, 0], [0] * 4, [1, 0, 0, 1], [0, 0, 1, 0]], dtype=bool)
    exact = majority_full_pool(answers, correct)
    assert exact.tolist() == [1.0, 0.0, 0.5, 0.25]  # a 2-2 tie splits evenly; four singletons: 1 in 4
    curve = majority_vote_curve(answer_ids(answers), correct, [4], seed=0)[0]["gold"]
    assert curve == pytest.approx(exact.mean())  # search's curve credits ties their expected value too


def test_comparison_marks_a_reward_that_beats_both_baselines():
    rng = np.random.default_rng(0)
    correct = rng.random((60, 8)) < 0.3
    answers = [[int(k) if c else int(10 + rng.integers(5)) for k, c in zip(range(8), row)] for row in correct]
    perfect, noise = correct.astype(float), rng.random(correct.shape)
    values = per_problem({"perfect": perfect, "noise": noise}, correct, answers)
    comp = comparison(values, ["perfect", "noise"])
    assert comp["rules"]["perfect"]["accuracy"] == comp["rules"]["oracle (verifier)"]["accuracy"]
    assert comp["rules"]["perfect"]["beats_baselines"] and not comp["rules"]["noise"]["beats_baselines"]
    low, high = comp["rules"]["noise"]["vs"]["random"]["ci_low"], comp["rules"]["noise"]["vs"]["random"]["ci_high"]
    assert low < 0 < high


def test_verifier_rows_label_each_equation_by_its_own_arithmetic():
    assert equation_text("After baking: 18 + 36 = 54. The answer is 54.") == "18 + 36 = 54."
    assert equation_text("The answer is 54.") is None
    assert equation_holds("18 + 36 = 54.") and not equation_holds("15 + 6 = 23.") and not equation_holds("7 / 2 = 3.")
    problem = generate_problems(1, seed=0, difficulty="easy")[0]
    gold = solution_equations(problem.solution)
    wrong_first = "\n".join([problem.steps[0].replace(" = ", " = 1", 1), *problem.steps[1:]])  # "= 1c.": false
    samples = [problem.solution, wrong_first, problem.solution, "no equation at all"]
    rows = verifier_rows([problem], [{"responses": samples}], seed=0, copies=3)
    world = [r for r in rows if r["origin"] == "world"]
    policy = [r for r in rows if r["origin"] == "policy"]
    assert len(world) == 4 and sum(r["steps"] == gold for r in world) >= 1  # gold, then three random copies
    for r in world:  # a slipped step is wrong, every other step (even one reading a slipped number) is right
        assert r["labels"] == [int(a == b) for a, b in zip(r["steps"], gold)]
        assert r["kind"] == ("gold" if r["steps"] == gold else "slipped")
    assert len(policy) == 2  # distinct samples with an equation: the duplicate and the equation-less one go
    by_label = sorted(r["labels"] for r in policy)
    assert by_label == sorted([[1] * len(gold), [0] + [1] * (len(gold) - 1)])
    assert all(r["prompt"] == "Answer:\n" for r in rows)


def test_weighted_vote_hand_computed():
    answers = [[7, 7, 3, None], [1, 2, 2, 1], [5, 6, 5, 9]]
    correct = np.array([[1, 1, 0, 0], [1, 0, 0, 1], [0, 1, 0, 0]], dtype=bool)
    weights = np.array([[0.1, 0.1, 0.9, 5.0], [0.5, 0.2, 0.2, 0.5], [0.25, 0.5, 0.25, 0.0]])
    # 3 outweighs 7 (0.9 > 0.2), the abstainer's weight counts for nobody; 1 beats 2 (1.0 vs 0.4); 6 ties 5 (0.5 each)
    assert weighted_vote_full_pool(answers, correct, weights).tolist() == [0.0, 1.0, 0.5]
    assert weighted_vote_full_pool(answers, correct, np.ones((3, 4))).tolist() == majority_full_pool(
        answers, correct).tolist()  # equal weights: plain majority vote


def test_verdict_leads_with_the_answer():
    from rewardlab.demo.report import verdict

    def rule(acc: float, beats: bool | None = None, diff: float = 0.0) -> dict:
        out = {"accuracy": acc, "ci_low": acc - 0.05, "ci_high": acc + 0.05, "problems": 150}
        if beats is not None:
            d = {"diff": diff, "ci_low": diff - 0.04, "ci_high": diff + 0.04}
            out.update(vs={"random": d, "majority vote": d}, beats_baselines=beats)
        return out

    comp = {"learned": ["A", "B"], "rules": {"A": rule(0.3, True, 0.15), "B": rule(0.14, False, 0.0),
                                            "random": rule(0.14), "majority vote": rule(0.13),
                                            "oracle (verifier)": rule(0.6)}}
    probe = {"by_kind": {"arithmetic": {"accuracy": 0.52}, "skip": {"accuracy": 0.8}}}
    rewards = {n: {"stage_seconds": 40.0, "score_seconds": 2.5, "probe": probe} for n in "AB"}
    text = verdict(comp, rewards, {"per_problem": 16}, {"wrong_answer": {"arithmetic": 3, "phrase": 1}})
    assert text.startswith("A helps this policy: at best-of-16 on 150 held-out problems (random 14.0%")
    assert "it picks a correct solution 30.0% [25.0%, 35.0%]" in text and "+15.0 points [+11.0, +19.0]" in text
    assert "40 s to train, 2.5 s to score" in text and "The other rules: B picks a correct solution 14.0%" in text
    assert "B does not separate" in text and "'arithmetic' mistakes (52%)" in text and "75%" in text
    comp["rules"]["A"]["beats_baselines"] = False
    assert verdict(comp, rewards, {"per_problem": 16}).startswith("No learned reward beats both")
    comp["learned"].append(vote_rule("B"))  # a vote weighted by B: named as such, costed as B
    comp["rules"][vote_rule("B")] = rule(0.25, True, 0.11)
    text = verdict(comp, rewards, {"per_problem": 16})
    assert text.startswith("A majority vote weighted by B helps this policy: at best-of-16")
    assert "it picks a correct solution 25.0%" in text and "A picks a correct solution 30.0%" in text
    assert "B does not separate" not in text and "A does not separate" in text  # B's vote helps: B sees something


def test_cli_rejects_an_unknown_size(tmp_path):
    from typer.testing import CliRunner

    from rewardlab.cli import app

    result = CliRunner().invoke(app, ["demo", "--out", str(tmp_path), "--size", "huge"])
    assert result.exit_code == 2 and "unknown size 'huge'" in result.output
    assert not any(tmp_path.iterdir())
