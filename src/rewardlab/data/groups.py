"""Adapters for the non-pairwise shapes: best-of-N groups, RewardBench 2 rows, step-labelled solutions,
and plain samples to score.
"""

from __future__ import annotations

from rewardlab.data import fields
from rewardlab.data.errors import describe
from rewardlab.data.keys import FieldKeys
from rewardlab.data.readers import Row
from rewardlab.types import CandidatesRecord, Sample, StepRecord


def best_of_n(row: Row, keys: FieldKeys, default_subset: str = "default") -> CandidatesRecord:
    """``prompt, responses[], correct[] | scores[] [, subset, reference, id]``.

    ``correct`` (booleans, 0/1 accepted) and ``scores`` (numbers) each need one entry per response; both
    may be given, and neither (a group to score with no gold labels, e.g. for ``rewardlab bon``).
    """
    responses = fields.text_list(row, keys.responses_key)
    correct = scores = None
    if row.data.get(keys.correct_key) is not None:
        values = row.data[keys.correct_key]
        fields.same_length(row, keys.correct_key, values, len(responses), "response")
        correct = tuple(fields.flag(row, f"{keys.correct_key}[{i}]", v) for i, v in enumerate(values))
    if row.data.get(keys.scores_key) is not None:
        values = row.data[keys.scores_key]
        fields.same_length(row, keys.scores_key, values, len(responses), "response")
        scores = tuple(fields.number(row, f"{keys.scores_key}[{i}]", v) for i, v in enumerate(values))
    return CandidatesRecord(
        prompt=fields.prompt(row, keys.prompt_names()), responses=tuple(responses), correct=correct,
        scores=scores, **_extras(row, keys, default_subset),
    )


def rewardbench2(row: Row, keys: FieldKeys, default_subset: str = "default") -> CandidatesRecord:
    """RewardBench 2: ``prompt, chosen (str or list), rejected (list), subset`` -> one group, chosen first.

    ``correct`` marks the chosen responses True and the rejected False, so best-of-N accuracy ("the top
    score is a correct one") applies unchanged; RM-Bench rows (3 chosen, 3 rejected) load the same way.
    """
    chosen = fields.text_list(row, keys.chosen_key, allow_str=True)
    rejected = fields.text_list(row, keys.rejected_key, allow_str=True)
    return CandidatesRecord(
        prompt=fields.prompt(row, keys.prompt_names()), responses=tuple(chosen + rejected),
        correct=(True,) * len(chosen) + (False,) * len(rejected), **_extras(row, keys, default_subset),
    )


def steps(row: Row, keys: FieldKeys, default_subset: str = "default") -> StepRecord:
    """``prompt|problem, steps[], labels[] | label | first_error [, final_answer_correct, subset, id]``.

    ``labels``: per-step correctness in [0, 1] (hard 0/1 or soft Monte-Carlo estimates). ``label`` /
    ``first_error``: ProcessBench's index of the earliest wrong step, -1 when every step is correct;
    `StepRecord.step_labels` turns it into per-step labels. When both kinds are given both are kept.
    """
    step_texts = fields.text_list(row, keys.steps_key)
    labels = first_error = None
    if row.data.get(keys.labels_key) is not None:
        values = row.data[keys.labels_key]
        fields.same_length(row, keys.labels_key, values, len(step_texts), "step")
        labels = tuple(fields.number(row, f"{keys.labels_key}[{i}]", v, unit=True) for i, v in enumerate(values))
    index_key = fields.find_key(row, (keys.label_key, keys.first_error_key))
    if index_key is not None and row.data[index_key] is not None:
        first_error = fields.integer(row, index_key, row.data[index_key])
        if not -1 <= first_error < len(step_texts):
            raise row.error(f"expected -1 (all steps correct) or a step index 0..{len(step_texts) - 1}, found "
                            f"{describe(row.data[index_key])}", index_key)
    if labels is None and first_error is None:
        names = keys.step_label_names()
        raise row.error(f"expected step labels under one of {list(names)}, found none (or only nulls); keys "
                        f"present: {list(row.data)}", keys.labels_key)
    return StepRecord(
        prompt=fields.prompt(row, keys.prompt_names()), steps=tuple(step_texts), labels=labels,
        first_error=first_error,
        final_correct=fields.optional_flag(row, (keys.final_correct_key, *keys.final_correct_aliases)),
        **_extras(row, keys, default_subset),
    )


def samples(row: Row, keys: FieldKeys, default_subset: str = "default", allow_empty: bool = False) -> Sample:
    """A response to score: ``prompt, response`` (or TRL's ``completion``), optionally ``steps``.

    Also ``messages`` (a whole chat whose last message is the assistant's response) and ``prompt, steps``
    with no response (the response is the steps joined by blank lines, as `StepRecord.sample` does).
    ``allow_empty`` accepts an empty response: a policy can really produce one, and a reward should score it.
    """
    step_texts = None
    if row.data.get(keys.steps_key) is not None:
        step_texts = tuple(fields.text_list(row, keys.steps_key))
    response_key = fields.find_key(row, keys.response_names())
    if response_key is None and keys.messages_key in row.data:
        chat = fields.check_messages(row, keys.messages_key, row.data[keys.messages_key])
        if chat[-1]["role"] != "assistant" or len(chat) < 2:
            raise row.error("expected a conversation ending with the assistant's response after at least one "
                            f"message, found {len(chat)} message(s) ending with role {chat[-1]['role']!r}",
                            keys.messages_key)
        prompt, response = chat[:-1], chat[-1]["content"]
    else:
        prompt = fields.prompt(row, keys.prompt_names())
        if response_key is None and step_texts is not None:
            response = "\n\n".join(step_texts)
        else:
            response = fields.text(row, keys.response_names(), allow_empty=allow_empty)
    extras = _extras(row, keys, default_subset)
    meta = {"id": extras["id"], "subset": extras["subset"], "source": row.source}
    return Sample(prompt, response, steps=step_texts, reference=extras["reference"], metadata=meta)


def _extras(row: Row, keys: FieldKeys, default_subset: str) -> dict:
    return {
        "subset": fields.optional_text(row, keys.subset_key, default_subset),
        "reference": fields.optional_text(row, keys.reference_key),
        "id": fields.optional_text(row, keys.id_key),
        "source": row.source,
    }
