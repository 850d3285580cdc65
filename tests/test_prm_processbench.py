"""ProcessBench metric: the arithmetic by hand, the vectorised threshold sweep against a plain loop, and a
real run on ../shared/data/ProcessBench with absent subsets reported, not zeroed."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rewardlab.evaluate.processbench import (
    SUBSETS,
    SubsetItems,
    choose_threshold,
    compute_result,
    evaluate_benchmark,
    evaluate_processbench,
    f1_curve,
    in_dev_split,
    plot_f1_curve,
    predict_first_error,
    processbench_metrics,
    step_auroc,
)
from test_prm_models import tiny_token_prm


def test_metrics_by_hand():
    labels = [-1, -1, 2, 0, 1]
    preds = [-1, 1, 2, None, 0]  # None: the reward failed on that item -> a miss
    m = processbench_metrics(preds, labels)
    # correct items: 1 of 2 predicted -1; erroneous: 1 of 3 exact (2 == 2)
    assert m["correct_acc"] == 0.5 and m["error_acc"] == pytest.approx(1 / 3)
    assert m["f1"] == pytest.approx(2 * 0.5 * (1 / 3) / (0.5 + 1 / 3))  # = 0.4
    assert (m["n_correct"], m["n_error"], m["failed"]) == (2, 3, 1)
    only_correct = processbench_metrics([-1], [-1])
    assert math.isnan(only_correct["error_acc"]) and math.isnan(only_correct["f1"])  # never a silent 0


def test_prediction_is_the_first_step_below_tau():
    assert predict_first_error([0.9, 0.4, 0.8, 0.1], 0.5) == 1
    assert predict_first_error([0.9, 0.4, 0.8], 0.3) == -1
    assert predict_first_error([0.9, 0.4], 0.4) == -1  # strictly below
    assert predict_first_error(None, 0.5) is None


def test_threshold_sweep_matches_a_plain_loop():
    rng = np.random.default_rng(0)
    scores = [list(rng.random(rng.integers(1, 9))) for _ in range(60)] + [None]
    labels = [int(rng.integers(-1, len(s))) if s is not None else 2 for s in scores]
    taus = np.linspace(-0.1, 1.1, 57)
    loop = [processbench_metrics([predict_first_error(s, t) for s in scores], labels)["f1"] for t in taus]
    assert f1_curve(scores, labels, taus) == pytest.approx(loop)
    tau, best = choose_threshold(scores, labels)
    assert best == pytest.approx(max(loop + [processbench_metrics(
        [predict_first_error(s, tau) for s in scores], labels)["f1"]]))


def test_choose_threshold_by_hand():
    # item A (correct): [0.9, 0.7]; item B (first error 1): [0.8, 0.3]
    # tau in (0.3, 0.7]: A -> -1, B -> 1: F1 = 1. The smallest such candidate is 0.7 (p < 0.7 flags 0.3 only).
    tau, f1 = choose_threshold([[0.9, 0.7], [0.8, 0.3]], [-1, 1])
    assert f1 == 1.0 and tau == 0.7


def test_step_auroc_by_hand():
    # labelled steps: before the first error good, at it bad, after it ignored
    # good = [0.9 (A0), 0.8, 0.7 (B)], bad = [0.2 (A1), 0.7 (C0)]; 6 pairs, 5 wins and 1 tie -> 5.5 / 6
    scores = [[0.9, 0.2, 0.99], [0.8, 0.7], [0.7, 0.9]]
    assert step_auroc(scores, [1, -1, 0]) == pytest.approx(5.5 / 6)


def test_dev_split_is_a_stable_hash():
    ids = [f"gsm8k-{i}" for i in range(2000)]
    first = [in_dev_split(i, 0.3) for i in ids]
    assert first == [in_dev_split(i, 0.3) for i in ids]
    assert 0.27 < sum(first) / len(ids) < 0.33


def test_missing_subsets_are_listed_and_the_average_covers_present_ones():
    items = [SubsetItems("gsm8k", ["a", "b", "c", "d"], [-1, 1, -1, 0], [[0.9, 0.8], [0.9, 0.1], [0.2], [0.1]])]
    result = compute_result(items, {"math": "math.json not found"}, threshold=0.5)
    assert result.threshold_rule == "given" and result.missing_subsets == {"math": "math.json not found"}
    # preds: -1, 1, 0, 0 -> correct 1/2, error 2/2
    assert result.subsets["gsm8k"]["correct_acc"] == 0.5 and result.subsets["gsm8k"]["error_acc"] == 1.0
    assert result.average["f1"] == pytest.approx(result.subsets["gsm8k"]["f1"])
    assert result.average["subsets_averaged"] == 1


@pytest.fixture(scope="module")
def bert_prm(tmp_path_factory):
    from rewardlab.rewards.base import load_reward

    return load_reward(f"process:{tiny_token_prm(tmp_path_factory.mktemp('pb') / 'prm', arch='bert')}")


def test_real_processbench_with_absent_subsets(tmp_path, shared_file, bert_prm):
    gsm8k = shared_file("ProcessBench/dataset/gsm8k.json")
    folder = tmp_path / "ProcessBench" / "dataset"
    folder.mkdir(parents=True)
    (folder / "gsm8k.json").symlink_to(gsm8k)  # a data root holding only gsm8k
    result = evaluate_processbench(bert_prm, data_root=tmp_path, limit=40, progress=False)
    assert set(result.missing_subsets) == set(SUBSETS) - {"gsm8k"}
    assert list(result.subsets) == ["gsm8k"] and result.average["subsets_averaged"] == 1
    block = result.subsets["gsm8k"]
    assert block["n_error"] + block["n_correct"] + result.dev_items == 40 and block["n_correct"] > 5
    assert 0 <= block["f1"] <= 1 and result.threshold_rule.startswith("max F1 on a 30% dev split")
    assert len(result.curve["threshold"]) == len(result.curve["dev_f1"]) == len(result.curve["test_f1"])
    png = plot_f1_curve(result, tmp_path / "curve.png")
    assert png.read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(FileNotFoundError, match="none of the requested subsets"):
        evaluate_processbench(bert_prm, data_root=tmp_path, subsets=["math"])


def test_harness_block_counts_failures_as_misses(shared_file, tmp_path):
    from rewardlab.evaluate.benchmarks import load_benchmark
    from rewardlab.rewards.base import load_reward

    shared_file("ProcessBench/dataset/gsm8k.json")
    bench = load_benchmark("processbench", limit=16)
    assert bench.kind == "processbench" and {r.subset for r in bench.records} <= set(SUBSETS)
    path = tiny_token_prm(tmp_path / "prm", arch="bert")
    short = load_reward(f"process:{path},max_length=500,truncation=drop")  # long items fail
    block = evaluate_benchmark(short, bench, progress=False, threshold=0.5)
    failed = block["metrics"]["failures"]["failed"]
    assert 0 < failed < 16 and block["metrics"]["failures"]["requested"] == 16
    pb = block["metrics"]["processbench"]
    assert sum(m["failed"] for m in pb["subsets"].values()) == failed
    assert block["metrics"]["primary"]["value"] == pytest.approx(pb["average"]["f1"], nan_ok=True)


def test_best_of_n_with_prm_aggregation_through_the_harness(shared_file, tmp_path, bert_prm):
    """GSM8K best-of-4 scored by a PRM: each solution's lines are its steps, min-aggregated."""
    from rewardlab.evaluate.runner import EvalConfig, run

    shared_file("grade-school-math/grade_school_math/data/example_model_solutions.jsonl")
    spec = f"process:{bert_prm.path},agg=min,split=\\n"
    results = run(EvalConfig(reward=spec, benches=["gsm8k-bon"], out=tmp_path / "out", limit=6, report=False,
                             progress=False))
    primary = results["benchmarks"]["gsm8k-bon"]["metrics"]["primary"]
    assert primary["name"] == "best-of-N accuracy" and primary["scored"] == 6 and primary["failed"] == 0
    assert results["reward"]["kind"] == "token" and results["reward"]["aggregation"] == "min"


def test_every_item_failed_gives_misses_not_a_crash():
    ids = [f"id{i}" for i in range(40)]
    items = [SubsetItems("gsm8k", ids, [-1, 2] * 20, [None] * 40, {i: "too long" for i in ids})]
    result = compute_result(items, {})
    assert result.threshold == 0.5 and "no dev item could be scored" in result.threshold_rule
    held = result.subsets["gsm8k"]
    assert held["failed"] == held["n_error"] + held["n_correct"] and held["f1"] == 0.0
    assert result.curve["threshold"] == []
