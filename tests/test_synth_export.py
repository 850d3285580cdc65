"""Exported files: standard formats, exact labels, deterministic, and `rewardlab synth` writes them."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from rewardlab.synth.export import bon_rows, pair_rows, prefix_labels, step_rows, write_world
from rewardlab.synth.world import first_error, generate_problems, is_correct

PROBLEMS = generate_problems(40, seed=5)


def test_prefix_labels_hand_computed():
    assert prefix_labels(4, -1) == [1, 1, 1, 1]
    assert prefix_labels(4, 0) == [0, 0, 0, 0]
    assert prefix_labels(4, 2) == [1, 1, 0, 0]


def test_pairs_chosen_is_gold_rejected_is_wrong():
    rows = pair_rows(PROBLEMS, seed=0)
    assert {r["subset"] for r in rows} == {"arithmetic", "operand", "skip", "final", "flawed"}
    by_id = {p.id: p for p in PROBLEMS}
    for r in rows:
        p = by_id[r["id"].rsplit("-", 1)[0]]
        assert set(r) == {"id", "prompt", "chosen", "rejected", "subset"}
        assert r["prompt"] == p.prompt and r["chosen"] == p.solution != r["rejected"]
        assert first_error(p, r["rejected"].split("\n")) >= 0
        assert is_correct(r["rejected"], p.answer) == (r["subset"] == "flawed")


def test_bon_rows_gold_first_then_distinct_wrong_answers():
    for r, p in zip(bon_rows(PROBLEMS, seed=0), PROBLEMS):
        assert r["correct"] == [True, False, False, False] and r["reference"] == str(p.answer)
        assert [is_correct(x, p.answer) for x in r["responses"]] == r["correct"]
        stated = [x.rsplit("The answer is ", 1)[1] for x in r["responses"]]
        assert len(set(stated)) == 4 and r["subset"] == p.difficulty


def test_step_rows_processbench_compatible():
    rows = step_rows(PROBLEMS, seed=0)
    assert len(rows) == 6 * len(PROBLEMS)
    by_id = {p.id: p for p in PROBLEMS}
    for r in rows:
        p = by_id[r["id"].rsplit("-", 1)[0]]
        assert r["label"] == r["first_error"] == first_error(p, r["steps"])
        assert r["labels"] == prefix_labels(len(r["steps"]), r["label"])
        assert r["final_correct"] == is_correct(r["steps"][-1], p.answer)
        assert (r["kind"] == "correct") == (r["label"] == -1)


def test_rows_are_deterministic():
    assert pair_rows(PROBLEMS[:5], seed=1) == pair_rows(PROBLEMS[:5], seed=1)
    assert step_rows(PROBLEMS[:5], seed=1) != step_rows(PROBLEMS[:5], seed=2)


def test_write_world_and_cli(tmp_path):
    manifest = write_world(tmp_path / "api", n=10, seed=2)
    assert manifest["rows"] == {"problems": 10, "pairs": 50, "bon": 10, "steps": 60}

    from rewardlab.cli import app

    result = CliRunner().invoke(app, ["synth", "--out", str(tmp_path / "cli"), "--n", "10", "--seed", "2"])
    assert result.exit_code == 0, result.output
    for name in ("problems", "pairs", "bon", "steps"):
        api = (tmp_path / "api" / f"{name}.jsonl").read_text()
        assert api == (tmp_path / "cli" / f"{name}.jsonl").read_text()
        assert len(api.splitlines()) == manifest["rows"][name]
        json.loads(api.splitlines()[0])
    assert "pairs.jsonl" in result.output
