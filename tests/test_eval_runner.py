"""The evaluation runner end to end: hand-checked numbers through every stage, failures, provenance,
determinism, and the pairwise-judge path.

`LengthReward` and `FirstSlotJudge` below are real (if simple) rewards implementing the `Reward` protocol,
chosen so every number in the results can be worked out by hand; the model path uses a tiny real BERT.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from rewardlab.evaluate.analysis import Settings
from rewardlab.evaluate.runner import EvalConfig, run
from rewardlab.types import Score


class LengthReward:
    """Reward = number of characters in the response."""

    name = "test:length"

    def score(self, samples):
        return [Score(float(len(s.response))) for s in samples]


class FailingReward:
    """Length reward that fails on some responses: an error for 'FAIL', a bare NaN (no error) for 'NAN'."""

    name = "test:failing"

    def score(self, samples):
        out = []
        for s in samples:
            if "FAIL" in s.response:
                out.append(Score.failure("backend timed out"))
            elif "NAN" in s.response:
                out.append(Score(float("nan")))
            else:
                out.append(Score(float(len(s.response))))
        return out


class FirstSlotJudge(LengthReward):
    """A pairwise judge with a position bias: it prefers whatever is shown first, 80% to 20%."""

    name = "test:first-slot"

    def compare(self, a, b):
        return 0.8


def _jsonl(path: Path, rows) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def rb1_file(tmp_path):
    return _jsonl(tmp_path / "rb1.jsonl", [
        {"id": "1", "prompt": "p", "chosen": "long answer", "rejected": "short", "subset": "alpacaeval-easy"},
        {"id": "2", "prompt": "p", "chosen": "ab", "rejected": "abc", "subset": "alpacaeval-easy"},
        {"id": "3", "prompt": "p", "chosen": "xxxx", "rejected": "yyyy", "subset": "mt-bench-hard"},
        {"id": "4", "prompt": "p", "chosen": "zzzzzz", "rejected": "z", "subset": "mt-bench-hard"},
        {"id": "5", "prompt": "p", "chosen": "qq", "rejected": "q", "subset": "mt-bench-hard"},
    ])


@pytest.fixture
def rb2_file(tmp_path):
    return _jsonl(tmp_path / "rb2.jsonl", [
        {"id": "f1", "prompt": "p", "chosen": ["aaaa"], "rejected": ["a", "aa", "aaa"], "subset": "Focus"},
        {"id": "f2", "prompt": "p", "chosen": ["bb"], "rejected": ["bb", "b", "c"], "subset": "Focus"},
        {"id": "m1", "prompt": "p", "chosen": ["c"], "rejected": ["cc", "ccc", "c"], "subset": "Math"},
        {"id": "ref:1", "prompt": "t", "chosen": ["12345"], "rejected": ["1", "12"], "subset": "Ties"},
        {"id": "tied:1", "prompt": "t", "chosen": ["12345", "1234"], "rejected": ["12"], "subset": "Ties"},
    ])


def _run(tmp_path, benches, reward, **kw):
    config = EvalConfig(reward=getattr(reward, "name", str(reward)), benches=[str(b) for b in benches],
                        out=tmp_path / "out", progress=False, report=kw.pop("report", False), **kw)
    return run(config, reward=reward)


def test_rewardbench_v1_file_by_hand(tmp_path, rb1_file):
    results = _run(tmp_path, [rb1_file], LengthReward())
    m = results["benchmarks"]["rb1.jsonl"]["metrics"]
    # alpacaeval-easy: 11 > 5 win, 2 < 3 loss -> 1/2; mt-bench-hard: tie (4 = 4), win, win -> strict 2/3,
    # half-credit (0.5 + 1 + 1)/3 = 5/6
    assert m["subsets"]["alpacaeval-easy"]["strict"]["value"] == 0.5
    assert m["subsets"]["mt-bench-hard"]["strict"]["value"] == pytest.approx(2 / 3)
    assert m["subsets"]["mt-bench-hard"]["half"]["value"] == pytest.approx(5 / 6)
    assert m["overall"]["strict"]["value"] == pytest.approx(3 / 5) and m["overall"]["strict"]["ties"] == 1
    # sections: Chat = 0.5 (only alpacaeval-easy present), Chat Hard = 2/3; overall = (2*0.5 + 2*2/3) / 4
    sections = m["rewardbench_v1"]["sections"]
    assert sections["Chat"]["score"] == 0.5 and sections["Chat Hard"]["score"] == pytest.approx(2 / 3)
    assert m["primary"]["value"] == pytest.approx((0.5 + 2 / 3) / 2)
    assert m["primary"]["name"] == "RewardBench v1 score"
    assert m["primary"]["ci_low"] <= m["primary"]["value"] <= m["primary"]["ci_high"]
    # length bias is measured in words here (this reward has no tokenizer): only pair 1 has a longer chosen
    # side (2 words vs 1, a win); the other four are 1 word each, of which pairs 4 and 5 win -> 2/4
    assert results["benchmarks"]["rb1.jsonl"]["scoring"]["length_unit"] == "words"
    assert m["length_bias"]["chosen_longer"] == {"n": 1, "accuracy": 1.0}
    assert m["length_bias"]["chosen_shorter"] == {"n": 0, "accuracy": None}
    assert m["length_bias"]["same_length"] == {"n": 4, "accuracy": 0.5}
    assert "position_bias" not in m  # a pointwise reward: order cannot matter


def test_rewardbench2_file_by_hand(tmp_path, rb2_file):
    results = _run(tmp_path, [rb2_file], LengthReward())
    m = results["benchmarks"]["rb2.jsonl"]["metrics"]
    # Focus: 'aaaa' is the unique longest -> 1; 'bb' ties 'bb' -> 1/2; Math: 'c' loses to 'ccc' -> 0
    assert m["subsets"]["Focus"]["accuracy"]["value"] == 0.75
    assert m["subsets"]["Math"]["accuracy"]["value"] == 0.0
    # Ties: ref accurate (5 > 2, margin 3); tied accurate (4 > 2, margin 2, spread 5 - 4 = 1);
    # preferred 2 > 1, hard min(3, 2) > 1, margin term tanh(2/1 - 1) = tanh 1
    ties = m["subsets"]["Ties"]["ties"]
    expected_ties = 0.3 + 0.3 + 0.2 + 0.2 + 0.01 * math.tanh(1.0)
    assert ties["score"] == pytest.approx(expected_ties)
    # RB2 score = unweighted mean over subsets, the Ties composite standing for Ties
    assert m["rewardbench2"]["score"] == pytest.approx((0.75 + 0.0 + expected_ties) / 3)
    assert m["primary"]["name"] == "RewardBench 2 score"
    # random pick: share correct per group = 1/4, 1/4, 1/4, 1/3, 2/3 -> mean 0.35; oracle: all have a correct
    assert m["overall"]["random"] == pytest.approx((0.25 * 3 + 1 / 3 + 2 / 3) / 5)
    assert m["overall"]["oracle"] == 1.0


def test_failures_are_counted_never_scored_as_ties(tmp_path):
    data = _jsonl(tmp_path / "pairs.jsonl", [
        {"id": "a", "prompt": "p", "chosen": "long one", "rejected": "short"},
        {"id": "b", "prompt": "p", "chosen": "FAIL here", "rejected": "x"},
        {"id": "c", "prompt": "p", "chosen": "NAN", "rejected": "NAN"},
        {"id": "d", "prompt": "p", "chosen": "yy", "rejected": "yy"},
    ])
    results = _run(tmp_path, [data], FailingReward())
    m = results["benchmarks"]["pairs.jsonl"]["metrics"]
    strict = m["overall"]["strict"]
    # a: win; b: error -> failed; c: NaN on both sides -> failed (NaN == NaN must not count as a tie); d: tie
    assert (strict["n"], strict["scored"], strict["failed"], strict["ties"]) == (4, 2, 2, 1)
    assert strict["value"] == 0.5
    assert m["failures"]["failed"] == 2
    assert m["failures"]["reasons"] == {"backend timed out": 1, "NaN score": 1}
    assert results["benchmarks"]["pairs.jsonl"]["scoring"]["failed_sequences"] == 3
    items = [json.loads(line) for line in (tmp_path / "out" / "items.jsonl").read_text().splitlines()]
    assert [i["error"] for i in items] == [None, "backend timed out", "NaN score", None]
    assert items[2]["scores"] == [None, None]
    assert m["comparisons"]["n"] == 2  # diagnostics see only the scored pairs a and d


def test_failed_candidate_fails_its_whole_group(tmp_path):
    data = _jsonl(tmp_path / "bon.jsonl", [
        {"id": "g1", "prompt": "p", "chosen": ["longest one"], "rejected": ["a", "bb", "FAIL"]},
        {"id": "g2", "prompt": "p", "chosen": ["x"], "rejected": ["yy", "zzz", "w"]},
    ])
    m = _run(tmp_path, [data], FailingReward())["benchmarks"]["bon.jsonl"]["metrics"]
    # g1 has a failed candidate: the group is a failure (not a win by default); g2: 'x' loses to 'zzz' -> 0
    acc = m["overall"]["accuracy"]
    assert (acc["n"], acc["scored"], acc["failed"], acc["value"]) == (2, 1, 1, 0.0)
    assert m["comparisons"]["n"] == 3  # g2's 3 (correct, incorrect) pairs; none from the failed g1
    assert m["reward_stats"]["rejected"]["n"] == 3


def test_pairwise_judge_gets_position_bias(tmp_path, rb1_file):
    m = _run(tmp_path, [rb1_file], FirstSlotJudge())["benchmarks"]["rb1.jsonl"]["metrics"]
    pos = m["position_bias"]
    # always 0.8 for the first slot: chosen wins when first, loses when second -> never consistent
    assert pos["agreement"] == 0.0 and pos["first_slot_win_rate"] == 1.0
    assert pos["accuracy_first"] == 1.0 and pos["accuracy_second"] == 0.0 and pos["n"] == 5


def test_model_run_provenance_and_determinism(tmp_path, tiny_bert_dir, rb1_file, rb2_file):
    spec = f"classifier:{tiny_bert_dir}"
    config = EvalConfig(reward=spec, benches=[str(rb1_file), str(rb2_file)], out=tmp_path / "a", progress=False,
                        report=False, settings=Settings(seed=3, resamples=200, bins=5))
    first = run(config)
    reward = first["reward"]
    for key in ("model_path", "weights_sha256", "dtype", "attn_implementation", "chat_template", "truncation",
                "truncated", "dropped", "batch_tokens", "max_batch_size"):
        assert key in reward, key
    assert reward["spec"] == spec and len(reward["weights_sha256"]) == 64
    assert first["settings"]["seed"] == 3 and first["settings"]["bins"] == 5
    assert first["rewardlab_version"] and first["wall_time_s"] > 0
    files = first["benchmarks"]["rb1.jsonl"]["files"]
    assert files[0]["path"] == str(rb1_file) and len(files[0]["sha256"]) == 64
    assert set(first["timings_s"]) == {"load", "score", "metrics"}
    config.out = tmp_path / "b"
    second = run(config)
    assert second["benchmarks"]["rb1.jsonl"]["metrics"] == first["benchmarks"]["rb1.jsonl"]["metrics"]
    assert second["benchmarks"]["rb2.jsonl"]["metrics"] == first["benchmarks"]["rb2.jsonl"]["metrics"]
    assert (tmp_path / "a" / "items.jsonl").read_text() == (tmp_path / "b" / "items.jsonl").read_text()
    on_disk = json.loads((tmp_path / "a" / "results.json").read_text())
    assert on_disk["summary"].keys() == {"rb1.jsonl", "rb2.jsonl"}


@pytest.mark.slow
def test_real_benchmarks_small_slices(tmp_path, tiny_bert_dir, shared_file):
    root = shared_file("hh-rlhf/harmless-base/test.jsonl.gz").parents[2]
    for needed in ("RM-Bench/data", "LLMBar/Dataset", "JudgeBench/data", "grade-school-math"):
        shared_file(needed)
    config = EvalConfig(reward=f"classifier:{tiny_bert_dir}", out=tmp_path / "real", data_root=root, limit=5,
                        benches=["hh-rlhf", "rm-bench", "llmbar", "judgebench", "gsm8k-bon"], progress=False,
                        report=False, settings=Settings(resamples=100))
    results = run(config)
    for name, block in results["benchmarks"].items():
        assert block["records"] == 5 and block["limit"] == 5 and block["records_total"] > 5, name
        assert block["metrics"]["failures"]["failed"] == 0, name
        assert all(len(f["sha256"]) == 64 for f in block["files"]), name
        assert block["scoring"]["length_unit"] == "tokens"
    rm = results["benchmarks"]["rm-bench"]["metrics"]
    assert set(rm["domains"]) == {"chat", "code", "safety"} and len(rm["domains"]["chat"]["matrix"]) == 3
    assert results["benchmarks"]["gsm8k-bon"]["metrics"]["curve"][-1]["n"] == 4
    assert results["settings"]["limit"] == 5


def test_item_ids_are_unique_for_pairing():
    from rewardlab.evaluate.runner import unique_ids
    from rewardlab.types import PairRecord

    records = [PairRecord("p", "c", "r", id="a"), PairRecord("p", "c", "r", id="a"), PairRecord("p", "c", "r")]
    assert unique_ids(records) == ["a", "a~2", "#2"]
