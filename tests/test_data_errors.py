"""Bad input: each kind of malformed file or row raises a DataError naming file, line/index and field,
saying what was expected and what was found. Nothing is skipped silently."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from rewardlab.data import DataError, load_pairs, load_records, load_samples, load_steps, read_rows

GOOD = {"prompt": "What is 2+2?", "chosen": "4", "rejected": "5"}


def jsonl(tmp_path: Path, *rows, name: str = "d.jsonl") -> Path:
    path = tmp_path / name
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")
    return path


def error_of(call, *args, **kwargs) -> DataError:
    with pytest.raises(DataError) as info:
        call(*args, **kwargs)
    return info.value


def test_message_format_names_file_line_and_field():
    err = DataError("expected a non-empty string, found an empty string", path="d.jsonl", line=3, field="chosen")
    assert str(err) == "d.jsonl:line 3: field 'chosen': expected a non-empty string, found an empty string"
    indexed = DataError("expected a JSON object, found number 3", path="d.json", line=0, indexed=True)
    assert str(indexed) == "d.json[0]: expected a JSON object, found number 3"
    assert isinstance(err, ValueError)


@pytest.mark.parametrize("value, found", [("", "an empty string"), ("   \n", "a whitespace-only string")])
def test_empty_string_where_text_is_required(tmp_path, value, found):
    path = jsonl(tmp_path, GOOD, {**GOOD, "rejected": value})
    err = error_of(load_pairs, path)
    assert (err.path, err.line, err.field) == (str(path), 2, "rejected")
    assert f"expected a non-empty string, found {found}" in str(err)
    assert str(err).startswith(f"{path}:line 2: field 'rejected'")


def test_empty_prompt_and_empty_step(tmp_path):
    err = error_of(load_pairs, jsonl(tmp_path, {**GOOD, "prompt": ""}))
    assert (err.line, err.field) == (1, "prompt")
    row = {"problem": "1+1?", "steps": ["1+1=2", ""], "label": -1}
    err = error_of(load_steps, jsonl(tmp_path, row, name="s.jsonl"))
    assert err.field == "steps[1]" and "found an empty string" in str(err)


def test_empty_response_in_samples_only_with_allow_empty(tmp_path):
    path = jsonl(tmp_path, {"prompt": "p", "response": "ok"}, {"prompt": "p", "response": ""})
    err = error_of(load_samples, path)
    assert (err.line, err.field) == (2, "response")
    samples = load_samples(path, allow_empty=True)
    assert [s.response for s in samples] == ["ok", ""]


@pytest.mark.parametrize("value, found", [
    (3, "found number 3"),
    (["a", "b"], "found a list of 2 items (string)"),
    (None, "found null"),
    ({"text": "hi"}, "found an object with keys ['text']"),
    (True, "found boolean True"),
])
def test_wrong_type_for_chosen(tmp_path, value, found):
    path = jsonl(tmp_path, {**GOOD, "chosen": value})
    if isinstance(value, list):  # a list under chosen reads as RewardBench 2: ask for pairs explicitly
        err = error_of(load_pairs, path, format="pairwise")
    else:
        err = error_of(load_pairs, path)
    assert (err.line, err.field) == (1, "chosen")
    assert f"expected a non-empty string, {found}" in str(err)


def test_wrong_types_in_lists_and_numbers(tmp_path):
    row = {"prompt": "p", "responses": ["a", "b"], "correct": [True, "yes"]}
    err = error_of(load_records, jsonl(tmp_path, row))
    assert err.field == "correct[1]" and "expected true/false (or 0/1), found string 'yes'" in str(err)
    row = {"prompt": "p", "responses": ["a", "b"], "scores": [0.5]}
    err = error_of(load_records, jsonl(tmp_path, row, name="s.jsonl"))
    assert err.field == "scores" and "expected 2 entries (one per response), found 1" in str(err)
    err = error_of(load_pairs, jsonl(tmp_path, {**GOOD, "margin": "big"}, name="m.jsonl"))
    assert err.field == "margin" and "expected a finite number, found string 'big'" in str(err)
    row = {"prompt": "p", "steps": ["a", "b"], "labels": [1.0, 1.5]}
    err = error_of(load_steps, jsonl(tmp_path, row, name="l.jsonl"))
    assert err.field == "labels[1]" and "expected a number in [0, 1], found number 1.5" in str(err)
    row = {"prompt": "p", "steps": ["a", "b"], "label": 2}
    err = error_of(load_steps, jsonl(tmp_path, row, name="i.jsonl"))
    assert err.field == "label" and "expected -1 (all steps correct) or a step index 0..1, found number 2" in str(err)


def test_missing_key_names_it_and_lists_keys_present(tmp_path):
    path = jsonl(tmp_path, GOOD, {"prompt": "p", "chosen": "a", "rejectd": "b"})
    err = error_of(load_pairs, path)
    assert (err.line, err.field) == (2, "rejected")
    assert "missing key 'rejected'; keys present: ['prompt', 'chosen', 'rejectd']" in str(err)


def test_missing_custom_key_is_named(tmp_path):
    from rewardlab.data import FieldKeys

    keys = FieldKeys(prompt_key="instruction", prompt_aliases=())
    path = jsonl(tmp_path, {"instruction": "p", "chosen": "a", "rejected": "b"}, {"chosen": "a", "rejected": "b"})
    err = error_of(load_pairs, path, keys, format="pairwise")
    assert (err.line, err.field) == (2, "instruction")
    assert "missing key 'instruction'" in str(err)


def test_invalid_json_line_gives_line_and_parser_message(tmp_path):
    path = jsonl(tmp_path, GOOD, GOOD, '{"prompt": "p", "chosen": "a",, "rejected": "b"}')
    err = error_of(load_pairs, path)
    assert err.line == 3 and err.field is None
    assert "invalid JSON: Expecting property name enclosed in double quotes (column 31)" in str(err)


def test_invalid_json_document_gives_line(tmp_path):
    path = tmp_path / "d.json"
    path.write_text('[\n  {"prompt": "p",\n   "chosen": "a"\n   "rejected": "b"}\n]\n', encoding="utf-8")
    err = error_of(list, read_rows(path))
    assert err.line == 4 and "invalid JSON: Expecting ',' delimiter" in str(err)


def test_non_utf8_bytes_give_line_and_byte_offset(tmp_path):
    path = tmp_path / "d.jsonl"
    good = json.dumps(GOOD).encode()
    bad = b'{"prompt": "caf\xe9", "chosen": "a", "rejected": "b"}'
    path.write_bytes(good + b"\n" + bad + b"\n")
    err = error_of(load_pairs, path)
    assert err.line == 2
    assert "invalid UTF-8: byte b'\\xe9' at byte offset 15 of the line" in str(err)
    assert f"(offset {len(good) + 1 + 15} in the file)" in str(err)


def test_non_utf8_bytes_in_json_document(tmp_path):
    path = tmp_path / "d.json"
    path.write_bytes(b'[\n {"prompt": "ok"},\n {"prompt": "\xff"}\n]')
    err = error_of(list, read_rows(path))
    assert err.line == 3 and "invalid UTF-8: byte b'\\xff' at byte offset 13 of the line" in str(err)


def test_fifty_megabyte_line_is_read_correctly(tmp_path):
    big = "x" * (50 * 1024 * 1024)
    path = tmp_path / "big.jsonl"
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(json.dumps(GOOD) + "\n")
        fh.write(json.dumps({"prompt": "long", "chosen": big, "rejected": "short"}) + "\n")
        fh.write(json.dumps(GOOD) + "\n")
    pairs = load_pairs(path)
    assert len(pairs) == 3 and len(pairs[1].chosen) == len(big) and pairs[2].source == f"{path}:3"


def test_line_over_max_line_bytes_is_rejected_without_reading_it_whole(tmp_path):
    path = tmp_path / "big.jsonl"
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(json.dumps(GOOD) + "\n")
        fh.write(json.dumps({"prompt": "long", "chosen": "x" * (2 * 1024 * 1024), "rejected": "y"}) + "\n")
    err = error_of(load_pairs, path, max_line_bytes=1024 * 1024)
    assert err.line == 2 and "line is longer than max_line_bytes=1,048,576 bytes" in str(err)
    exact = tmp_path / "exact.jsonl"
    line = json.dumps(GOOD)
    exact.write_text(line + "\n", encoding="utf-8")
    assert len(load_pairs(exact, max_line_bytes=len(line))) == 1  # the limit is inclusive


@pytest.mark.parametrize("row, found", [
    ('["What is 2+2?", "4", "5"]', "found a list of 3 items (string)"),
    ("42", "found number 42"),
    ('"just text"', "found string 'just text'"),
])
def test_row_that_is_not_an_object(tmp_path, row, found):
    err = error_of(load_pairs, jsonl(tmp_path, GOOD, row))
    assert err.line == 2 and f"expected a JSON object per line, {found}" in str(err)


def test_array_element_that_is_not_an_object(tmp_path):
    path = tmp_path / "d.json"
    path.write_text(json.dumps([GOOD, GOOD, [1, 2]]), encoding="utf-8")
    err = error_of(load_pairs, path)
    assert (err.line, err.indexed) == (2, True)
    assert str(err).startswith(f"{path}[2]: expected a JSON object, found a list of 2 items")


def test_json_object_with_two_row_lists_is_ambiguous(tmp_path):
    path = tmp_path / "d.json"
    path.write_text(json.dumps({"train": [GOOD], "test": [GOOD], "n": 3}), encoding="utf-8")
    err = error_of(list, read_rows(path))
    assert str(err) == (f"{path}: expected one list of row objects, found several under keys ['train', 'test']; "
                        "keep one (or put the rows under 'data')")


def test_null_in_parquet_column_is_located_by_index(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    path = tmp_path / "d.parquet"
    pq.write_table(pa.table({"prompt": ["a", "b"], "chosen": ["x", None], "rejected": ["y", "z"]}), path)
    err = error_of(load_pairs, path)
    assert str(err) == f"{path}[1]: field 'chosen': expected a non-empty string, found null"


def test_corrupt_files(tmp_path):
    gz = tmp_path / "d.jsonl.gz"
    gz.write_bytes(gzip.compress((json.dumps(GOOD) + "\n").encode() * 50)[:-30])
    assert "corrupt or truncated gzip" in str(error_of(list, read_rows(gz)))
    parquet = tmp_path / "d.parquet"
    parquet.write_bytes(b"PAR1 this is not really parquet")
    assert "not a readable Parquet file" in str(error_of(list, read_rows(parquet)))


def test_empty_input_is_an_error(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text("\n\n", encoding="utf-8")
    assert "no rows found" in str(error_of(load_pairs, path))


def test_a_later_row_in_another_format_is_not_reinterpreted(tmp_path):
    path = jsonl(tmp_path, GOOD, {"prompt": "p", "response": "r"})
    err = error_of(load_pairs, path)
    assert (err.line, err.field) == (2, "chosen") and "missing key 'chosen'" in str(err)


def test_wrong_kind_requested(tmp_path):
    path = jsonl(tmp_path, GOOD)
    assert "cannot detect the steps format" in str(error_of(load_steps, path))
    err = error_of(load_records, path, kind="samples", format="pairwise")
    assert "format 'pairwise' gives pairs records, but samples were requested" in str(err)
    assert "unknown format 'csv'" in str(error_of(load_records, path, format="csv"))
