"""`rewardlab demo` end to end at a reduced size: every stage runs for real (policy SFT, sampling, rule
verification, MiniLM BT training, scoring, curves, report), then a second run reuses the cache."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from rewardlab.demo.pipeline import SIZES, build_pairs, run_demo
from rewardlab.demo.report import held_out_pairs
from rewardlab.synth.bon import answer_ids, majority_vote_curve
from rewardlab.synth.world import generate_problems, is_correct

CI_SIZE = replace(SIZES["small"], name="ci", policy="tiny", rm_problems=12, rm_samples=2, eval_problems=8,
                  eval_samples=4, max_new_tokens=40, policy_eval_problems=0, probe_problems=6)


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

    def pipeline(fresh: bool = False) -> StageCache:
        stages = StageCache(tmp_path, fresh, "k0", echo=lambda line: None)
        for name in ("a", "b", "c"):
            out = tmp_path / f"{name}.txt"
            stages.run(name, (out,), lambda out=out, name=name: (built.append(name), out.write_text(name)))
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
    held_out = results["held_out"]["pairs"] > 0  # the tiny policy may solve nothing: no held-out pairs
    assert page.count("data:image/png;base64,") == 2 + held_out and "Best-of-N" in page
    probe = results["probe"]
    assert set(probe["by_kind"]) == {"arithmetic", "operand", "skip", "final", "flawed"}
    assert probe["all"]["pairs"] == sum(v["pairs"] for v in probe["by_kind"].values()) == 5 * 6

    rows = [json.loads(x) for x in (tmp_path / "candidates_eval.jsonl").read_text().splitlines()]
    assert len(rows) == 8 and all(len(r["responses"]) == 4 for r in rows)
    for r in rows:  # the verifier's labels are the world's exact ones on this world
        assert r["correct"] == [is_correct(t, int(r["reference"])) for t in r["responses"]]
    correct = np.array([r["correct"] for r in rows])

    curves = results["best_of_n"]
    assert [c["n"] for c in curves["random"]] == [1, 2, 4]
    for name in ("reward model", "oracle (verifier)", "majority vote", "random"):
        assert all(0.0 <= c["gold"] <= 1.0 for c in curves[name])
    # N=1 is one random candidate whatever the rule; the oracle is pass@N
    assert curves["reward model"][0]["gold"] == pytest.approx(correct.mean())
    assert curves["random"][0]["gold"] == pytest.approx(correct.mean())
    assert curves["oracle (verifier)"][-1]["gold"] == pytest.approx(correct.any(axis=1).mean())
    assert results["reward_model"]["train_pairs"] == len((tmp_path / "pairs.jsonl").read_text().splitlines()) > 0
    assert results["held_out"]["pairs"] == int(sum(c.sum() * (~c).sum() for c in correct))
    assert results["cached_stages"] == []

    lines.clear()
    run_demo(tmp_path, size=CI_SIZE, progress=False, echo=lines.append)
    again = json.loads((tmp_path / "results.json").read_text())
    assert again["cached_stages"] == ["policy", "candidates", "pairs", "reward_model", "scores"]
    assert again["build_seconds"] == results["build_seconds"] and set(again["build_seconds"]) == set(
        again["cached_stages"])
    assert again["best_of_n"] == results["best_of_n"]
    assert "[policy] cached" in lines


def test_verdict_names_where_the_reward_model_sits():
    from rewardlab.demo.report import verdict

    def curve(rm: float, rand: float, oracle: float) -> dict:
        return {"reward model": [{"n": 16, "gold": rm}], "random": [{"n": 16, "gold": rand}],
                "oracle (verifier)": [{"n": 16, "gold": oracle}], "majority vote": [{"n": 16, "gold": 0.2}]}

    assert "above random and below the oracle" in verdict(curve(0.3, 0.2, 0.6), 10, 0.7)
    probe = {"by_kind": {"arithmetic": {"accuracy": 0.52}, "skip": {"accuracy": 0.8}}}
    low = verdict(curve(0.1, 0.2, 0.6), 10, 0.4, probe)
    assert "not above random" in low and "has not learned" in low and "'arithmetic' mistakes (52%)" in low
    mistakes = {"wrong_answer": {"arithmetic": 3, "phrase": 1, "operand": 0}}
    assert "the first mistake of 75% of the policy's wrong answers is 'arithmetic'" in verdict(
        curve(0.1, 0.2, 0.6), 10, 0.4, probe, mistakes)
    assert "Best-of-16" in low and "40.0%" in low


def test_cli_rejects_an_unknown_size(tmp_path):
    from typer.testing import CliRunner

    from rewardlab.cli import app

    result = CliRunner().invoke(app, ["demo", "--out", str(tmp_path), "--size", "huge"])
    assert result.exit_code == 2 and "unknown size 'huge'" in result.output
    assert not any(tmp_path.iterdir())
