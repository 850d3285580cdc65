"""The benchmark registry and loaders: entry points, real data layouts, user files, and bad input."""

from __future__ import annotations

import json
from collections import Counter
from importlib.metadata import entry_points

import pytest

from rewardlab.data import DataError
from rewardlab.evaluate.benchmarks import (
    BENCHMARKS,
    BenchmarkSource,
    MissingBenchmarkData,
    load_benchmark,
    locate,
    select,
)
from rewardlab.registry import RegistryError
from rewardlab.types import PairRecord

BUILTIN = {"hh-rlhf", "rm-bench", "llmbar", "judgebench", "gsm8k-bon"}


def test_builtins_register_through_entry_points():
    declared = {ep.name for ep in entry_points(group="rewardlab.benchmarks")}
    assert declared >= BUILTIN
    assert set(BENCHMARKS.names()) >= BUILTIN
    assert all(isinstance(BENCHMARKS.get(name), BenchmarkSource) for name in BUILTIN)


def test_unknown_benchmark_lists_known_ones_and_suggests():
    with pytest.raises(RegistryError) as info:
        load_benchmark("llmbarr")
    message = str(info.value)
    assert "did you mean 'llmbar'" in message
    for name in BUILTIN:
        assert name in message


def test_missing_file_path_is_reported_as_such(tmp_path):
    with pytest.raises(FileNotFoundError, match="benchmark file not found"):
        load_benchmark(str(tmp_path / "nope.jsonl"))


def test_missing_data_says_where_it_looked_and_how_to_point_elsewhere(tmp_path, monkeypatch):
    monkeypatch.setenv("REWARDLAB_DATA", str(tmp_path / "env-root"))
    with pytest.raises(MissingBenchmarkData) as info:
        load_benchmark("hh-rlhf", data_root=tmp_path / "empty")
    message = str(info.value)
    assert str(tmp_path / "empty" / "hh-rlhf/harmless-base/test.jsonl.gz") in message
    assert "--data-root" in message and "REWARDLAB_DATA" in message
    # without --data-root every default place is listed, the environment variable first
    source = BENCHMARKS.get("hh-rlhf")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(MissingBenchmarkData) as info:
        import rewardlab.evaluate.benchmarks as b

        monkeypatch.setattr(b, "__file__", str(tmp_path / "x" / "y" / "z" / "benchmarks.py"))
        locate(source)
    assert str(tmp_path / "env-root") in str(info.value) and "$REWARDLAB_DATA" in str(info.value)


def test_limit_takes_subsets_round_robin_in_file_order():
    records = [PairRecord("p", "c", "r", subset=s, id=f"{s}{i}") for i, s in enumerate("aaaabbc")]
    picked = select(records, 4)
    # round-robin a, b, c, a -> ids a0, b4, c6, a1, returned in file order
    assert [r.id for r in picked] == ["a0", "a1", "b4", "c6"]
    assert [r.id for r in select(records, 100)] == [r.id for r in records]
    with pytest.raises(ValueError):
        select(records, -1)


def _write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_rewardbench_v1_file_loads_as_pairwise(tmp_path):
    path = _write_jsonl(tmp_path / "rb1.jsonl", [
        {"prompt": "hi", "chosen": "hello", "rejected": "go away", "subset": "alpacaeval-easy", "id": 1},
        {"prompt": "2+2?", "chosen": "4", "rejected": "5", "subset": "math-prm", "id": 2},
    ])
    bench = load_benchmark(str(path))
    assert bench.kind == "pairwise" and [r.subset for r in bench.records] == ["alpacaeval-easy", "math-prm"]
    assert bench.files == [path] and bench.total == 2


def test_rewardbench2_file_with_ties_loads_as_best_of_n(tmp_path):
    path = _write_jsonl(tmp_path / "rb2.jsonl", [
        {"id": "0", "prompt": "q", "chosen": ["good"], "rejected": ["b1", "b2", "b3"], "subset": "Focus"},
        {"id": "ref:3", "prompt": "q3", "chosen": ["a"], "rejected": ["x", "y"], "subset": "Ties"},
        {"id": "tied:3", "prompt": "q3", "chosen": ["a", "b"], "rejected": ["x"], "subset": "Ties"},
    ])
    bench = load_benchmark(str(path))
    assert bench.kind == "best-of-n"
    assert [r.correct for r in bench.records] == [(True, False, False, False), (True, False, False),
                                                 (True, True, False)]


def test_best_of_n_file_with_only_gold_scores_marks_the_best_as_correct(tmp_path):
    path = _write_jsonl(tmp_path / "bon.jsonl", [{"prompt": "q", "responses": ["a", "b", "c"],
                                                  "scores": [0.1, 0.9, 0.9]}])
    assert load_benchmark(str(path)).records[0].correct == (False, True, True)


def test_bad_user_row_names_file_line_and_field(tmp_path):
    path = _write_jsonl(tmp_path / "bad.jsonl", [
        {"prompt": "p", "chosen": "a", "rejected": "b"},
        {"prompt": "p", "chosen": 3, "rejected": "b"},
    ])
    with pytest.raises(DataError) as info:
        load_benchmark(str(path))
    assert info.value.line == 2 and info.value.field == "chosen" and str(path) in str(info.value)


def test_bad_llmbar_label_is_located(tmp_path):
    folder = tmp_path / "LLMBar" / "Dataset" / "LLMBar" / "Natural"
    folder.mkdir(parents=True)
    (folder / "dataset.json").write_text(json.dumps([
        {"input": "i", "output_1": "a", "output_2": "b", "label": 1},
        {"input": "i", "output_1": "a", "output_2": "b", "label": 3},
    ]))
    with pytest.raises(DataError) as info:
        load_benchmark("llmbar", data_root=tmp_path)
    assert info.value.field == "label" and info.value.line == 1 and "dataset.json" in str(info.value)


def test_llmbar_label_picks_the_chosen_output(tmp_path):
    folder = tmp_path / "LLMBar" / "Dataset" / "Processed" / "FairEval"
    folder.mkdir(parents=True)
    (folder / "dataset.json").write_text(json.dumps([
        {"input": "i", "output_1": "first", "output_2": "second", "label": 2},
    ]))
    pair = load_benchmark("llmbar", data_root=tmp_path).records[0]
    assert (pair.chosen, pair.rejected, pair.subset) == ("second", "first", "Processed/FairEval")


# --- the real files (skipped with a reason where ../shared/data is absent) ---------------------------

def test_real_hh_rlhf(shared_file):
    root = shared_file("hh-rlhf/harmless-base/test.jsonl.gz").parents[2]
    bench = load_benchmark("hh-rlhf", data_root=root)
    assert bench.kind == "pairwise" and len(bench.records) == 2312
    pair = bench.records[0]
    assert pair.prompt.endswith("\n\nAssistant:") and pair.chosen != pair.rejected


def test_real_rm_bench(shared_file):
    root = shared_file("RM-Bench/data").parents[1]
    bench = load_benchmark("rm-bench", data_root=root)
    counts = Counter(r.subset for r in bench.records)
    assert counts == {"chat": 129, "code": 228, "safety-refuse": 284, "safety-response": 157}
    assert all(r.correct == (True,) * 3 + (False,) * 3 for r in bench.records)


def test_real_llmbar_judgebench_gsm8k(shared_file):
    root = shared_file("LLMBar/Dataset").parents[1]
    llmbar = load_benchmark("llmbar", data_root=root)
    assert len(llmbar.records) == 1200 and len(llmbar.files) == 13
    assert Counter(r.subset for r in llmbar.records)["LLMBar/Adversarial/Neighbor"] == 134
    judge = load_benchmark("judgebench", data_root=root)
    assert len(judge.records) == 620
    assert Counter(r.subset for r in judge.records) == {"knowledge": 308, "reasoning": 149, "math": 90,
                                                       "coding": 73}
    gsm = load_benchmark("gsm8k-bon", data_root=root, limit=50)
    assert gsm.total == 1319 and len(gsm.records) == 50
    assert all(len(r.responses) == 4 and len(r.correct) == 4 for r in gsm.records)
    assert {r.subset for r in gsm.records} == {f"{k} of 4 correct" for k in range(5)}
