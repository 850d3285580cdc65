"""Readers: every file kind yields the same rows with the right ``source``, and JSONL is streamed."""

from __future__ import annotations

import gzip
import json
from itertools import islice
from pathlib import Path

import pytest

from rewardlab.data import DataError, load_pairs, load_records, read_rows
from rewardlab.data.tables import parse_hub_spec

ROWS = [
    {"prompt": "What is 2+2?", "chosen": "4", "rejected": "5", "subset": "math", "id": 7},
    {"prompt": "Capital of France?", "chosen": "Paris", "rejected": "Lyon", "margin": 2.5},
    {"prompt": "Say hi", "chosen": "Hi!", "rejected": "No.", "subset": None},
]


def write_jsonl(path: Path, rows: list, gz: bool = False) -> Path:
    text = "".join(json.dumps(r) + "\n" for r in rows)
    if gz:
        with gzip.open(path, "wt", encoding="utf-8") as fh:
            fh.write(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def table(pa, rows):
    """A pyarrow table with every key as a column (from_pylist alone takes the first row's keys)."""
    names = list(dict.fromkeys(k for r in rows for k in r))
    return pa.table({k: [r.get(k) for r in rows] for k in names})


def plain(rows) -> list[dict]:
    return [dict(r.data) for r in rows]


def test_jsonl_rows_and_sources(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", ROWS)
    rows = list(read_rows(path))
    assert plain(rows) == ROWS
    assert [r.source for r in rows] == [f"{path}:1", f"{path}:2", f"{path}:3"]
    assert (rows[1].line, rows[1].indexed) == (2, False)


def test_jsonl_is_streamed_lazily(tmp_path):
    # line 3 is broken: taking the first two rows must not touch it (nothing reads ahead of the consumer)
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps(ROWS[0]) + "\n" + json.dumps(ROWS[1]) + "\n{broken\n", encoding="utf-8")
    assert plain(islice(read_rows(path), 2)) == ROWS[:2]
    with pytest.raises(DataError, match="line 3"):
        list(read_rows(path))


def test_jsonl_blank_lines_bom_and_crlf(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(ROWS[0]).encode() + b"\r\n\r\n   \n" + json.dumps(ROWS[1]).encode())
    rows = list(read_rows(path))
    assert plain(rows) == ROWS[:2]
    assert [r.line for r in rows] == [1, 4]  # line numbers count the blank lines, as an editor does


def test_json_array_and_object_with_data_key(tmp_path):
    array = tmp_path / "a.json"
    array.write_text(json.dumps(ROWS, indent=2), encoding="utf-8")
    rows = list(read_rows(array))
    assert plain(rows) == ROWS
    assert [r.source for r in rows] == [f"{array}[0]", f"{array}[1]", f"{array}[2]"]
    assert rows[2].indexed and rows[2].line == 2
    wrapped = tmp_path / "w.json"
    wrapped.write_text(json.dumps({"version": 2, "data": ROWS, "splits": ["test"]}), encoding="utf-8")
    assert plain(read_rows(wrapped)) == ROWS
    only_list = tmp_path / "o.json"
    only_list.write_text(json.dumps({"name": "x", "tags": ["a"], "items": ROWS}), encoding="utf-8")
    assert plain(read_rows(only_list)) == ROWS
    single = tmp_path / "one.json"  # one object with no list of objects inside: a one-row file
    single.write_text(json.dumps(ROWS[0], indent=2), encoding="utf-8")
    rows = list(read_rows(single))
    assert plain(rows) == ROWS[:1] and rows[0].source == f"{single}[0]"


def test_json_suffix_holding_json_lines_is_sniffed(tmp_path):
    path = write_jsonl(tmp_path / "hub_style.json", ROWS)
    rows = list(read_rows(path))
    assert plain(rows) == ROWS and rows[0].source == f"{path}:1"


def test_gzip_jsonl_and_gzip_json(tmp_path):
    assert plain(read_rows(write_jsonl(tmp_path / "d.jsonl.gz", ROWS, gz=True))) == ROWS
    path = tmp_path / "d.json.gz"
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        json.dump(ROWS, fh, indent=1)
    rows = list(read_rows(path))
    assert plain(rows) == ROWS and rows[1].source == f"{path}[1]"


def test_parquet(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    path = tmp_path / "d.parquet"
    pq.write_table(table(pa, ROWS), path)
    rows = list(read_rows(path))
    # Parquet has one schema for all rows: absent fields come back as null
    assert [r.data["chosen"] for r in rows] == ["4", "Paris", "Hi!"]
    assert rows[1].data["margin"] == 2.5 and rows[0].data["margin"] is None
    assert rows[2].source == f"{path}[2]"
    pairs = load_pairs(path)
    assert [p.subset for p in pairs] == ["math", "default", "default"]
    assert pairs[0].id == "7" and pairs[1].margin == 2.5


def test_parquet_sniffed_without_suffix(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    path = tmp_path / "export.bin"
    pq.write_table(table(pa, ROWS), path)
    assert [r.data["prompt"] for r in read_rows(path)] == [r["prompt"] for r in ROWS]


def test_hf_save_to_disk_dataset_and_dataset_dict(tmp_path):
    datasets = pytest.importorskip("datasets")
    one = tmp_path / "ds"
    datasets.Dataset.from_list(ROWS).save_to_disk(str(one))
    rows = list(read_rows(one))
    assert [r.data["rejected"] for r in rows] == ["5", "Lyon", "No."]
    assert rows[0].source == f"{one}[0]"
    both = tmp_path / "dd"
    datasets.DatasetDict({"train": datasets.Dataset.from_list(ROWS[:1]),
                          "test": datasets.Dataset.from_list(ROWS[1:])}).save_to_disk(str(both))
    with pytest.raises(DataError, match=r"available splits: \['train', 'test'\]"):
        list(read_rows(both))
    test_rows = list(read_rows(both, split="test"))
    assert [r.data["chosen"] for r in test_rows] == ["Paris", "Hi!"]
    assert test_rows[0].source == f"{both}:test[0]"
    kind, pairs = load_records(f"{both}:train")
    assert kind == "pairs" and [p.chosen for p in pairs] == ["4"]


def test_folder_that_is_not_a_saved_dataset(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(DataError, match="save_to_disk"):
        list(read_rows(tmp_path))


def test_hub_path_offline_gives_a_clear_error(monkeypatch):
    """The hub code path is real (datasets.load_dataset); offline it must fail fast and say what it tried."""
    datasets = pytest.importorskip("datasets")
    import huggingface_hub.constants

    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(DataError) as info:
        list(read_rows("hf://rewardlab-test/no-such-dataset:test"))
    message = str(info.value)
    assert "rewardlab-test/no-such-dataset" in message and "split 'test'" in message and "offline" in message


def test_hub_spec_parsing():
    assert parse_hub_spec("hf://allenai/reward-bench-2:test") == ("allenai/reward-bench-2", None, "test")
    assert parse_hub_spec("hf://openai/gsm8k/main:train") == ("openai/gsm8k", "main", "train")
    assert parse_hub_spec("hf://Anthropic/hh-rlhf") == ("Anthropic/hh-rlhf", None, None)
    with pytest.raises(DataError, match="hf://owner/name"):
        parse_hub_spec("hf://just-a-name")


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="file not found") as info:
        list(read_rows(tmp_path / "nope.jsonl"))
    assert info.value.path == str(tmp_path / "nope.jsonl")
