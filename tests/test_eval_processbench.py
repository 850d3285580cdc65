"""ProcessBench through `rewardlab eval`: the block, items.jsonl rows, report section, compare, the unbiased
--limit sample, user step files, and the early error for a reward without step scores."""

from __future__ import annotations

import json
import math

import pytest

from rewardlab.evaluate.processbench import SUBSETS, gold_step_flags
from rewardlab.evaluate.runner import EvalConfig, run
from rewardlab.types import Score
from test_prm_models import tiny_token_prm


@pytest.fixture(scope="module")
def prm_spec(tmp_path_factory):
    return f"process:{tiny_token_prm(tmp_path_factory.mktemp('pbh') / 'prm', arch='bert')}"


def test_gold_step_flags():
    assert gold_step_flags(-1, 3) == [True, True, True]
    assert gold_step_flags(2, 5) == [True, True, False]  # steps after the first error carry no label
    assert gold_step_flags(0, 4) == [False]


def test_limit_is_a_hash_sample_with_correct_items(shared_file):
    from rewardlab.evaluate.benchmarks import load_benchmark

    shared_file("ProcessBench/dataset/gsm8k.json")
    bench = load_benchmark("processbench", limit=60)
    assert len(bench.records) == 60 and bench.selection.startswith("sha256-of-id sample")
    labels = [r.first_error if r.first_error is not None else -1 for r in bench.records]
    # a first-N slice of any ProcessBench file holds no correct item; the hash sample holds both kinds
    assert -1 in labels and any(label != -1 for label in labels)
    assert load_benchmark("processbench", limit=60).records == bench.records  # deterministic


def test_eval_runs_processbench_end_to_end(shared_file, tmp_path, prm_spec):
    shared_file("ProcessBench/dataset/gsm8k.json")
    shared_file("hh-rlhf/harmless-base/test.jsonl.gz")
    out = tmp_path / "a"
    results = run(EvalConfig(reward=prm_spec, benches=["processbench", "hh-rlhf"], out=out, limit=48,
                             progress=False))
    assert list(results["benchmarks"]) == ["processbench", "hh-rlhf"]  # the order asked for
    block = results["benchmarks"]["processbench"]
    pb = block["metrics"]["processbench"]
    assert block["kind"] == "processbench" and block["records"] == 48 and block["records_total"] > 48
    assert set(pb["subsets"]) <= set(SUBSETS) and pb["threshold_rule"]
    assert block["metrics"]["primary"]["value"] == pytest.approx(pb["average"]["f1"], nan_ok=True)
    assert results["summary"]["processbench"]["records"] == 48
    rows = [json.loads(line) for line in (out / "items.jsonl").read_text().splitlines()]
    pb_rows = [r for r in rows if r["benchmark"] == "processbench"]
    assert len(pb_rows) == 48 and {r["split"] for r in pb_rows} <= {"dev", "test", "all"}
    # the rows reproduce the per-subset held-out metrics exactly
    for subset, metrics in pb["subsets"].items():
        held = [r for r in pb_rows if r["subset"] == subset and r["split"] != "dev"]
        errors = [r for r in held if r["label"] != -1]
        if errors:
            assert metrics["error_acc"] == pytest.approx(sum(r["hit"] for r in errors) / len(errors))
        assert metrics["n_error"] + metrics["n_correct"] == len(held)
    for r in pb_rows:
        assert (r["hit"] is None) == (r["split"] == "dev")
        if r["scores"] is not None and r["split"] != "dev":
            below = [k for k, x in enumerate(r["scores"]) if x < pb["threshold"]]
            assert r["prediction"] == (below[0] if below else -1)
    html = (out / "report.html").read_text()
    assert "accuracy on erroneous" in html and "F1 against threshold" in html and "tau = " in html
    missing = set(SUBSETS) - set(pb["subsets"])
    for name in missing:
        assert name in html

    from rewardlab.evaluate.compare import compare_runs

    again = tmp_path / "b"
    run(EvalConfig(reward=prm_spec, benches=["processbench"], out=again, limit=48, report=False, progress=False))
    compared = compare_runs(out, again)["benchmarks"]["processbench"]
    same = compared["subsets"]["all"]
    assert compared["dev_split_excluded"] == sum(r["split"] == "dev" for r in pb_rows)
    failed_held = sum(r["error"] is not None for r in pb_rows if r["split"] != "dev")
    assert same["dropped"] == failed_held  # failed items are counted, not compared
    assert same["n"] + failed_held + compared["dev_split_excluded"] == 48
    assert same["diff"] == 0.0 and not math.isnan(same["a"])  # same inputs, same numbers


def test_user_step_file_is_evaluated_with_the_processbench_metric(tmp_path, prm_spec):
    rows = [{"id": f"u{i}", "problem": f"What is {i} + {i}?", "steps": [f"{i} + {i} = {2 * i}", f"Answer {2 * i}"],
             "label": -1 if i % 2 else 1} for i in range(12)]
    path = tmp_path / "steps.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    results = run(EvalConfig(reward=prm_spec, benches=[str(path)], out=tmp_path / "o", report=False,
                             progress=False))
    block = results["benchmarks"]["steps.jsonl"]
    assert block["kind"] == "processbench" and block["records"] == 12
    assert block["metrics"]["failures"]["failed"] == 0


def test_reward_without_step_scores_fails_before_scoring(shared_file, tmp_path, tiny_bert_dir):
    shared_file("ProcessBench/dataset/gsm8k.json")
    with pytest.raises(ValueError, match="needs step scores.*process reward"):
        run(EvalConfig(reward=f"classifier:{tiny_bert_dir}", benches=["hh-rlhf", "processbench"],
                       out=tmp_path / "x", limit=8, progress=False))
    assert not (tmp_path / "x").exists()


def test_report_lists_the_most_frequent_failure_reasons_only():
    from rewardlab.evaluate.report import MAX_REASONS, _failures

    reasons = {f"dropped: {900 + i} tokens > max_length 512": 1 for i in range(MAX_REASONS + 5)}
    reasons["NaN score"] = 7
    html = _failures({"failed": sum(reasons.values()), "records": 100, "reasons": reasons})
    assert html.count("<li>") == MAX_REASONS + 1 and html.index("NaN score") < html.index("dropped")
    assert "6 more distinct reasons (6 records)" in html


class FlatRewardFailingOn:
    """A real non-process reward (one score per response, no steps) that cannot score prompts starting with
    'unscorable': it counts what it was asked to score."""

    name = "test:flat"

    def __init__(self):
        self.scored = 0

    def score(self, samples):
        self.scored += len(samples)
        return [Score.failure("cannot score") if s.prompt_text().startswith("unscorable") else Score(1.0)
                for s in samples]


def _step_file(path, prompt_prefix, n=6):
    rows = [{"id": f"{path.stem}{i}", "problem": f"{prompt_prefix} {i} + {i}?", "steps": [f"{i} + {i} = {2 * i}"],
             "label": -1 if i % 2 else 0} for i in range(n)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_every_processbench_benchmark_is_probed_before_scoring(tmp_path):
    first = _step_file(tmp_path / "a.jsonl", "unscorable")  # its probes fail: says nothing about steps
    second = _step_file(tmp_path / "b.jsonl", "What is")
    reward = FlatRewardFailingOn()
    with pytest.raises(ValueError, match="benchmark 'b.jsonl' needs step scores"):
        run(EvalConfig(reward="test:flat", benches=[str(first), str(second)], out=tmp_path / "x", progress=False),
            reward=reward)
    assert reward.scored == 4  # 3 probes of a.jsonl (all failed), 1 of b.jsonl: nothing was fully scored
    assert not (tmp_path / "x").exists()


def test_processbench_goes_through_the_score_and_metrics_stages(tmp_path, prm_spec):
    from rewardlab import load_reward
    from rewardlab.evaluate.analysis import Settings
    from rewardlab.evaluate.benchmarks import load_benchmark
    from rewardlab.evaluate.processbench import SubsetItems, run_benchmark
    from rewardlab.evaluate.runner import metrics_stage, score_stage

    bench = load_benchmark(str(_step_file(tmp_path / "s.jsonl", "What is", n=12)))
    reward = load_reward(prm_spec)
    items, info = score_stage(reward, bench, progress=False)
    assert all(isinstance(i, SubsetItems) for i in items) and info["sequences"] == 12
    block, rows = metrics_stage(bench, items, info, Settings())  # no reward: metrics come from scores alone
    assert metrics_stage(bench, items, info, Settings()) == (block, rows)
    direct_block, direct_rows = run_benchmark(reward, bench, progress=False)
    assert {k: block[k] for k in direct_block if k != "scoring"} == {k: direct_block[k] for k in direct_block
                                                                     if k != "scoring"}
    assert rows == direct_rows and block["kind"] == "processbench" and "files" in block
