"""Bad training records are counted and reported (error or documented skip), never dropped silently."""

from __future__ import annotations

import pytest

from rewardlab.data import DataError, FieldKeys
from rewardlab.train.records import load_pairs_checked, split_by_prompt
from train_data import arithmetic_pairs, write_jsonl


def _bad_file(tmp_path):
    rows = arithmetic_pairs(6)
    rows[1]["rejected"] = rows[1]["chosen"]  # identical
    rows[2]["chosen"] = "   "  # empty side
    rows[4]["rejected"] = rows[4]["chosen"] + "  "  # identical up to whitespace
    path = write_jsonl(tmp_path / "bad.jsonl", rows)
    with path.open("a") as fh:
        fh.write('{"prompt": "p", "chosen": "a", "rejected": "b", "margin": NaN}\n')  # line 7
    return path


def test_bad_pairs_error_lists_every_problem(tmp_path):
    path = _bad_file(tmp_path)
    with pytest.raises(DataError) as info:
        load_pairs_checked(str(path), FieldKeys(), "error")
    message = str(info.value)
    assert "4 unusable record(s)" in message
    assert "2 identical chosen/rejected" in message and "bad.jsonl:line 2" in message and "bad.jsonl:line 5" in message
    assert "1 empty side" in message and "line 3 field 'chosen'" in message
    assert "1 non-finite margin" in message and "line 7 field 'margin'" in message
    assert "--bad-pairs skip" in message


def test_bad_pairs_skip_keeps_the_rest_and_counts(tmp_path):
    pairs, _, bad = load_pairs_checked(str(_bad_file(tmp_path)), FieldKeys(), "skip")
    assert len(pairs) == 3
    assert bad.counts() == {"empty side": 1, "identical chosen/rejected": 2, "non-finite margin": 1}


def test_all_bad_is_an_error_even_when_skipping(tmp_path):
    rows = arithmetic_pairs(2)
    for row in rows:
        row["rejected"] = row["chosen"]
    with pytest.raises(DataError, match="no usable records"):
        load_pairs_checked(str(write_jsonl(tmp_path / "x.jsonl", rows)), FieldKeys(), "skip")


def test_split_by_prompt_never_leaks_a_prompt(tmp_path):
    rows = arithmetic_pairs(200) + arithmetic_pairs(50)  # the second batch repeats the first 50 prompts
    pairs, _, _ = load_pairs_checked(str(write_jsonl(tmp_path / "p.jsonl", rows)), FieldKeys(), "error")
    train, held = split_by_prompt(pairs, 0.25, seed=0)
    assert sorted(train + held) == list(range(len(pairs)))
    assert not {pairs[i].prompt for i in train} & {pairs[i].prompt for i in held}
    assert 0.15 < len(held) / len(pairs) < 0.35


def test_real_hh_rlhf_blank_answers_are_reported(shared_file):
    path = str(shared_file("hh-rlhf/harmless-base/test.jsonl.gz"))
    pairs, _, bad = load_pairs_checked(path, FieldKeys(), "skip")
    assert len(pairs) + bad.total == 2312  # every row is either used or counted
    assert bad.counts() == {"empty side": 4}  # four dialogues whose final Assistant turn is blank
    with pytest.raises(DataError, match=r"test.jsonl.gz:line 87 field 'chosen'"):
        load_pairs_checked(path, FieldKeys(), "error")
