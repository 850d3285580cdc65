"""Turning samples into token ids, with an explicit policy for inputs longer than the model allows.

Nothing is silently dropped or cut: every truncation or drop is counted in `Encoded` and reported by the
caller. ``truncate-left`` (the default) removes the oldest prompt tokens first, because a reward model
must see the response it is judging.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from rewardlab.types import Sample, prompt_to_text


class TruncationPolicy(str, Enum):
    truncate_left = "truncate-left"
    truncate_right = "truncate-right"
    drop = "drop"
    error = "error"


class InputTooLongError(ValueError):
    """Raised under the ``error`` policy; names the sample and its length."""


@dataclass
class Encoded:
    """Token ids for the samples that will be run; ``dropped`` maps sample index -> reason."""

    input_ids: list[list[int]]
    token_type_ids: list[list[int]] | None
    kept: list[int]
    dropped: dict[int, str] = field(default_factory=dict)
    truncated: int = 0

    @property
    def lengths(self) -> list[int]:
        return [len(ids) for ids in self.input_ids]


def model_max_length(tokenizer: Any, config: Any) -> int:
    """The longest input the model can take: the tokenizer's limit capped by the position table."""
    limit = getattr(tokenizer, "model_max_length", None) or 10**9
    positions = getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions", None)
    if limit > 10**8 and positions is None:
        return 4096
    return int(min(limit, positions or limit))


def has_chat_template(tokenizer: Any) -> bool:
    return bool(getattr(tokenizer, "chat_template", None))


def chat_text(tokenizer: Any, sample: Sample) -> str:
    """The sample rendered with the model's own chat template, ending with the response turn."""
    messages = (
        [{"role": "user", "content": sample.prompt}] if isinstance(sample.prompt, str) else list(sample.prompt)
    )
    messages.append({"role": "assistant", "content": sample.response})
    return tokenizer.apply_chat_template(messages, tokenize=False)


def encode_samples(
    tokenizer: Any,
    samples: Sequence[Sample],
    max_length: int,
    policy: TruncationPolicy | str = TruncationPolicy.truncate_left,
    concat: bool = False,
) -> Encoded:
    """Encode (prompt, response) pairs, applying the chat template when the tokenizer has one.

    Without a template the prompt and response are a text pair (``[CLS] prompt [SEP] response [SEP]`` for
    BERT-like encoders, plain concatenation for GPT-like tokenizers). ``concat=True`` instead encodes the
    single string ``prompt + response`` (how TRL and reward-bench feed hh-rlhf style transcripts, whose
    prompt ends with "Assistant:"), so scores can be compared with those tools token for token.
    """
    policy = TruncationPolicy(policy)
    templated = has_chat_template(tokenizer)
    if templated or concat:
        texts = [chat_text(tokenizer, s) if templated else prompt_to_text(s.prompt) + s.response
                 for s in samples]
        full = tokenizer(texts, add_special_tokens=not templated, verbose=False)
    else:
        prompts = [prompt_to_text(s.prompt) for s in samples]
        responses = [s.response for s in samples]
        full = tokenizer(prompts, responses, verbose=False)
    ids: list[list[int]] = full["input_ids"]
    types: list[list[int]] | None = full.get("token_type_ids")
    long_items = [i for i, row in enumerate(ids) if len(row) > max_length]
    result = Encoded(input_ids=[], token_type_ids=[] if types is not None else None, kept=[])
    if long_items and policy is TruncationPolicy.error:
        i = long_items[0]
        where = samples[i].metadata.get("source") or f"sample {i}"
        raise InputTooLongError(
            f"{where}: {len(ids[i])} tokens > max_length {max_length} ({len(long_items)} such inputs); "
            "choose --truncation truncate-left|truncate-right|drop or raise --max-length"
        )
    fixed: dict[int, tuple[list[int], list[int] | None]] = {}
    if long_items and policy in (TruncationPolicy.truncate_left, TruncationPolicy.truncate_right):
        fixed = _truncate(tokenizer, samples, long_items, max_length, policy, templated, ids, types, concat)
        result.truncated = len(long_items)
    for i in range(len(samples)):
        if i in fixed:
            row_ids, row_types = fixed[i]
        elif len(ids[i]) > max_length:
            result.dropped[i] = f"dropped: {len(ids[i])} tokens > max_length {max_length}"
            continue
        else:
            row_ids, row_types = ids[i], (types[i] if types is not None else None)
        result.input_ids.append(row_ids)
        if result.token_type_ids is not None:
            result.token_type_ids.append(row_types or [0] * len(row_ids))
        result.kept.append(i)
    return result


def _truncate(tokenizer, samples, items, max_length, policy, templated, ids, types, concat):  # noqa: PLR0913
    left = policy is TruncationPolicy.truncate_left
    out: dict[int, tuple[list[int], list[int] | None]] = {}
    if templated:
        for i in items:
            out[i] = (ids[i][-max_length:] if left else ids[i][:max_length]), None
        return out
    side = tokenizer.truncation_side
    if concat:
        tokenizer.truncation_side = "left" if left else "right"
        try:
            texts = [prompt_to_text(samples[i].prompt) + samples[i].response for i in items]
            enc = tokenizer(texts, truncation=True, max_length=max_length)
        finally:
            tokenizer.truncation_side = side
        for j, i in enumerate(items):
            out[i] = enc["input_ids"][j], (enc["token_type_ids"][j] if "token_type_ids" in enc else None)
        return out
    tokenizer.truncation_side = "left" if left else "right"
    try:
        prompts = [prompt_to_text(samples[i].prompt) for i in items]
        responses = [samples[i].response for i in items]
        # Left: cut the prompt's oldest tokens; right: cut the response's tail. Fall back to cutting both
        # when one side alone cannot absorb the excess.
        strategy = "only_first" if left else "only_second"
        try:
            enc = tokenizer(prompts, responses, truncation=strategy, max_length=max_length)
            rows = [(enc["input_ids"][j], enc["token_type_ids"][j] if "token_type_ids" in enc else None)
                    for j in range(len(items))]
        except Exception:  # some item's preferred side is too short to absorb the cut: go item by item
            rows = [_truncate_one(tokenizer, p, r, strategy, max_length) for p, r in zip(prompts, responses)]
        for j, i in enumerate(items):
            row_ids, row_types = rows[j]
            if len(row_ids) > max_length:
                row_ids, row_types = _truncate_one(tokenizer, prompts[j], responses[j], "longest_first",
                                                   max_length)
            out[i] = (row_ids, row_types)
    finally:
        tokenizer.truncation_side = side
    return out


def _truncate_one(tokenizer, prompt: str, response: str, strategy: str, max_length: int):
    try:
        enc = tokenizer([prompt], [response], truncation=strategy, max_length=max_length)
    except Exception:
        enc = tokenizer([prompt], [response], truncation="longest_first", max_length=max_length)
    return enc["input_ids"][0], (enc["token_type_ids"][0] if "token_type_ids" in enc else None)
