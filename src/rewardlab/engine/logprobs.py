"""Per-token log-probabilities of responses under a causal LM, with the prompt encoded once per group.

Implicit rewards (DPO, CDR, implicit PRMs) and DPO training all need ``log pi(y_t | x, y_<t)`` for every
response token. Samples that share a prompt (a chosen/rejected pair, a best-of-N group) are scored by
running the prompt once, keeping its KV cache, and running only the response tokens of each member on
top of it; the naive path (one full forward per sample) stays available and the tests hold the two equal
within 1e-4. No anchor shares the prompt this way (Liger-Kernel #476 is still open).

Tokenisation is fixed here, once, so scoring and training agree: ``[bos] + tok(prompt)`` then
``tok(response) + [eos]``, each side tokenised on its own (TRL's convention), so the prompt/response
boundary never moves with BPE merges.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from rewardlab.engine.batching import token_budget_batches
from rewardlab.engine.encoding import TruncationPolicy, has_chat_template
from rewardlab.engine.forward import BatchSettings, ForwardStats, ProgressFn, pad_batch
from rewardlab.engine.prefix import plan_group_batches
from rewardlab.types import Sample, prompt_to_text


@dataclass(frozen=True)
class TokenizedSample:
    """One sample as the model sees it.

    ``offsets[j]`` is the character span of response token ``j`` inside ``response_text`` (the appended
    eos gets the empty span at the end), which is how steps are mapped to tokens.
    """

    prompt_ids: tuple[int, ...]
    response_ids: tuple[int, ...]
    response_text: str
    offsets: tuple[tuple[int, int], ...]

    @property
    def length(self) -> int:
        return len(self.prompt_ids) + len(self.response_ids)


@dataclass
class Tokenized:
    """Tokenised samples; ``items[i] is None`` exactly when ``dropped`` has a reason for ``i``."""

    items: list[TokenizedSample | None]
    dropped: dict[int, str]
    truncated: int = 0


def prompt_and_response_text(tokenizer: Any, sample: Sample) -> tuple[str, str]:
    """Split the text the model reads into (prompt part, response part).

    With a chat template the prompt is the conversation with the generation prompt appended, and the
    response part is whatever the template adds after it (the answer plus its end-of-turn markup).
    """
    if not has_chat_template(tokenizer):
        return prompt_to_text(sample.prompt), sample.response
    messages = [{"role": "user", "content": sample.prompt}] if isinstance(sample.prompt, str) else list(
        sample.prompt)
    prompt = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    full = tokenizer.apply_chat_template(
        [*messages, {"role": "assistant", "content": sample.response}], tokenize=False)
    if not full.startswith(prompt):
        raise ValueError("the chat template renders the prompt differently once a response is added; "
                         "cannot separate response tokens")
    return prompt, full[len(prompt):]


def tokenize_sample(tokenizer: Any, sample: Sample, add_eos: bool = True) -> TokenizedSample:
    prompt_text, response_text = prompt_and_response_text(tokenizer, sample)
    prompt_ids = list(tokenizer(prompt_text, add_special_tokens=False)["input_ids"])
    bos = tokenizer.bos_token_id
    if bos is not None and (not prompt_ids or prompt_ids[0] != bos):
        prompt_ids.insert(0, bos)
    enc = tokenizer(response_text, add_special_tokens=False, return_offsets_mapping=True)
    response_ids = list(enc["input_ids"])
    offsets = [tuple(o) for o in enc["offset_mapping"]]
    if add_eos and tokenizer.eos_token_id is not None:
        response_ids.append(tokenizer.eos_token_id)
        offsets.append((len(response_text), len(response_text)))
    if not response_ids:
        raise ValueError("the response has no tokens")
    return TokenizedSample(tuple(prompt_ids), tuple(response_ids), response_text, tuple(offsets))


def tokenize_samples(
    tokenizer: Any, samples: Sequence[Sample], max_length: int,
    policy: TruncationPolicy | str = TruncationPolicy.truncate_left, add_eos: bool = True,
) -> Tokenized:
    """Tokenise and fit every sample into ``max_length`` under ``policy``; nothing is dropped silently.

    ``truncate-left`` cuts the oldest prompt tokens (keeping bos): the response is what is scored, so it
    is never cut under this policy, and a response that alone exceeds the limit is dropped with a reason.
    ``truncate-right`` cuts the response's tail instead.
    """
    policy = TruncationPolicy(policy)
    out = Tokenized(items=[], dropped={})
    for i, sample in enumerate(samples):
        try:
            item = tokenize_sample(tokenizer, sample, add_eos)
        except ValueError as exc:
            out.items.append(None)
            out.dropped[i] = f"cannot tokenise: {exc}"
            continue
        if item.length > max_length:
            where = sample.metadata.get("source") or f"sample {i}"
            if policy is TruncationPolicy.error:
                raise ValueError(f"{where}: {item.length} tokens > max_length {max_length}; choose "
                                 "truncation=truncate-left|truncate-right|drop or raise max_length")
            fitted = _fit(item, max_length, policy, tokenizer.bos_token_id)
            if fitted is None:
                out.items.append(None)
                out.dropped[i] = f"dropped: {item.length} tokens > max_length {max_length} ({policy.value})"
                continue
            item = fitted
            out.truncated += 1
        out.items.append(item)
    return out


def _fit(item: TokenizedSample, max_length: int, policy: TruncationPolicy, bos: int | None):
    if policy is TruncationPolicy.truncate_left:
        keep_bos = bos is not None and item.prompt_ids[:1] == (bos,)
        room = max_length - len(item.response_ids) - int(keep_bos)
        if room < 1 - int(keep_bos):
            return None
        tail = item.prompt_ids[len(item.prompt_ids) - room:] if room > 0 else ()
        prompt = ((bos,) if keep_bos else ()) + tuple(tail)
        return TokenizedSample(prompt, item.response_ids, item.response_text, item.offsets)
    if policy is TruncationPolicy.truncate_right:
        room = max_length - len(item.prompt_ids)
        if room < 1:
            return None
        return TokenizedSample(item.prompt_ids, item.response_ids[:room], item.response_text,
                               item.offsets[:room])
    return None


def group_by_prompt(items: Sequence[TokenizedSample]) -> list[list[int]]:
    """Indices of items sharing identical prompt ids, groups in order of first appearance."""
    groups: dict[tuple[int, ...], list[int]] = {}
    for i, item in enumerate(items):
        groups.setdefault(item.prompt_ids, []).append(i)
    return list(groups.values())


def naive_logprobs(model: Any, items: Sequence[TokenizedSample], pad_id: int) -> list[torch.Tensor]:
    """One full forward per sample (right-padded batch): the reference path. Differentiable."""
    device = next(model.parameters()).device
    rows = [list(it.prompt_ids) + list(it.response_ids) for it in items]
    ids, mask = pad_batch(rows, pad_id, device)
    logits = model(input_ids=ids, attention_mask=mask).logits
    out = []
    for j, it in enumerate(items):
        start, end = len(it.prompt_ids), len(rows[j])
        out.append(_gather(logits[j, start - 1:end - 1], ids[j, start:end]))
    return out


def shared_prompt_logprobs(model: Any, items: Sequence[TokenizedSample], pad_id: int) -> list[torch.Tensor]:
    """Same values as `naive_logprobs`, but each distinct prompt is run once. Differentiable.

    Prompts are left-padded (so one logit row, the last, predicts every group's first response token);
    the cache is then gathered to one row per response, and the responses (right-padded) run on top of it
    with explicit position ids continuing each prompt.
    """
    device = next(model.parameters()).device
    groups = group_by_prompt(items)
    prompts = [items[g[0]].prompt_ids for g in groups]
    width = max(len(p) for p in prompts)
    p_ids = torch.full((len(prompts), width), pad_id, dtype=torch.long)
    p_mask = torch.zeros((len(prompts), width), dtype=torch.long)
    for g, prompt in enumerate(prompts):
        p_ids[g, width - len(prompt):] = torch.as_tensor(prompt)
        p_mask[g, width - len(prompt):] = 1
    p_ids, p_mask = p_ids.to(device), p_mask.to(device)
    p_pos = (p_mask.cumsum(-1) - 1).clamp(min=0)
    keep = {"logits_to_keep": 1} if _accepts(model, "logits_to_keep") else {}
    prompt_out = model(input_ids=p_ids, attention_mask=p_mask, position_ids=p_pos, use_cache=True, **keep)
    order = [i for g in groups for i in g]
    owner = torch.as_tensor([g for g, members in enumerate(groups) for _ in members], device=device)
    cache = prompt_out.past_key_values
    cache.reorder_cache(owner)
    r_ids, r_mask = pad_batch([list(items[i].response_ids) for i in order], pad_id, device)
    lengths = torch.as_tensor([len(prompts[g]) for g in owner.tolist()], device=device)
    r_pos = lengths[:, None] + torch.arange(r_ids.shape[1], device=device)[None, :]
    mask = torch.cat([p_mask.index_select(0, owner), r_mask], dim=1)
    logits = model(input_ids=r_ids, attention_mask=mask, position_ids=r_pos, past_key_values=cache).logits
    first = prompt_out.logits[:, -1].index_select(0, owner)
    out: list[torch.Tensor | None] = [None] * len(items)
    for row, i in enumerate(order):
        n = len(items[i].response_ids)
        predicting = torch.cat([first[row:row + 1], logits[row, :n - 1]], dim=0)
        out[i] = _gather(predicting, r_ids[row, :n])
    return out  # type: ignore[return-value]


def _accepts(model: Any, name: str) -> bool:
    """Whether the model's forward takes ``name`` (``logits_to_keep`` spares a (batch, seq, vocab) tensor)."""
    return name in inspect.signature(model.forward).parameters


def _gather(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """log softmax(logits)[t] for each row; (n, vocab), (n,) -> (n,) in fp32."""
    logits = logits.float()
    return logits.gather(-1, targets[:, None]).squeeze(-1) - torch.logsumexp(logits, dim=-1)


def plan_batches(items: Sequence[TokenizedSample], settings: BatchSettings, device: torch.device,
                 share_prompt: bool) -> list[list[int]]:
    """Batches of item indices; with ``share_prompt`` a group of one prompt stays in one batch when it fits.

    The budget counts tokens actually run: each distinct prompt once plus every response, padded.
    """
    batch_tokens, max_batch = settings.resolved(device)
    if not share_prompt:
        return token_budget_batches([it.length for it in items], batch_tokens, max_batch)
    units = [(g[k:k + max_batch], len(items[g[0]].prompt_ids),
              max(len(items[i].response_ids) for i in g[k:k + max_batch]))
             for g in group_by_prompt(items) for k in range(0, len(g), max_batch)]
    return [[i for u in batch for i in units[u][0]] for batch in plan_group_batches(units, batch_tokens, max_batch)]


@torch.inference_mode()
def token_logprobs(
    model: Any, items: Sequence[TokenizedSample], pad_id: int, settings: BatchSettings | None = None,
    share_prompt: bool = True, progress: ProgressFn | None = None, stats: ForwardStats | None = None,
) -> list[np.ndarray]:
    """Per-token response log-probs (float64 arrays, one per item, in input order)."""
    if not items:
        return []
    settings = settings or BatchSettings()
    device = next(model.parameters()).device
    out: list[np.ndarray | None] = [None] * len(items)
    start = time.perf_counter()
    for batch in plan_batches(items, settings, device, share_prompt):
        chosen = [items[i] for i in batch]
        run = shared_prompt_logprobs if share_prompt else naive_logprobs
        for i, values in zip(batch, run(model, chosen, pad_id)):
            out[i] = values.double().cpu().numpy()
        real = sum(it.length for it in chosen)
        if stats is not None:
            stats.sequences += len(batch)
            stats.real_tokens += real
            stats.batches += 1
        if progress is not None:
            progress(len(batch), real)
    if stats is not None:
        stats.seconds += time.perf_counter() - start
    return out  # type: ignore[return-value]
