"""Atomic writes: a failure mid-write leaves the previous file untouched and no temp files behind."""

import json

import pytest

from rewardlab.io import atomic_writer, write_json, write_jsonl


def test_failed_write_keeps_old_content(tmp_path):
    target = tmp_path / "out.json"
    write_json(target, {"v": 1})
    with pytest.raises(RuntimeError), atomic_writer(target) as fh:
        fh.write('{"v": 2, "half')
        raise RuntimeError("crash mid-write")
    assert json.loads(target.read_text()) == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_jsonl_round_trip(tmp_path):
    rows = [{"a": i, "s": "é"} for i in range(3)]
    assert write_jsonl(tmp_path / "x.jsonl", rows) == 3
    assert [json.loads(line) for line in (tmp_path / "x.jsonl").read_text().splitlines()] == rows
