"""``rewardlab eval`` with judges: each benchmark's own counting rule, position diagnostics, RewardBench 2
groups with the four-way judge, RM-Bench by judged pairs."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from judge_fakes import ScriptedJudge, slot_text
from rewardlab.evaluate.runner import EvalConfig, run
from rewardlab.rewards.judge import JudgeConfig, JudgeReward
from rewardlab.rewards.judge.rules import FailurePolicy, combine_orders


def _run(tmp_path, benches, reward, **kw):
    config = EvalConfig(reward=reward.name, benches=[str(b) for b in benches], out=tmp_path / "out", progress=False,
                        report=False, **kw)
    return run(config, reward=reward)


@pytest.fixture(scope="module")
def logprob_judge(tmp_path_factory):
    from rewardlab.rewards.judge import from_spec
    from rewardlab.testing import tiny_llama

    path = tiny_llama(tmp_path_factory.mktemp("judge"), chat_template=True, max_positions=8192)
    return from_spec(f"hf:{path},protocol=pairwise,mode=logprob")


def test_judgebench_and_llmbar_count_by_their_own_rules(tmp_path, logprob_judge, data_root, shared_file):
    shared_file("LLMBar/Dataset")
    shared_file("JudgeBench/data")
    results = _run(tmp_path, ["llmbar", "judgebench"], logprob_judge, data_root=data_root, limit=3)
    from rewardlab.evaluate.benchmarks import load_benchmark

    for name, rule in (("llmbar", "both_mean"), ("judgebench", "both_vote_sum")):
        block = results["benchmarks"][name]["metrics"]
        records = load_benchmark(name, data_root, 3).records
        orders = logprob_judge.both_orders([r.samples() for r in records])
        p1 = np.array([a.values[0] for a, _ in orders])
        p2 = np.array([b.values[0] for _, b in orders])
        if rule == "both_mean":  # LLMBar: mean over the two orders of "chosen won in this order"
            expected = np.mean(((p1 > 0.5).astype(float) + (p2 < 0.5).astype(float)) / 2)
        else:  # JudgeBench: +1 / -1 per order, right iff the sum is positive
            expected = np.mean([combine_orders(rule, a, b).p > 0.5 for a, b in zip(p1, p2)])
        assert block["primary"]["value"] == pytest.approx(expected)
        assert block["judge_counting"]["rule"] == rule and block["judge_counting"]["orders_judged"] == 6
        assert block["position_bias"]["n"] == 3  # both orders were judged, so the diagnostics ran
        assert block["position_bias"]["accuracy_first"] == pytest.approx(np.mean(p1 > 0.5))
    assert results["reward"]["family"] == "judge" and results["reward"]["judge"]["mode"] == "logprob"


def test_rewardbench2_groups_with_the_four_way_judge(tmp_path):
    rows = [
        {"id": "f1", "prompt": "p1", "chosen": ["the longest one"], "rejected": ["a", "bb", "ccc"], "subset": "Focus"},
        {"id": "f2", "prompt": "p2", "chosen": ["x"], "rejected": ["much longer", "bb", "ccc"], "subset": "Focus"},
        {"id": "m1", "prompt": "broken", "chosen": ["y"], "rejected": ["a", "bb", "ccc"], "subset": "Math"},
        {"id": "ref:1", "prompt": "t", "chosen": ["12345"], "rejected": ["1", "12"], "subset": "Ties"},
        {"id": "tied:1", "prompt": "t", "chosen": ["12345", "1234"], "rejected": ["12"], "subset": "Ties"},
    ]
    path = tmp_path / "rb2.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))

    def script(text, params, k):
        if "[Your judgement]" in text:  # the Ties rows: a 1-10 rating, here the response's length
            answer = text.split("[Response]\n", 1)[1].split("\n\n[Your judgement]", 1)[0]
            return f"Rated by length.\n{min(10, len(answer))}"
        if "broken" in text:
            return "I refuse to choose."
        lengths = {c: len(slot_text(text, c)) for c in "ABCD"}
        return f"[[{max(lengths, key=lengths.get)}]]"

    for policy, math_credit in (("nan", None), ("tie", 0.25)):
        judge = JudgeReward(ScriptedJudge(script), JudgeConfig(protocol="four_way",
                                                               failure=FailurePolicy.parse(policy)))
        block = _run(tmp_path, [path], judge)["benchmarks"]["rb2.jsonl"]["metrics"]
        assert block["subsets"]["Focus"]["accuracy"]["value"] == 0.5  # f1 picked the chosen, f2 did not
        if math_credit is None:
            assert block["failures"]["failed"] == 1 and "refuse" not in str(block["failures"]["reasons"])
            assert math.isnan(block["subsets"]["Math"]["accuracy"]["value"] or math.nan)
        else:  # RewardBench 2 scores an unparsable four-way verdict 0.25: the tie policy reproduces it
            assert block["subsets"]["Math"]["accuracy"]["value"] == pytest.approx(math_credit)
        ties = block["subsets"]["Ties"]["ties"]
        assert ties["accuracy_ref"] == 1.0 and ties["accuracy_tied"] == 1.0  # 5 > 2 and 4 > 2 by length


def test_rm_bench_is_judged_pair_by_pair(tmp_path, data_root, shared_file):
    shared_file("RM-Bench/data")

    def shorter_wins(text, params, k):
        return "[[A]]" if len(slot_text(text, "A")) <= len(slot_text(text, "B")) else "[[B]]"

    judge = JudgeReward(ScriptedJudge(shorter_wins), JudgeConfig(position="both_vote_sum"))
    block = _run(tmp_path, ["rm-bench"], judge, data_root=data_root, limit=4)["benchmarks"]["rm-bench"]["metrics"]
    from rewardlab.evaluate.benchmarks import load_benchmark

    records = load_benchmark("rm-bench", data_root, 4).records
    # a judge preferring the shorter response wins cell (i, j) iff chosen style i is shorter than rejected j
    win = np.array([[[len(r.responses[i]) < len(r.responses[3 + j]) for j in range(3)] for i in range(3)]
                    for r in records], dtype=float)
    assert block["primary"]["name"] == "RM-Bench average (judged pairs)"
    from rewardlab.evaluate.analysis import RM_BENCH_DOMAINS

    credit = win.mean(axis=(1, 2))  # equal lengths: A in both orders, a split vote, not a win
    domains = {}
    for r, c in zip(records, credit):
        domains.setdefault(RM_BENCH_DOMAINS.get(r.subset, r.subset), []).append(c)
    assert block["primary"]["value"] == pytest.approx(np.mean([np.mean(v) for v in domains.values()]))
    cells = {d: b["matrix"] for d, b in block["judge_counting"]["domains"].items()}
    assert all(np.array(m).shape == (3, 3) for m in cells.values())
