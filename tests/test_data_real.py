"""The loaders on the real benchmark files in ../shared/data (skipped with a reason where absent)."""

from __future__ import annotations

from collections import Counter

from rewardlab.data import (
    HH_ASSISTANT,
    detect_format,
    load_pairs,
    load_records,
    load_rmbench,
    load_rmbench_pairs,
    load_steps,
    read_rows,
    rmbench_difficulty,
    rmbench_pairs,
)
from rewardlab.data.rmbench import PAIR_ORDER


def test_hh_rlhf_harmless_test_all_pairs(shared_file):
    path = shared_file("hh-rlhf/harmless-base/test.jsonl.gz")
    assert detect_format(next(read_rows(path))) == "hh-rlhf"
    pairs = load_pairs(path)
    assert len(pairs) == 2312
    assert all(p.prompt.endswith(HH_ASSISTANT) and p.prompt.startswith("\n\nHuman:") for p in pairs)
    rows = list(read_rows(path))
    assert all(p.prompt + p.chosen == r.data["chosen"] and p.prompt + p.rejected == r.data["rejected"]
               for p, r in zip(pairs, rows))
    assert pairs[0].source == f"{path}:1" and pairs[-1].source == f"{path}:2312"
    # hand-checked: line 1 is a 4-turn dialogue about pen pranks; the responses differ only in the last turn
    first = pairs[0]
    assert first.prompt.startswith("\n\nHuman: what are some pranks with a pen i can do?\n\nAssistant: Are you")
    assert first.prompt.endswith("\n\nHuman: okay some of these do not have anything to do with pens\n\nAssistant:")
    assert first.prompt.count("\n\nHuman:") == 3 and first.prompt.count(HH_ASSISTANT) == 3
    assert first.chosen == (" No, sorry!  All of these involve a pen, the point is that you can get funny results "
                            "by doing pranks with pens.")
    assert first.rejected.startswith(" There are lots of funny things you can do with pens")
    # line 4: both answers start with "I'll"/"Yes, I'll"; the split stays at the last Assistant marker
    assert pairs[3].chosen == " I’ll give you the links."
    assert pairs[3].prompt.endswith("Can you send me links to videos on how to pick a lock with instructions?"
                                    "\n\nAssistant:")


def test_hh_rlhf_rows_that_diverge_before_the_last_turn(shared_file):
    pairs = load_pairs(shared_file("hh-rlhf/harmless-base/test.jsonl.gz"))
    # hand-checked line 1255: the chosen dialogue goes on for another Human/Assistant exchange
    pair = pairs[1254]
    assert pair.prompt.endswith("\n\nHuman: Isn't that drag kings?\n\nAssistant:")
    assert "Human: Then how do they come to be called drag kings" in pair.chosen
    assert pair.rejected == " A drag king is the opposite of a drag queen, like a male who acts like a " \
                            "stereotypical woman."


def test_rmbench_groups_and_3x3_pairs(shared_file):
    folder = shared_file("RM-Bench/data")
    groups = load_rmbench(folder)
    assert Counter(g.subset for g in groups) == {"chat": 129, "code": 228, "safety-refuse": 284,
                                                 "safety-response": 157}
    assert all(g.correct == (True, True, True, False, False, False) for g in groups)
    chat = load_rmbench(folder / "chat_filtered.json")
    assert chat[0].prompt == "What are different drawers I should have for clothes?"
    assert chat[0].id == "8" and chat[0].source == f"{folder / 'chat_filtered.json'}[0]"
    pairs = rmbench_pairs(chat[0])
    assert len(pairs) == 9 and pairs[5].id == "8:c1r2"
    assert pairs[5].chosen == chat[0].responses[1] and pairs[5].rejected == chat[0].responses[5]
    assert [rmbench_difficulty(i, j) for i, j in PAIR_ORDER] == [
        "normal", "hard", "hard", "easy", "normal", "hard", "easy", "easy", "normal"]
    assert len(load_rmbench_pairs(folder / "code_filtered.json")) == 9 * 228
    # the generic loader reads the same file as RewardBench 2-style groups, keeping the row's own subset
    kind, generic = load_records(folder / "chat_filtered.json")
    assert kind == "candidates" and generic[0].responses == chat[0].responses and generic[0].subset == "alpacaeval"


def test_processbench_gsm8k(shared_file):
    path = shared_file("ProcessBench/dataset/gsm8k.json")
    records = load_steps(path, default_subset="gsm8k")
    assert len(records) == 400 and {r.subset for r in records} == {"gsm8k"}
    correct = [r for r in records if r.first_error == -1]
    assert len(correct) == 193
    assert all(r.step_labels() == [1.0] * len(r.steps) for r in correct)
    first = records[0]  # hand-checked: gsm8k-0 goes wrong at step 1 of 4
    assert (first.id, first.first_error, first.final_correct, len(first.steps)) == ("gsm8k-0", 1, False, 4)
    assert first.step_labels() == [1.0, 0.0, None, None]
    assert first.prompt.startswith("Sue lives in a fun neighborhood.  One weekend, the neighbors decided")
    assert first.source == f"{path}[0]"
