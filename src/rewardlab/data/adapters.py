"""Formats: which adapter turns a row into which record, and `detect_format` to pick one from the keys.

| format         | kind         | row shape (default keys)                                              |
|----------------|--------------|-----------------------------------------------------------------------|
| ``pairwise``     | pairs      | ``prompt, chosen, rejected[, subset, margin, id]`` (strings)          |
| ``messages``     | pairs      | ``chosen``/``rejected`` chat-message lists [``prompt`` text or list]  |
| ``hh-rlhf``      | pairs      | ``chosen``/``rejected`` whole ``\\n\\nHuman:``/``\\n\\nAssistant:`` dialogues |
| ``best-of-n``    | candidates | ``prompt, responses[], correct[] | scores[]``                         |
| ``rewardbench2`` | candidates | ``prompt, chosen (str or list), rejected (list)``: chosen first       |
| ``steps``        | steps      | ``prompt|problem, steps[], labels[] | label | first_error``           |
| ``samples``      | samples    | ``prompt, response|completion`` (or ``messages``, or unlabelled steps)|

A file's format is detected from its first row and then applied to every row, so a later row that does not
fit gets a located `DataError` rather than being reinterpreted.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rewardlab.data import groups, pairs
from rewardlab.data.errors import DataError, present_keys
from rewardlab.data.fields import is_messages
from rewardlab.data.keys import FieldKeys
from rewardlab.data.readers import Row

Adapter = Callable[[Row, FieldKeys, str], Any]

FORMATS: dict[str, tuple[str, Adapter]] = {
    "pairwise": ("pairs", pairs.pairwise),
    "messages": ("pairs", pairs.messages),
    "hh-rlhf": ("pairs", pairs.hh_rlhf),
    "best-of-n": ("candidates", groups.best_of_n),
    "rewardbench2": ("candidates", groups.rewardbench2),
    "steps": ("steps", groups.steps),
    "samples": ("samples", groups.samples),
}
KINDS = ("pairs", "candidates", "steps", "samples")


def kind_of(format: str) -> str:
    """The record kind (``pairs`` | ``candidates`` | ``steps`` | ``samples``) a format produces."""
    return FORMATS[check_format(format)][0]


def check_format(format: str) -> str:
    if format not in FORMATS:
        raise DataError(f"unknown format {format!r}; expected 'auto' or one of {list(FORMATS)}")
    return format


def check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise DataError(f"unknown kind {kind!r}; expected 'auto' or one of {list(KINDS)}")
    return kind


def adapter(format: str) -> Adapter:
    return FORMATS[check_format(format)][1]


def detect_format(row: Row | dict[str, Any], keys: FieldKeys | None = None, kind: str | None = None) -> str:
    """Name the format of ``row`` from its keys (and, for pairs, the value types).

    ``kind`` restricts the candidates (``load_pairs`` on a row that would also read as samples is not
    ambiguous). No match, or more than one, raises `DataError` listing the keys present and what each
    format needs, so the user can rename a column or pass ``format=...``.
    """
    row = row if isinstance(row, Row) else Row(row, "")
    keys = keys or FieldKeys()
    found = _matches(row.data, keys)
    if kind is not None:
        found = {f: why for f, why in found.items() if kind_of(f) == check_kind(kind)}
    if len(found) == 1:
        return next(iter(found))
    wanted = f" {kind}" if kind else ""
    if found:
        listed = "; ".join(f"{f} (keys {why})" for f, why in found.items())
        raise row.error(f"ambiguous{wanted} row: it matches {listed}; pass format= one of {list(found)}")
    raise row.error(f"cannot detect the{wanted} format from keys {present_keys(row.data)}; expected "
                    f"{_expectations(keys, kind)}{_hint(row.data, keys)}")


def _matches(data: dict[str, Any], keys: FieldKeys) -> dict[str, str]:
    """Every format whose signature keys are present, with the keys that matched."""
    found: dict[str, str] = {}
    has_prompt = any(n in data for n in keys.prompt_names())
    if keys.chosen_key in data and keys.rejected_key in data:
        chosen, rejected = data[keys.chosen_key], data[keys.rejected_key]
        both = f"{keys.chosen_key}+{keys.rejected_key}"
        if is_messages(chosen) or is_messages(rejected):
            found["messages"] = f"{both} as message lists"
        elif isinstance(rejected, (list, tuple)):
            found["rewardbench2"] = f"{both} with {keys.rejected_key} a list"
        elif has_prompt:
            found["pairwise"] = f"{keys.prompt_key}+{both}"
        else:
            found["hh-rlhf"] = f"{both} with no {keys.prompt_key}"
    if keys.responses_key in data:
        found["best-of-n"] = keys.responses_key
    labelled = [k for k in keys.step_label_names() if k in data]
    if keys.steps_key in data and labelled:
        found["steps"] = f"{keys.steps_key}+{labelled[0]}"
    response = next((n for n in keys.response_names() if n in data), None)
    if response is not None:
        found["samples"] = response
    elif keys.messages_key in data and not found:
        found["samples"] = keys.messages_key
    elif keys.steps_key in data and not labelled and has_prompt and not found:
        found["samples"] = f"{keys.steps_key} without labels"
    return found


_NEEDS = {
    "pairs": "prompt+chosen+rejected (pairwise), chosen+rejected message lists (messages) or dialogues (hh-rlhf)",
    "candidates": "prompt+responses[]+correct[]|scores[] (best-of-n) or prompt+chosen+rejected[] (rewardbench2)",
    "steps": "prompt|problem+steps[]+labels[]|label|first_error (steps)",
    "samples": "prompt+response|completion, or messages (samples)",
}


def _expectations(keys: FieldKeys, kind: str | None) -> str:
    text = "; ".join(_NEEDS[k] for k in ([kind] if kind else KINDS))
    custom = {f: v for f, v in vars(keys).items() if v != getattr(FieldKeys, f, v)}
    return text + (f" (with custom keys {custom})" if custom else "")


def _hint(data: dict[str, Any], keys: FieldKeys) -> str:
    """Point at the near miss: half a pair, or steps with no labels."""
    if (keys.chosen_key in data) != (keys.rejected_key in data):
        have, lack = (keys.chosen_key, keys.rejected_key) if keys.chosen_key in data else (
            keys.rejected_key, keys.chosen_key)
        return f"; found {have!r} but no {lack!r}"
    if keys.steps_key in data:
        return f"; found {keys.steps_key!r} but no step labels ({list(keys.step_label_names())}) and no prompt"
    return ""
