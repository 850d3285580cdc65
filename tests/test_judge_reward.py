"""JudgeReward's wiring of protocols and rules, given hand-written judge outputs (`ScriptedJudge`, a named
fake: see judge_fakes.py for why)."""

from __future__ import annotations

import json
import math

import pytest

from judge_fakes import ScriptedJudge, slot_text
from rewardlab.rewards.judge import JudgeConfig, JudgeError, JudgeReward
from rewardlab.rewards.judge.config import split_spec
from rewardlab.rewards.judge.rules import FailurePolicy
from rewardlab.types import Sample

Q = "What is 2 + 2?"
GOOD, BAD = Sample(Q, "2 + 2 = 4, a good answer."), Sample(Q, "It is 5.")


def judge(script, **config):
    if "failure" in config:
        config["failure"] = FailurePolicy.parse(config["failure"])
    options = {k: config.pop(k) for k in ("format", "variant") if k in config}
    config["protocol_options"] = options
    return JudgeReward(ScriptedJudge(script), JudgeConfig(**config))


def prefers_good(text, params, j):
    return "A is better [[A]]" if "good" in slot_text(text, "A") else "B wins [[B]]"


def always_a(text, params, j):
    return "[[A]]"


def test_a_consistent_judge_wins_under_every_position_rule():
    j = judge(prefers_good)
    assert j.compare(GOOD, BAD) == 1.0 and j.compare(BAD, GOOD) == 0.0
    for rule in ("both_vote_sum", "both_mean", "both_agree_or_skip"):
        (pj,) = j.compare_pairs([(GOOD, BAD)], rule=rule)
        assert pj.p == 1.0 and pj.agree is True and pj.p_ab == 1.0 and pj.p_ba == 0.0


def test_a_position_biased_judge_is_exposed_by_both_order_rules():
    j = judge(always_a)
    singles = [j.compare(Sample(f"q{i}", "x"), Sample(f"q{i}", "y")) for i in range(40)]
    assert set(singles) == {0.0, 1.0}  # the random order decides: a coin flip, as RewardBench would see it
    assert j.compare_pairs([(GOOD, BAD)], "both_mean")[0].p == 0.5
    assert j.compare_pairs([(GOOD, BAD)], "both_mean")[0].agree is False
    assert j.compare_pairs([(GOOD, BAD)], "both_vote_sum")[0].p == 0.5
    assert j.compare_pairs([(GOOD, BAD)], "both_agree_or_skip")[0].skipped


def test_failure_policies():
    garbage = lambda text, params, j: "I cannot decide."  # noqa: E731
    (score,) = judge(garbage).compare_pairs([(GOOD, BAD)])
    assert math.isnan(score.p) and "no [[verdict]]" in score.error
    (tied,) = judge(garbage, failure="tie").compare_pairs([(GOOD, BAD)])
    assert tied.p == 0.5 and tied.error is None
    with pytest.raises(JudgeError, match="no \\[\\[verdict\\]\\]"):
        judge(garbage, failure="raise").compare(GOOD, BAD)


def test_resample_retries_only_the_failed_items_at_temperature():
    def flaky(text, params, j):
        if "flaky" in text and params.temperature == 0:
            return "hmm"
        return prefers_good(text, params, j)

    j = judge(flaky, failure="resample:2")
    flaky_pair = (Sample("flaky?", "a good one"), Sample("flaky?", "no"))
    results = j.compare_pairs([(GOOD, BAD), flaky_pair])
    assert [r.p for r in results] == [1.0, 1.0]
    (first, params0), (second, params1) = j.generator.calls
    assert (first, second) == (2, 1) and params0.temperature == 0 and params1.temperature >= 1
    assert params1.seed != params0.seed


def test_k_samples_are_voted_and_all_kept():
    verdicts = {0: "[[A]]", 1: "[[A]]", 2: "[[B]]"}
    j = judge(lambda text, params, k: f"sample {k}: {verdicts[k]}", samples=3, temperature=1.0, aggregate="vote",
              position="both_mean")
    (pj,) = j.compare_pairs([(GOOD, BAD)])
    assert pj.p == pytest.approx(0.5)  # A twice in both orders: the first slot wins both times
    mean = judge(lambda text, params, k: verdicts[k], samples=3, temperature=1.0, aggregate="mean")
    score = mean.score([Sample(Q, "x", metadata={"baseline": "y"})])[0]
    p = score.components["p_better"]
    assert p in (pytest.approx(2 / 3), pytest.approx(1 / 3)) and score.value == pytest.approx(2 * p - 1)
    judged = mean.both_orders([(GOOD, BAD)])[0][0]
    assert judged.components["samples_ok"] == 3 and all(f"[sample {k}]" in judged.rationale for k in range(3))


def test_pointwise_protocols():
    rating = judge(lambda t, p, j: "Solid.\n\n7", protocol="rating")
    assert rating.score([GOOD])[0].value == pytest.approx(6 / 9)
    prom = judge(lambda t, p, j: "Feedback: fine [RESULT] 5", protocol="prometheus")
    assert prom.score([GOOD])[0].value == 1.0
    yes = judge(lambda t, p, j: "YES" if "Reference Answer:**  \n4" in t else "NO", protocol="correctness")
    scores = yes.score([Sample(Q, "4", reference="4"), Sample(Q, "5", reference="5 "), Sample(Q, "4")])
    assert [s.value for s in scores[:1]] == [1.0] and scores[1].value == 0.0
    assert "needs a reference" in scores[2].error


def test_rubric_components_and_weighted_mean(tmp_path):
    path = tmp_path / "criteria.json"
    path.write_text(json.dumps([{"name": "correct", "text": "right?", "weight": 3},
                                {"name": "polite", "text": "polite?", "weight": 1, "choices": ["no", "some", "yes"]}]))
    reply = json.dumps({"verdicts": [{"name": "correct", "reason": "4", "verdict": "yes"},
                                     {"name": "polite", "reason": "ok", "verdict": "some"}]})
    spec, config = split_spec(f"hf:unused,protocol=rubric,criteria={path}")
    assert spec == "hf:unused"
    j = JudgeReward(ScriptedJudge(lambda t, p, k: reply), config)
    (score,) = j.score([GOOD])
    assert score.value == pytest.approx((3 * 1.0 + 1 * 0.5) / 4)
    assert score.components == {"correct": 1.0, "polite": 0.5}


def test_four_way_follows_the_response_not_the_slot():
    def best(text, params, j):
        return next((f"[[{c}]]" for c in "ABCD" if "best" in slot_text(text, c)), "no best one")

    j = judge(best, protocol="four_way")
    for i in range(8):  # different questions put candidate 0 in different slots
        group = [Sample(f"q{i}", t) for t in ("the best", "meh", "bad", "worse")]
        scores = j.score_group(group)
        assert [s.value for s in scores] == [1.0, 0.0, 0.0, 0.0]
    biased = judge(always_a, protocol="four_way")
    seen = set()
    for i in range(12):
        scores = biased.score_group([Sample(f"q{i}", t) for t in "abcd"])
        seen.add(scores[0].components["slot"])
        assert [s.components["slot"] == 0.0 for s in scores] == [s.value == 1.0 for s in scores]
    assert seen == {0.0, 1.0, 2.0, 3.0}
    ties = biased.score_group([Sample("q", t, metadata={"subset": "Ties"}) for t in "ab"])
    assert all(s.error for s in ties)  # Ties rows are rated 1-10; "[[A]]" is no rating
    rated = judge(lambda t, p, k: "fine\n8", protocol="four_way").score_group(
        [Sample("q", t, metadata={"subset": "Ties"}) for t in "abc"])
    assert [s.value for s in rated] == [pytest.approx(7 / 9)] * 3
    assert "exactly 4" in j.score_group([Sample("q", "x")] * 3)[0].error


def test_group_and_tournament():
    reply = json.dumps({"scores": [{"id": "1", "score": 0.9}, {"id": "2", "score": 0.1}]})
    group = judge(lambda t, p, k: reply, protocol="group")
    assert [s.value for s in group.score([Sample(Q, "a"), Sample(Q, "b")])] == [0.9, 0.1]
    over = judge(lambda t, p, k: reply.replace("0.9", "1.5"), protocol="group")
    assert all("outside" in s.error for s in over.score([Sample(Q, "a"), Sample(Q, "b")]))

    def longer(text, params, j):
        return "[[A]]" if len(slot_text(text, "A")) > len(slot_text(text, "B")) else "[[B]]"

    tour = judge(longer, protocol="tournament")
    scores = tour.score([Sample(Q, "x"), Sample(Q, "xx"), Sample(Q, "xxx")])
    assert [s.value for s in scores] == [-1.0, 0.0, 1.0] and scores[0].components["pairs_decided"] == 3
    biased = judge(always_a, protocol="tournament").score([Sample(Q, "x"), Sample(Q, "y")])
    assert [s.value for s in biased] == [0.0, 0.0] and biased[0].components["pairs_skipped"] == 1


def test_rm_r1_format_end_to_end():
    j = judge(lambda t, p, k: "<think>A is wrong</think><answer>[[B]]</answer>", format="rm_r1")
    assert j.compare_pairs([(GOOD, BAD)], "both_vote_sum")[0].p == 0.5  # B in both orders: position bias
    assert "<answer>[[A]]</answer>" in j.protocol.render(Q, ["a", "b"])[0]["content"]


def test_spec_splits_judge_and_backend_options():
    spec, config = split_spec("hf:runs/m,protocol=pairwise,mode=logprob,device=cpu,position=both_mean,seed=3")
    assert spec == "hf:runs/m,device=cpu"
    assert (config.protocol, config.mode, config.position_rule, config.seed) == ("pairwise", "logprob",
                                                                                  "both_mean", 3)
    assert split_spec("openai:m,protocol=tournament")[1].position_rule == "both_agree_or_skip"
    with pytest.raises(ValueError, match="mode"):
        split_spec("hf:m,mode=vibes")
    with pytest.raises(ValueError, match="temperature"):
        split_spec("hf:m,samples=4")
    with pytest.raises(ValueError, match="backend"):
        split_spec("runs/m,protocol=pairwise")
    with pytest.raises(ValueError, match="criteria"):
        JudgeReward(ScriptedJudge(always_a), JudgeConfig(protocol="rubric"))


def test_prompts_are_filled_without_format_injection():
    j = judge(always_a)
    user = j.protocol.render("Q {answer_b} {0}", ["A says {answer_a}", "B"])[1]["content"]
    assert "Q {answer_b} {0}" in user and "A says {answer_a}" in user
