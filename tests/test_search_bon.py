"""Best-of-N, self-consistency and weighted voting (`rewardlab.search`), and ``rewardlab search bon``."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest
from typer.testing import CliRunner

from rewardlab.cli import app
from rewardlab.search.answers import answer_ids, extract_all, get_extractor
from rewardlab.search.curves import search_curves
from rewardlab.search.voting import vote_expectations, vote_pick, vote_weights

runner = CliRunner()


def test_math_answers_share_a_key_across_spellings_and_unmarked_text_abstains():
    extract = get_extractor("math")
    keys = {extract(t) for t in ("so the answer is 0.5.", "\\boxed{\\frac{1}{2}}", "#### 1/2", "Final answer: 0.50")}
    assert keys == {"1/2"}
    assert extract("I computed 3 + 4 = 7") is None  # only a last number: abstains, never votes
    assert get_extractor("world")("x = 3. The answer is 12.") == "12"
    assert get_extractor("regex:ANS=(\\d+)")("ANS=3 then ANS=4") == "4"
    with pytest.raises(ValueError, match="bad regular expression"):
        get_extractor("regex:(")
    got = extract_all([["The answer is 3.", "no idea"], ["The answer is 4."]], "math")
    assert got.abstained == 1 and got.candidates == 3


def test_vote_pick_weighted_and_unweighted():
    answers = ["7", "7", "3", None, "3", "3"]
    assert vote_pick(answers).answer == "3"  # 3 votes to 2
    weighted = vote_pick(answers, [0.9, 0.8, 0.1, 5.0, 0.2, 0.3])  # 7: 1.7, 3: 0.6; the abstainer's weight is lost
    assert weighted.answer == "7" and weighted.index == 0 and weighted.abstained == 1
    assert weighted.tallies == pytest.approx({"7": 1.7, "3": 0.6})
    assert vote_pick([None, None]).index is None
    with pytest.raises(ValueError, match="sigmoid"):
        vote_weights([-1.0, 2.0], "raw")
    assert vote_weights([0.0, math.nan], "sigmoid").tolist() == [0.5, 0.0]


def _enumerated_vote(ids, correct, weights, n):
    """Voting accuracy of one group averaged over every n-subset, ties credited by their correct share."""
    total = 0.0
    subsets = list(itertools.combinations(range(len(ids)), n))
    for sub in subsets:
        tally: dict[int, float] = {}
        for j in sub:
            if ids[j] >= 0:
                tally[ids[j]] = tally.get(ids[j], 0.0) + weights[j]
        if not tally:
            continue
        best = max(tally.values())
        tied = [a for a, v in tally.items() if v == best]
        right = {ids[j] for j in range(len(ids)) if correct[j] and ids[j] >= 0}
        total += sum(a in right for a in tied) / len(tied)
    return total / len(subsets)


@pytest.mark.parametrize("weighted", [False, True])
def test_vote_curve_matches_enumeration(weighted):
    ids = np.array([[0, 0, 1, -1, 2, 1, 1]])
    correct = ids == 0
    w = np.array([[0.9, 0.8, 0.1, 0.5, 0.7, 0.2, 0.3]]) if weighted else np.ones(ids.shape)
    got = vote_expectations(ids, correct, [1, 2, 3, 5, 7], w if weighted else None, subsets=6000, seed=0)[0]
    exact = [_enumerated_vote(ids[0], correct[0], w[0], n) for n in (1, 2, 3, 5, 7)]
    assert got[-1] == pytest.approx(exact[-1], abs=1e-12)  # N = M: one subset, exact
    assert got == pytest.approx(exact, abs=0.02)


def test_curves_on_a_best_of_256_file_are_exact_where_they_claim():
    rng = np.random.default_rng(0)
    groups, m = 40, 256
    ids = rng.integers(0, 5, size=(groups, m))
    ids[rng.random((groups, m)) < 0.1] = -1
    gold = (ids == 0).astype(float)
    scores = rng.normal(size=(groups, m)) + gold
    out = search_curves(scores, gold, ids, vote_weights(scores, "sigmoid").reshape(groups, m))
    assert out["ns"] == [1, 2, 4, 8, 16, 32, 64, 128, 256]
    curves = out["curves"]
    assert set(curves) == {"reward", "oracle", "random", "majority vote", "weighted vote"}
    # oracle = P(at least one right candidate among N), exact: 1 - C(M - c, N) / C(M, N)
    c = gold.sum(axis=1)
    for row in curves["oracle"]:
        n = row["n"]
        expected = np.mean([1 - math.comb(m - int(k), n) / math.comb(m, n) for k in c])
        assert row["gold"] == pytest.approx(expected, abs=1e-9)
        assert row["gold_ci_low"] <= row["gold"] <= row["gold_ci_high"]
    assert curves["random"][0]["gold"] == pytest.approx(gold.mean())
    assert curves["reward"][0]["gold"] == pytest.approx(gold.mean())  # best-of-1 is a random candidate
    assert curves["reward"][-1]["proxy"] == pytest.approx(scores.max(axis=1).mean())
    assert curves["reward"][-1]["kl_bon"] == pytest.approx(math.log(256) - 255 / 256)


def _candidates_file(tmp_path):
    rows = [
        {"id": "q0", "prompt": "What is 2 + 3?", "reference": "5",
         "responses": ["2 + 3 = 5. The answer is 5.", "2 + 3 = 6. The answer is 6.", "I think 5",
                       "2 + 3 = 5. The answer is 5."], "correct": [True, False, False, True]},
        {"id": "q1", "prompt": "What is 4 * 4?", "reference": "16",
         "responses": ["4 * 4 = 16. The answer is 16.", "4 * 4 = 8. The answer is 8.",
                       "4 * 4 = 8. The answer is 8.", "no answer here"], "correct": [True, False, False, False]},
    ]
    path = tmp_path / "cands.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.mark.parametrize("select", ["reward", "vote", "weighted-vote"])
def test_cli_bon_from_a_candidates_file(tmp_path, tiny_bert_dir, select):
    data, out = _candidates_file(tmp_path), tmp_path / "chosen.jsonl"
    result = runner.invoke(app, ["search", "bon", "--data", str(data), "--out", str(out), "--select", select,
                                 "--reward", f"classifier:{tiny_bert_dir}", "--weighting", "sigmoid",
                                 "--no-progress"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in rows] == ["q0", "q1"]
    for r in rows:
        assert len(r["candidates"]) == 4 and all(c["score"] is not None for c in r["candidates"])
        scores = [c["score"] for c in r["candidates"]]
        assert r["picks"]["reward"] == int(np.argmax(scores))
        assert r["chosen"] == r["candidates"][r["chosen_index"]]["response"]
    assert rows[1]["picks"]["vote"] in (1, 2)  # "8" has two votes
    results = json.loads((tmp_path / "chosen.report" / "results.json").read_text())
    assert results["abstained"] == 2 and results["gold"] == "file"
    assert set(results["accuracy"]) == {"reward", "vote", "weighted-vote"}
    assert results["accuracy"]["vote"]["value"] == 0.5
    assert results["compute"]["reward_samples"] == 8 and results["compute"]["reward_calls"] >= 1
    assert "proxy reward vs gold" in (tmp_path / "chosen.report" / "report.html").read_text()


def test_cli_bon_with_a_prm_aggregated_by_min(tmp_path):
    from test_prm_models import tiny_token_prm

    prm = tiny_token_prm(tmp_path / "prm")
    data, out = _candidates_file(tmp_path), tmp_path / "chosen.jsonl"
    args = ["search", "bon", "--data", str(data), "--out", str(out), "--reward", f"process:{prm},split=.",
            "--select", "weighted-vote", "--no-progress"]
    for agg in ("min", "product"):
        result = runner.invoke(app, [*args, "--prm-agg", agg])
        assert result.exit_code == 0, result.output
        for row in (json.loads(line) for line in out.read_text().splitlines()):
            for c in row["candidates"]:
                expected = min(c["steps"]) if agg == "min" else float(np.prod(c["steps"]))
                assert c["value"] == pytest.approx(expected)


def test_cli_bon_self_consistency_needs_no_reward_and_reward_selection_does(tmp_path):
    data, out = _candidates_file(tmp_path), tmp_path / "sc.jsonl"
    ok = runner.invoke(app, ["search", "bon", "--data", str(data), "--out", str(out), "--select", "vote",
                             "--curve-n", "1", "--curve-n", "3", "--no-progress"])
    assert ok.exit_code == 0, ok.output
    curves = json.loads((tmp_path / "sc.report" / "results.json").read_text())["curves"]
    assert [r["n"] for r in curves["curves"]["majority vote"]] == [1, 3]
    assert [json.loads(line)["answer"] for line in out.read_text().splitlines()] == ["5", "8"]
    refused = runner.invoke(app, ["search", "bon", "--data", str(data), "--out", str(tmp_path / "x.jsonl")])
    assert refused.exit_code != 0 and "needs --reward" in refused.output


def test_answer_ids_are_local_to_a_group():
    assert answer_ids([["7", "7", "3", None], [None, "3", "3", "9"]]).tolist() == [[0, 0, 1, -1], [-1, 0, 0, 1]]


def test_cli_bon_samples_through_an_openai_compatible_server(llama_server, tmp_path, monkeypatch):
    monkeypatch.setenv("SEARCH_TEST_KEY", llama_server.api_key)
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text(json.dumps({"id": "p0", "prompt": "Q: What is 2 + 2?\nA: The answer is", "reference": "4"})
                       + "\n")
    spec = f"openai:{llama_server.spec(api_key_env='SEARCH_TEST_KEY', cache=str(tmp_path / 'gen.sqlite'))}"
    out = tmp_path / "bon.jsonl"
    result = runner.invoke(app, ["--allow-key-env", "SEARCH_TEST_KEY", "search", "bon", "--prompts", str(prompts),
                                 "--generator", spec, "--n", "3", "--max-new-tokens", "6", "--stop", "\n",
                                 "--select", "vote", "--answer", "regex:(\\d+)", "--verifier", "rule:math",
                                 "--out", str(out), "--no-progress"])
    assert result.exit_code == 0, result.output + out.read_text()
    (row,) = [json.loads(line) for line in out.read_text().splitlines()]
    assert row["id"] == "p0" and len(row["candidates"]) == 3
    assert all(c["tokens"] >= 1 for c in row["candidates"])
    summary = json.loads((tmp_path / "bon.report" / "results.json").read_text())
    assert summary["compute"]["generated_tokens"] == sum(c["tokens"] for c in row["candidates"])
    assert summary["generator"]["backend"] == "openai" and summary["gold"] == "verifier"


def test_cli_bon_samples_the_world_policy_and_scores_with_a_prm(tmp_path):
    from test_prm_models import tiny_token_prm

    prm = tiny_token_prm(tmp_path / "prm")
    out = tmp_path / "bon.jsonl"
    result = runner.invoke(app, ["search", "bon", "--prompts", "world:2", "--generator", "hf:world-tiny", "--n", "4",
                                 "--max-new-tokens", "24", "--reward", f"process:{prm}", "--select", "weighted-vote",
                                 "--prm-agg", "min", "--answer", "world", "--out", str(out), "--no-progress"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in rows] == ["s7000003-0", "s7000003-1"]
    assert all(len(r["candidates"]) == 4 and all("correct" in c and c["tokens"] >= 1 for c in r["candidates"])
               for r in rows)
    summary = json.loads((tmp_path / "bon.report" / "results.json").read_text())
    assert summary["gold"] == "file" and summary["curves"]["pool_size"] == 4  # the world's verifier labels
    assert summary["compute"]["generated_tokens"] == sum(c["tokens"] for r in rows for c in r["candidates"])
    assert summary["generator"]["backend"] == "hf" and summary["sampling"]["n"] == 4
