"""The ``hf`` backend: any local transformers causal LM, batched, with its own chat template.

Spec: ``hf:PATH_OR_HUB_ID[,device=cpu][,dtype=float32][,max_batch_size=N][,batch_tokens=N][,max_length=N]``;
``hf:world`` (also ``world-small``, ``world-tiny``) is the embedded world's tiny policy, trained and cached
on first use. Messages are rendered with the tokenizer's chat template (plain transcript text when it has
none); strings are continued as they are, with the tokenizer's usual special tokens (so the world policy
sees exactly what it was trained on).

Rows (one per prompt and sample index; one per prompt when greedy) are sorted by length and cut into
token-budget batches; a row's tokens depend only on its prompt, seed and index (`sampling.SeededSampler`),
never on its batch. Rows whose prompt leaves fewer than ``max_new_tokens`` positions are batched only with
rows of the same remaining budget, for the same reason.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

import torch

from rewardlab.engine.batching import token_budget_batches
from rewardlab.engine.forward import BatchSettings, pad_batch
from rewardlab.generation.base import (
    Completion,
    GenerationStats,
    GenPrompt,
    SamplingParams,
    VerdictProbs,
    plain_chat_text,
    repeat_greedy,
    sample_seed,
    truncate_at_stop,
)

WORLD_ALIASES = {"world": "full", "world-small": "small", "world-tiny": "tiny"}
GEN_DEFAULTS = {"cpu": (32768, 32), "cuda": (262144, 256)}


class HFGenerator:
    """Sampling and verdict probabilities from one causal LM; the weights load on first use."""

    def __init__(self, path: str, device: str | None = None, dtype: str | None = None,
                 max_batch_size: int | None = None, batch_tokens: int | None = None, max_length: int | None = None):
        self.path = path
        self.name = f"hf:{path}"
        self.device_name, self.dtype_name = device, dtype
        self.max_batch_size, self.batch_tokens, self.max_length_option = max_batch_size, batch_tokens, max_length
        self.stats = GenerationStats()
        self._loaded: Any = None
        self._lock = threading.Lock()
        self._variant_cache: dict[tuple[str, ...], dict[str, list[int]]] = {}

    @classmethod
    def from_spec(cls, argument: str, **overrides: Any) -> HFGenerator:
        """``overrides``: constructor arguments from Python; API-key settings mean nothing locally and are
        ignored, so one call can build any backend."""
        from rewardlab.rewards.base import parse_options

        overrides = {k: v for k, v in overrides.items() if k not in {"api_key", "allow_key_envs"}}
        path, options = parse_options(argument)
        if not path:
            raise ValueError("hf backend needs a model: hf:PATH_OR_HUB_ID (or hf:world)")
        ints = {k: int(options.pop(k)) for k in ("max_batch_size", "batch_tokens", "max_length") if k in options}
        device, dtype = options.pop("device", None), options.pop("dtype", None)
        if options:
            raise ValueError(f"unknown hf backend option(s) {sorted(options)}; known: device, dtype, "
                             "max_batch_size, batch_tokens, max_length")
        return cls(path, device=device, dtype=dtype, **ints, **overrides)

    # -- model -------------------------------------------------------------------------------------------
    @property
    def loaded(self) -> Any:
        if self._loaded is None:
            from transformers import GenerationConfig

            from rewardlab.engine.causal import load_causal_lm

            path = self.path
            if path in WORLD_ALIASES:
                from rewardlab.synth.policy import default_policy

                path = str(default_policy(size=WORLD_ALIASES[path], progress=False))
            loaded = load_causal_lm(path, self.device_name, self.dtype_name)
            # Our own neutral config: a checkpoint's defaults (repetition penalty, suppressed tokens) would
            # otherwise be merged into every call and change what "temperature 0" means.
            eos = self._eos_ids(loaded)
            tok = loaded.tokenizer
            loaded.model.generation_config = GenerationConfig(
                eos_token_id=eos, pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id)
            self._loaded = loaded
        return self._loaded

    @property
    def tokenizer(self) -> Any:
        return self.loaded.tokenizer

    @staticmethod
    def _eos_ids(loaded: Any) -> list[int]:
        ids = {loaded.tokenizer.eos_token_id}
        configured = getattr(loaded.model.generation_config, "eos_token_id", None)
        ids.update(configured if isinstance(configured, list) else [configured])
        return sorted(i for i in ids if i is not None)

    def max_length(self) -> int:
        if self.max_length_option:
            return self.max_length_option
        from rewardlab.engine.encoding import model_max_length

        return model_max_length(self.tokenizer, self.loaded.model.config)

    def provenance(self) -> dict[str, Any]:
        loaded = self.loaded
        return {"backend": "hf", "path": loaded.path, "weights_sha256": loaded.weights_sha256,
                "dtype": str(loaded.dtype).replace("torch.", ""), "device": str(loaded.device),
                "chat_template": bool(getattr(loaded.tokenizer, "chat_template", None))}

    # -- prompts -----------------------------------------------------------------------------------------
    def render(self, prompt: GenPrompt) -> str:
        """The exact text the model reads before its answer (chat template + generation prompt)."""
        return render_prompt(self.tokenizer, prompt)

    def encode(self, prompt: GenPrompt, prefix: str = "", rendered: str | None = None) -> list[int]:
        """Token ids: a string gets the tokenizer's special tokens, a rendered chat its template's own."""
        return encode_prompt(self.tokenizer, prompt, prefix, rendered)

    # -- sampling ----------------------------------------------------------------------------------------
    def generate(self, prompts: Sequence[GenPrompt], params: SamplingParams) -> list[list[Completion]]:
        with self._lock:
            return self._generate(prompts, params)

    async def agenerate(self, prompts: Sequence[GenPrompt], params: SamplingParams) -> list[list[Completion]]:
        return await asyncio.to_thread(self.generate, prompts, params)

    def _generate(self, prompts: Sequence[GenPrompt], params: SamplingParams) -> list[list[Completion]]:
        start = time.perf_counter()
        limit = self.max_length()
        rendered = [self.render(p) for p in prompts]
        encoded = [self.encode(p, rendered=r) for p, r in zip(prompts, rendered)]
        per_prompt = 1 if params.greedy else params.n
        rows: list[tuple[int, int]] = []  # (prompt index, sample index)
        results: list[list[Completion | None]] = [[None] * per_prompt for _ in prompts]
        for i, ids in enumerate(encoded):
            if len(ids) >= limit:
                for j in range(per_prompt):
                    results[i][j] = Completion.failure(f"prompt has {len(ids)} tokens; the model takes {limit}")
                self.stats.count_failure("prompt too long")
                continue
            rows.extend((i, j) for j in range(per_prompt))
        budgets = {r: min(params.max_new_tokens, limit - len(encoded[r[0]])) for r in rows}
        for group in _by_budget(rows, budgets):
            for batch in self._batches(group, encoded, budgets[group[0]]):
                seeds = [sample_seed(params.seed, rendered[i], j) for i, j in batch]
                done = self._run_batch([encoded[i] for i, _ in batch], seeds, params, budgets[group[0]])
                for (i, j), completion in zip(batch, done):
                    results[i][j] = completion
        out = []
        for i, row in enumerate(results):
            done_row = [c for c in row if c is not None]
            out.append(repeat_greedy(done_row, params))
            self.stats.prompt_tokens += len(encoded[i])
        self.stats.requests += 1
        self.stats.completions += sum(len(r) for r in out)
        self.stats.seconds += time.perf_counter() - start
        return out

    def _batches(self, rows: list[tuple[int, int]], encoded: list[list[int]], budget: int) -> list[list[tuple]]:
        kind = self.loaded.device.type
        tokens, size = GEN_DEFAULTS.get(kind, GEN_DEFAULTS["cuda"])
        lengths = [len(encoded[i]) + budget for i, _ in rows]
        cut = token_budget_batches(lengths, self.batch_tokens or tokens, self.max_batch_size or size)
        return [[rows[k] for k in b] for b in cut]

    @torch.inference_mode()
    def _run_batch(self, ids: list[list[int]], seeds: list[int], params: SamplingParams,
                   max_new: int) -> list[Completion]:
        from transformers import LogitsProcessorList, StoppingCriteriaList

        from rewardlab.generation.sampling import SeededSampler, StopOnStrings

        loaded, tok = self.loaded, self.tokenizer
        width = max(len(r) for r in ids)
        input_ids = torch.full((len(ids), width), tok.pad_token_id, dtype=torch.long)
        mask = torch.zeros((len(ids), width), dtype=torch.long)
        for k, row in enumerate(ids):  # left padding: every row's next token sits in the last column
            input_ids[k, width - len(row):] = torch.tensor(row)
            mask[k, width - len(row):] = 1
        sampler = SeededSampler(seeds, params.temperature, params.top_p, params.top_logprobs, params.logprobs)
        stop = StopOnStrings(tok, params.stop, width) if params.stop else None
        out = loaded.model.generate(
            input_ids=input_ids.to(loaded.device), attention_mask=mask.to(loaded.device), do_sample=False,
            max_new_tokens=max_new, logits_processor=LogitsProcessorList([sampler]),
            stopping_criteria=StoppingCriteriaList([stop]) if stop else None)
        self.stats.forwards += sampler.step
        generated = out[:, width:].tolist()
        return [self._completion(k, generated[k], len(ids[k]), sampler, stop, params, max_new)
                for k in range(len(ids))]

    def _completion(self, k: int, ids: list[int], prompt_len: int, sampler: Any, stop: Any,
                    params: SamplingParams, max_new: int) -> Completion:
        eos = set(self.loaded.model.generation_config.eos_token_id or [])
        count = next((t + 1 for t, x in enumerate(ids) if x in eos), len(ids))
        ended = count <= len(ids) and bool(ids) and ids[count - 1] in eos
        if stop is not None and k in stop.stopped_at and stop.stopped_at[k] < count:
            count, ended = stop.stopped_at[k], True
        text = self.tokenizer.decode(ids[:count], skip_special_tokens=True)
        text, hit = truncate_at_stop(text, params.stop)
        finish = "stop" if ended or hit else "length"
        self.stats.completion_tokens += count
        logprobs = top = texts = None
        if sampler.record:
            logprobs = [float(sampler.chosen_logprobs[t][k]) for t in range(count)]
            texts = [self.tokenizer.decode([x]) for x in ids[:count]]
        if sampler.top_k:
            top = [self._top_dict(*(x[k] for x in sampler.top[t])) for t in range(count)]
        return Completion(text=text, tokens=count, finish_reason=finish, prompt_tokens=prompt_len,
                          logprobs=logprobs, top_logprobs=top, token_texts=texts,
                          token_ids=list(ids[:count]) if sampler.record else None)

    def _top_dict(self, values: torch.Tensor, ids: torch.Tensor) -> dict[str, float]:
        out: dict[str, float] = {}
        for value, token in zip(values.tolist(), ids.tolist()):
            out.setdefault(self.tokenizer.decode([token]), float(value))
        return out

    # -- verdicts ----------------------------------------------------------------------------------------
    def verdict_probs(self, prompts: Sequence[GenPrompt], verdicts: Sequence[str],
                      prefix: str = "") -> list[VerdictProbs]:
        """P(verdict) for the token after ``render(prompt) + prefix``: one forward per prompt, batched.

        A verdict's probability sums its single-token spellings (``A`` and `` A``); a verdict with no
        single-token spelling is an error, since one forward could not read it.
        """
        with self._lock:
            return self._verdict_probs(prompts, tuple(verdicts), prefix)

    async def averdict_probs(self, prompts: Sequence[GenPrompt], verdicts: Sequence[str],
                             prefix: str = "") -> list[VerdictProbs]:
        return await asyncio.to_thread(self.verdict_probs, prompts, verdicts, prefix)

    @torch.inference_mode()
    def _verdict_probs(self, prompts: Sequence[GenPrompt], verdicts: tuple[str, ...],
                       prefix: str) -> list[VerdictProbs]:
        start = time.perf_counter()
        variants = self.verdict_token_ids(verdicts)
        loaded, limit = self.loaded, self.max_length()
        encoded = [self.encode(p, prefix) for p in prompts]
        out: list[VerdictProbs] = [VerdictProbs.failure(verdicts, "not scored") for _ in prompts]
        keep = [i for i, ids in enumerate(encoded) if len(ids) <= limit]
        for i in set(range(len(prompts))) - set(keep):
            out[i] = VerdictProbs.failure(verdicts, f"prompt has {len(encoded[i])} tokens; the model takes {limit}")
            self.stats.count_failure("prompt too long")
        tokens, size = BatchSettings().resolved(loaded.device)
        for batch in token_budget_batches([len(encoded[i]) for i in keep], tokens, size):
            idx = [keep[b] for b in batch]
            ids, mask = pad_batch([encoded[i] for i in idx], self.tokenizer.pad_token_id, loaded.device)
            logits = loaded.model(input_ids=ids, attention_mask=mask).logits
            last = mask.sum(1) - 1
            probs = torch.softmax(logits[torch.arange(len(idx)), last].double(), dim=-1).cpu()
            for row, i in enumerate(idx):
                out[i] = VerdictProbs({v: float(probs[row, variants[v]].sum()) for v in verdicts})
            self.stats.forwards += 1
            self.stats.prompt_tokens += int(mask.sum())
        self.stats.requests += 1
        self.stats.seconds += time.perf_counter() - start
        return out

    def verdict_token_ids(self, verdicts: Sequence[str]) -> dict[str, list[int]]:
        """The token ids whose probability counts for each verdict (`verdict_token_ids`), cached."""
        key = tuple(verdicts)
        if key not in self._variant_cache:
            self._variant_cache[key] = verdict_token_ids(self.tokenizer, verdicts, self.path)
        return self._variant_cache[key]


def render_prompt(tokenizer: Any, prompt: GenPrompt) -> str:
    """The text a causal LM reads before its answer: a string as it is; messages through the tokenizer's
    chat template with the generation prompt (plain transcript text when it has none). Training code that
    must put a model on exactly the judge's input (``rewardlab train genrm``) calls this too."""
    if isinstance(prompt, str):
        return prompt
    messages = [dict(m) for m in prompt]
    if not getattr(tokenizer, "chat_template", None):
        return plain_chat_text(messages)
    try:
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    except Exception:  # noqa: BLE001 -- templates that refuse a system turn (Gemma 2, Mistral v1)
        if not messages or messages[0]["role"] != "system" or len(messages) < 2:
            raise
        merged = [{"role": messages[1]["role"], "content": f"{messages[0]['content']}\n\n{messages[1]['content']}"},
                  *messages[2:]]
        return tokenizer.apply_chat_template(merged, tokenize=False, add_generation_prompt=True)


def encode_prompt(tokenizer: Any, prompt: GenPrompt, prefix: str = "", rendered: str | None = None) -> list[int]:
    """Token ids of ``render_prompt(prompt) + prefix``: a string gets the tokenizer's special tokens, a
    rendered chat its template's own."""
    text = (render_prompt(tokenizer, prompt) if rendered is None else rendered) + prefix
    return list(tokenizer(text, add_special_tokens=isinstance(prompt, str))["input_ids"])


def verdict_token_ids(tokenizer: Any, verdicts: Sequence[str], name: str = "the model") -> dict[str, list[int]]:
    """The token ids whose probability counts for each verdict: its single-token spellings (with and
    without a leading space); a verdict with none (``YES`` in a tiny vocabulary) counts the first token
    of each spelling. An id shared by two verdicts counts for neither; a verdict left with no id (``1``
    and ``10`` both start with ``1``) cannot be read in one forward, which is an error."""
    found: dict[str, list[int]] = {}
    for v in verdicts:
        spellings = [tokenizer(t, add_special_tokens=False)["input_ids"]
                     for t in dict.fromkeys((v, v.strip(), " " + v.strip()))]
        single = {enc[0] for enc in spellings if len(enc) == 1}
        found[v] = sorted(single or {enc[0] for enc in spellings if enc})
    counts = Counter(i for v in verdicts for i in found[v])
    found = {v: [i for i in ids if counts[i] == 1] for v, ids in found.items()}  # drop shared ids
    if not all(found.values()):
        raise ValueError(f"verdicts {list(verdicts)} are not told apart by one next token for {name} "
                         f"(token ids {found}); use mode=generate")
    return found


def _by_budget(rows: list[tuple[int, int]], budgets: dict[tuple[int, int], int]) -> list[list[tuple[int, int]]]:
    """Rows grouped by their new-token budget, so a row is never cut short by a longer row in its batch."""
    groups: dict[int, list[tuple[int, int]]] = {}
    for row in rows:
        groups.setdefault(budgets[row], []).append(row)
    return [groups[b] for b in sorted(groups, reverse=True)]


def from_spec(argument: str, **overrides: Any) -> HFGenerator:
    return HFGenerator.from_spec(argument, **overrides)
