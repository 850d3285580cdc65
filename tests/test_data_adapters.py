"""Adapters: each format turns rows into the right records, detection picks it from the keys, and
configurable field names work."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rewardlab.data import (
    DataError,
    FieldKeys,
    detect_format,
    load_candidates,
    load_pairs,
    load_records,
    load_samples,
    load_steps,
)
from rewardlab.data.pairs import common_prefix_length, split_point
from rewardlab.types import CandidatesRecord, PairRecord, Sample, StepRecord


def jsonl(tmp_path: Path, *rows, name: str = "d.jsonl") -> Path:
    path = tmp_path / name
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def user(text):
    return {"role": "user", "content": text}


def bot(text):
    return {"role": "assistant", "content": text}


def test_generic_pairwise_with_optional_fields(tmp_path):
    path = jsonl(tmp_path, {"prompt": "2+2?", "chosen": "4", "rejected": "5", "subset": "math", "margin": 1,
                            "id": "a1", "extra": [1, 2]},
                 {"prompt": "hi", "chosen": "hello", "rejected": "go away"})
    pairs = load_pairs(path)
    assert pairs == [
        PairRecord("2+2?", "4", "5", subset="math", margin=1.0, id="a1", source=f"{path}:1"),
        PairRecord("hi", "hello", "go away", source=f"{path}:2"),
    ]
    first, second = pairs[0].samples()
    assert (first.response, second.response, first.metadata["source"]) == ("4", "5", f"{path}:1")


def test_custom_field_keys(tmp_path):
    keys = FieldKeys(prompt_key="question", chosen_key="good", rejected_key="bad", subset_key="split",
                     id_key="uid", margin_key="gap")
    path = jsonl(tmp_path, {"question": "q", "good": "g", "bad": "b", "split": "s1", "uid": 9, "gap": 0.5})
    assert detect_format({"question": "q", "good": "g", "bad": "b"}, keys) == "pairwise"
    [pair] = load_pairs(path, keys)
    assert (pair.prompt, pair.chosen, pair.rejected, pair.subset, pair.id, pair.margin) == ("q", "g", "b", "s1",
                                                                                             "9", 0.5)


def test_messages_whole_conversations(tmp_path):
    history = [user("hi"), bot("hello, how can I help?"), user("2+2?")]
    path = jsonl(tmp_path, {"chosen": [*history, bot("4")], "rejected": [*history, bot("5")], "id": 3})
    [pair] = load_pairs(path)
    assert detect_format({"chosen": [*history, bot("4")], "rejected": [*history, bot("5")]}) == "messages"
    assert pair.prompt == history and (pair.chosen, pair.rejected, pair.id) == ("4", "5", "3")


def test_trl_conversational_prompt_plus_completions(tmp_path):
    row = {"prompt": [{"role": "system", "content": "Be brief."}, user("Capital of France?")],
           "chosen": [bot("Paris.")], "rejected": [bot("Lyon.")]}
    [pair] = load_pairs(jsonl(tmp_path, row))
    assert pair.prompt == row["prompt"] and (pair.chosen, pair.rejected) == ("Paris.", "Lyon.")


def test_ultrafeedback_style_text_prompt_with_conversations(tmp_path):
    row = {"prompt": "2+2?", "chosen": [user("2+2?"), bot("4")], "rejected": [user("2+2?"), bot("5")],
           "score_chosen": 9.0}
    [pair] = load_pairs(jsonl(tmp_path, row))
    assert pair.prompt == [user("2+2?")] and (pair.chosen, pair.rejected) == ("4", "5")


def test_messages_errors(tmp_path):
    diverged = {"chosen": [user("a"), bot("x")], "rejected": [user("b"), bot("y")]}
    err = pytest.raises(DataError, load_pairs, jsonl(tmp_path, diverged)).value
    assert err.field == "rejected" and "they differ at message 0" in str(err)
    not_last = {"chosen": [user("a"), bot("x"), user("more")], "rejected": [user("a"), bot("y")]}
    err = pytest.raises(DataError, load_pairs, jsonl(tmp_path, not_last, name="b.jsonl")).value
    assert err.field == "chosen[2].role" and "found role 'user'" in str(err)
    bad_role = {"chosen": [{"role": "human", "content": "a"}, bot("x")], "rejected": [user("a"), bot("y")]}
    err = pytest.raises(DataError, load_pairs, jsonl(tmp_path, bad_role, name="c.jsonl")).value
    assert err.field == "chosen[0].role" and "found string 'human'" in str(err)
    no_content = {"chosen": [user("a"), {"role": "assistant"}], "rejected": [user("a"), bot("y")]}
    err = pytest.raises(DataError, load_pairs, jsonl(tmp_path, no_content, name="d.jsonl")).value
    assert err.field == "chosen[1]" and "missing key 'content'; keys present: ['role']" in str(err)
    only_answer = {"chosen": [bot("x")], "rejected": [bot("y")]}
    err = pytest.raises(DataError, load_pairs, jsonl(tmp_path, only_answer, name="e.jsonl")).value
    assert err.field == "prompt" and "expected a prompt" in str(err)


HH_PROMPT = "\n\nHuman: Hi there\n\nAssistant: Hello!\n\nHuman: What is 2+2?\n\nAssistant:"


def test_hh_rlhf_prompt_is_shared_prefix_up_to_last_assistant(tmp_path):
    row = {"chosen": HH_PROMPT + " It is 4.", "rejected": HH_PROMPT + " It is 5."}
    assert detect_format(row) == "hh-rlhf"
    [pair] = load_pairs(jsonl(tmp_path, row))
    assert pair.prompt == HH_PROMPT
    assert (pair.chosen, pair.rejected) == (" It is 4.", " It is 5.")
    assert pair.prompt + pair.chosen == row["chosen"]  # lossless split


def test_hh_rlhf_common_prefix_running_into_the_response():
    # both answers start with " It is": the common prefix runs past the marker, the split must not
    chosen, rejected = HH_PROMPT + " It is 4.", HH_PROMPT + " It is 5."
    assert split_point(chosen, rejected) == len(HH_PROMPT)
    assert common_prefix_length(chosen, rejected) == len(HH_PROMPT) + len(" It is ")


def test_hh_rlhf_transcripts_differing_before_last_turn(tmp_path):
    shared = "\n\nHuman: Are drag queens men?\n\nAssistant:"
    chosen = shared + " No.\n\nHuman: Really?\n\nAssistant: Yes."
    rejected = shared + " Sometimes."
    [pair] = load_pairs(jsonl(tmp_path, {"chosen": chosen, "rejected": rejected}))
    assert pair.prompt == shared
    assert pair.chosen == " No.\n\nHuman: Really?\n\nAssistant: Yes." and pair.rejected == " Sometimes."


def test_hh_rlhf_without_markers_is_an_error(tmp_path):
    err = pytest.raises(DataError, load_pairs, jsonl(tmp_path, {"chosen": "good", "rejected": "bad"})).value
    assert (err.line, err.field) == (1, "chosen") and "no such marker in either transcript" in str(err)


def test_best_of_n_with_correct_and_scores(tmp_path):
    path = jsonl(tmp_path, {"prompt": "2+2?", "responses": ["4", "5", "four"], "correct": [1, 0, True],
                            "scores": [1, 0.0, 0.9], "reference": 4, "subset": "math"})
    [group] = load_candidates(path)
    assert group == CandidatesRecord("2+2?", ("4", "5", "four"), correct=(True, False, True),
                                     scores=(1.0, 0.0, 0.9), subset="math", reference="4", source=f"{path}:1")
    assert [s.reference for s in group.samples()] == ["4", "4", "4"]


def test_rewardbench2_chosen_first(tmp_path):
    path = jsonl(tmp_path, {"prompt": "p", "chosen": ["c"], "rejected": ["r1", "r2", "r3"], "subset": "Math",
                            "id": "x"},
                 {"prompt": "q", "chosen": "only", "rejected": ["r"], "subset": "Focus"})
    assert detect_format({"prompt": "p", "chosen": ["c"], "rejected": ["r1"]}) == "rewardbench2"
    kind, groups = load_records(path)
    assert kind == "candidates"
    assert groups[0].responses == ("c", "r1", "r2", "r3") and groups[0].correct == (True, False, False, False)
    assert groups[1].responses == ("only", "r") and groups[1].correct == (True, False)
    assert (groups[0].subset, groups[0].id, groups[1].source) == ("Math", "x", f"{path}:2")


def test_steps_soft_labels_and_processbench_label(tmp_path):
    path = jsonl(tmp_path,
                 {"problem": "1+1+1?", "steps": ["1+1=2", "2+1=3"], "labels": [1, 0.25], "final_correct": 1},
                 {"problem": "2*3?", "steps": ["2*3=5", "so 5", "done"], "label": 0, "final_answer_correct": False},
                 {"problem": "3-1?", "steps": ["3-1=2"], "label": -1, "final_answer_correct": True})
    a, b, c = load_steps(path, default_subset="toy")
    assert a == StepRecord("1+1+1?", ("1+1=2", "2+1=3"), labels=(1.0, 0.25), final_correct=True, subset="toy",
                           source=f"{path}:1")
    assert (b.first_error, b.final_correct, b.step_labels()) == (0, False, [0.0, None, None])
    assert (c.first_error, c.step_labels()) == (-1, [1.0])
    assert c.sample().steps == ("3-1=2",)


def test_steps_without_any_labels_is_an_error(tmp_path):
    path = jsonl(tmp_path, {"problem": "p", "steps": ["a"], "label": 0}, {"problem": "p", "steps": ["a"]})
    err = pytest.raises(DataError, load_steps, path).value
    assert err.line == 2 and "expected step labels under one of ['labels', 'label', 'first_error']" in str(err)


def test_samples_formats(tmp_path):
    path = jsonl(tmp_path, {"prompt": "p", "response": "r", "id": 1, "reference": "42"})
    [sample] = load_samples(path)
    assert sample == Sample("p", "r", reference="42")
    assert sample.metadata == {"id": "1", "subset": "default", "source": f"{path}:1"}
    trl = jsonl(tmp_path, {"prompt": [user("hi")], "completion": "hello"}, name="t.jsonl")
    assert load_samples(trl)[0] == Sample([user("hi")], "hello")
    chat = jsonl(tmp_path, {"messages": [user("hi"), bot("hey")]}, name="m.jsonl")
    assert load_samples(chat)[0] == Sample([user("hi")], "hey")
    stepped = jsonl(tmp_path, {"prompt": "p", "steps": ["a", "b"]}, name="s.jsonl")
    assert load_samples(stepped)[0] == Sample("p", "a\n\nb", steps=("a", "b"))


@pytest.mark.parametrize("row, expected", [
    ({"prompt": "p", "chosen": "a", "rejected": "b"}, "pairwise"),
    ({"chosen": "\n\nHuman: a\n\nAssistant: b", "rejected": "\n\nHuman: a\n\nAssistant: c"}, "hh-rlhf"),
    ({"prompt": "p", "responses": ["a"], "scores": [1]}, "best-of-n"),
    ({"problem": "p", "steps": ["a"], "label": -1}, "steps"),
    ({"prompt": "p", "steps": ["a"], "first_error": 0}, "steps"),
    ({"question": "p", "completion": "a"}, "samples"),
])
def test_detect_format(row, expected):
    assert detect_format(row) == expected


def test_detect_format_ambiguous_and_unknown():
    both = {"prompt": "p", "chosen": "a", "rejected": "b", "response": "c"}
    with pytest.raises(DataError, match=r"ambiguous row: it matches pairwise .*; samples \(keys response\); "
                                        r"pass format= one of \['pairwise', 'samples'\]"):
        detect_format(both)
    assert detect_format(both, kind="pairs") == "pairwise"
    with pytest.raises(DataError, match=r"cannot detect the format from keys \['input', 'output_1'\].*"):
        detect_format({"input": "p", "output_1": "a"})
    with pytest.raises(DataError, match="found 'chosen' but no 'rejected'"):
        detect_format({"prompt": "p", "chosen": "a"})


def test_explicit_format_and_limit(tmp_path):
    rows = [{"prompt": f"p{i}", "chosen": "a", "rejected": "b", "response": "c"} for i in range(5)]
    path = jsonl(tmp_path, *rows)
    kind, samples = load_records(path, format="samples", limit=2)
    assert kind == "samples" and [s.prompt for s in samples] == ["p0", "p1"]
    assert len(load_pairs(path)) == 5  # kind="pairs" resolves the ambiguity
