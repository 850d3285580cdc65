"""GenRM training rows: (prompt, response, label, optional critique), checked and tokenised for SFT.

A row is ``{"prompt": str | messages, "response": str, "label": ..., "critique": str (optional)}``. The
label says whether the response is correct: ``true``/``false``, ``1``/``0``, or one of the words
``correct``/``incorrect``, ``yes``/``no``, ``true``/``false`` (any case). Bad rows (missing or empty
fields, an unreadable label, a critique that is not text) are counted with their ``file:line N`` and
field; ``bad_pairs=error`` (the default) stops with all of them listed before any model loads,
``skip`` drops them and the counts go into the run record. Nothing is dropped silently.

Tokenisation puts the model on exactly what the ``judge:`` reward will show it: the ``genrm`` protocol's
messages, rendered by `rewardlab.generation.hf.encode_prompt` (the chat template, or the plain
transcript for models without one, like the world's tiny policy). The target is the verdict (a spelling
whose first token is one the judge's logprob mode reads), after ``<think>critique</think>`` when the
row has a critique, then end-of-sequence. The loss reads only the target tokens.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rewardlab.data import DataError, read_rows
from rewardlab.data import fields as F
from rewardlab.data.errors import describe
from rewardlab.train.records import BadRows
from rewardlab.types import Prompt

LABEL_WORDS = {"correct": True, "incorrect": False, "yes": True, "no": False, "true": True, "false": False,
               "1": True, "0": False}
VERDICTS = ("Yes", "No")
THINK_OPEN, THINK_CLOSE = "<think>\n", "\n</think>\n"


@dataclass(frozen=True)
class VerdictRow:
    """One training row: is ``response`` a correct answer to ``prompt``; ``critique`` precedes the verdict."""

    prompt: Prompt
    response: str
    correct: bool
    critique: str | None
    source: str


def parse_label(row: Any, key: str) -> bool:
    _, value = F.require(row, key)
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in LABEL_WORDS:
        return LABEL_WORDS[value.strip().lower()]
    raise row.error(f"expected a correctness label (true/false, 1/0, correct/incorrect, yes/no), "
                    f"found {describe(value)}", key)


def convert_row(row: Any, keys: dict[str, str]) -> VerdictRow:
    prompt = F.prompt(row, (keys["prompt"],))
    response = F.text(row, keys["response"])
    correct = parse_label(row, keys["label"])
    critique = row.data.get(keys["critique"])
    if critique is not None:
        critique = F.check_text(row, keys["critique"], critique)
    return VerdictRow(prompt, response, correct, critique, row.source)


def load_verdict_rows(path: str, keys: dict[str, str], policy: str) -> tuple[list[VerdictRow], BadRows]:
    """Every row of ``path`` converted; problems collected (all listed under ``policy="error"``)."""
    rows, bad, out = read_rows(path), BadRows(), []
    for row in rows:
        try:
            out.append(convert_row(row, keys))
        except DataError as exc:
            kind = "unreadable label" if exc.field == keys["label"] else "malformed"
            bad.add(kind, exc.location + (f" field '{exc.field}'" if exc.field else "") + f": {exc.reason}")
    if bad.total and policy == "error":
        raise DataError(f"{bad.total} unusable row(s): {bad.summary()}. Fix them, or pass --bad-pairs skip to "
                        "drop them (the counts are reported)", path=path)
    if not out:
        raise DataError(f"no usable rows ({bad.summary() or 'the input is empty'})", path=path)
    return out, bad


def check_critiques(rows: list[VerdictRow], variant: str, path: str) -> str:
    """The variant in force: ``auto`` is ``critique`` when every row has one and ``direct`` when none does;
    a mix (or critiques missing under ``critique``) is an error naming a row."""
    have = [r.critique is not None for r in rows]
    if variant == "auto":
        if all(have):
            return "critique"
        if not any(have):
            return "direct"
        odd = rows[have.index(False)]
        raise DataError(f"some rows have a critique and some do not (first without: {odd.source}); give every "
                        "row one, or none, or pass --variant direct to ignore them", path=path)
    if variant == "critique" and not all(have):
        raise DataError(f"--variant critique: {rows[have.index(False)].source} has no critique", path=path)
    return variant


@dataclass
class EncodedVerdicts:
    """Prompt + target token rows, where the target starts, where the verdict sits, and the label."""

    ids: list[list[int]] = field(default_factory=list)
    target_start: list[int] = field(default_factory=list)
    verdict_at: list[int] = field(default_factory=list)
    correct: list[bool] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)


def verdict_spellings(tokenizer: Any) -> dict[bool, list[int]]:
    """Token ids of the verdict each label is trained on: ``Yes`` or `` Yes`` (whichever starts with a
    token the judge's logprob mode counts), likewise ``No``."""
    from rewardlab.generation.hf import verdict_token_ids

    counted = verdict_token_ids(tokenizer, VERDICTS)
    out = {}
    for label, word in zip((True, False), VERDICTS):
        spellings = [tokenizer(s, add_special_tokens=False)["input_ids"] for s in (word, " " + word)]
        found = next((ids for ids in spellings if ids and ids[0] in counted[word]), None)
        if found is None:
            raise ValueError(f"neither {word!r} nor {' ' + word!r} starts with a token the judge reads for "
                             f"{word!r} (ids {counted[word]}): this tokenizer cannot carry a one-token verdict")
        out[label] = found
    return out


def encode_rows(rows: list[VerdictRow], tokenizer: Any, protocol: Any, max_length: int,
                truncation: str) -> EncodedVerdicts:
    """Token rows for SFT; rows over ``max_length`` raise (``error``) or are dropped and counted (``drop``)."""
    from rewardlab.generation.hf import encode_prompt
    from rewardlab.rewards.judge.protocols import question_text

    if tokenizer.eos_token_id is None:
        raise ValueError("the model's tokenizer has no end-of-sequence token; a verdict needs one to end on")
    spellings = verdict_spellings(tokenizer)
    out = EncodedVerdicts()
    for row in rows:
        prompt_ids = encode_prompt(tokenizer, protocol.render(question_text(row.prompt), [row.response]),
                                   protocol.answer_prefix())
        pre = [] if row.critique is None or protocol.variant != "critique" else tokenizer(
            THINK_OPEN + row.critique.strip() + THINK_CLOSE, add_special_tokens=False)["input_ids"]
        ids = prompt_ids + pre + spellings[row.correct] + [tokenizer.eos_token_id]
        if len(ids) > max_length:
            if truncation == "error":
                raise ValueError(f"{row.source}: {len(ids)} tokens > max_length {max_length}; use --truncation "
                                 "drop or raise --max-length")
            out.dropped.append(row.source)
            continue
        out.ids.append(ids)
        out.target_start.append(len(prompt_ids))
        out.verdict_at.append(len(prompt_ids) + len(pre))
        out.correct.append(row.correct)
        out.sources.append(row.source)
    return out
