"""Process reward models (PRMs): every step of a solution scored in ONE forward pass.

The solution is laid out as ``[bos] prompt <prompt_sep> step_1 <tag> <step_sep> step_2 <tag> ...`` and
the model's output is read at the last token of every tag. Three kinds of PRM (RESEARCH 1.5):

- ``token``: a token-classification head (TRL ``PRMTrainer`` layout, and ``rewardlab train prm``).
  Two labels: p_t = softmax(logits)[1]; one label: p_t = sigmoid(logit).
- ``plusminus``: a causal LM read at the tag as next-token P("+") vs P("-") (Math-Shepherd; with
  ``template=chat`` the RLHFlow layout, where steps are user turns and the assistant answers ``+``).
- ``scalar``: a causal sequence-classifier's scalar head (``score``) read at every tag, i.e. the
  outcome-RM value of each prefix (a "stepwise ORM"); values are raw, not probabilities.

Why one pass is exact: every text piece (prompt, step, tag) is tokenized on its own and the ids are
concatenated, so the ids of a prefix ending at tag t are literally the first tokens of the full row. A
causal model's output at position i depends only on tokens <= i, hence single-pass step scores equal the
per-prefix scores ProcessBench's example computes with one request per step (tested within 1e-4).
Bidirectional encoders (BERT/MiniLM) see later steps, so for them the two differ: single-pass is what
such a PRM is trained on (TRL), but it is not the per-prefix score.

Spec: ``process:PATH[,kind=token|plusminus|scalar][,agg=min|last|product|mean][,step_tag=..]
[,prompt_sep=..][,step_sep=..][,template=plain|chat][,plus=+][,minus=-][,split=..][,max_length=N]
[,truncation=truncate-left|drop|error][,batch_tokens=N][,max_batch_size=N][,device=..][,dtype=..]
[,share_prompt=auto|true|false][,packing=false|true]``. ``share_prompt`` runs the prompt shared by several
solutions once, each continuing from it in a packed row with a tree mask (`rewardlab.engine.packing`;
``auto``: where the backbone is causal); ``packing=true`` packs the other solutions padding-free too.
In text options ``\\n``, ``\\t`` and ``\\s`` (space) are unescaped. Which kind a model is comes from
``kind=``, else from ``config.rewardlab_prm`` (written by ``rewardlab train prm``), else from the
architecture name.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import asdict, dataclass, field, replace
from enum import Enum
from typing import Any

import numpy as np
import torch

from rewardlab.engine.batching import token_budget_batches
from rewardlab.engine.encoding import InputTooLongError, model_max_length
from rewardlab.engine.forward import BatchSettings, ForwardStats, pad_batch
from rewardlab.engine.loading import (
    HEAD_INIT_SEED,
    load_tokenizer,
    pick_device,
    pick_dtype,
    quiet_transformers,
    resolve_model_path,
    weights_hash,
)
from rewardlab.engine.packing import gather, pack_plan, packed_hidden, plan_parts
from rewardlab.engine.prefix import prompt_key, resolve_share, share_mode, unsupported_reason
from rewardlab.rewards.base import option_flag, parse_options
from rewardlab.types import Sample, Score, prompt_to_text

AGGREGATIONS = ("min", "last", "product", "mean")
CONFIG_KEY = "rewardlab_prm"
"""Attribute of the model config where ``rewardlab train prm`` records kind and layout."""


class PrmKind(str, Enum):
    token = "token"
    plusminus = "plusminus"
    scalar = "scalar"


def aggregate(step_scores: Sequence[float], how: str) -> float:
    """One response score from step scores: min, last, product or mean (RESEARCH 1.5).

    Min is the *Stop Summation* choice (one bad step sinks the solution); product shrinks with length;
    last approximates an outcome RM.
    """
    if not step_scores:
        raise ValueError("no step scores to aggregate")
    values = np.asarray(step_scores, dtype=np.float64)
    if how == "min":
        return float(values.min())
    if how == "last":
        return float(values[-1])
    if how == "product":
        return float(np.prod(values))
    if how == "mean":
        return float(values.mean())
    raise ValueError(f"unknown aggregation {how!r}; choose one of {', '.join(AGGREGATIONS)}")


def unescape(text: str) -> str:
    """``\\n`` / ``\\t`` / ``\\s`` in spec options become newline / tab / space (specs strip spaces)."""
    out, i = [], 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text) and text[i + 1] in "nts\\":
            out.append({"n": "\n", "t": "\t", "s": " ", "\\": "\\"}[text[i + 1]])
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


@dataclass(frozen=True)
class StepLayout:
    """How a prompt and its steps become one token row, and where the step scores are read.

    ``step_tag=None`` means: ``"\\n"`` if the tokenizer keeps it as a token, else its sep token (wordpiece
    tokenizers drop whitespace). ``template="chat"`` renders steps as user turns answered by ``plus``.
    """

    step_tag: str | None = None
    prompt_sep: str = "\n"
    step_sep: str = ""
    template: str = "plain"
    plus: str = "+"
    minus: str = "-"

    KEYS = ("step_tag", "prompt_sep", "step_sep", "template", "plus", "minus")

    def resolved(self, tokenizer: Any) -> StepLayout:
        if self.step_tag is not None or self.template == "chat":
            return self
        if tokenizer("\n", add_special_tokens=False)["input_ids"]:
            return replace(self, step_tag="\n")
        if getattr(tokenizer, "sep_token", None):
            return replace(self, step_tag=tokenizer.sep_token)
        raise ValueError("the tokenizer drops '\\n' and has no sep token: give step_tag=...")

    def encode(self, tokenizer: Any, prompt: Any, steps: Sequence[str]) -> tuple[list[int], list[int]]:
        """Token ids (seq,) and the read position of each step (steps,). Pieces are tokenized separately."""
        if self.template == "chat":
            pieces, ends = self._chat_pieces(tokenizer, prompt, steps)
            prefix: list[int] = []
        else:
            pieces, ends = self._plain_pieces(prompt, steps)
            special = getattr(tokenizer, "bos_token_id", None)
            if special is None:
                special = getattr(tokenizer, "cls_token_id", None)
            prefix = [] if special is None else [special]
        encoded = tokenizer(pieces, add_special_tokens=False)["input_ids"]
        ids, reads = list(prefix), []
        for piece, piece_ids, is_end in zip(pieces, encoded, ends):
            ids.extend(piece_ids)
            if is_end:
                if not piece_ids:
                    raise ValueError(f"step tag {piece!r} tokenizes to no tokens; choose another step_tag")
                reads.append(len(ids) - 1)
        return ids, reads

    def _plain_pieces(self, prompt: Any, steps: Sequence[str]) -> tuple[list[str], list[bool]]:
        pieces, ends = [prompt_to_text(prompt) + self.prompt_sep], [False]
        for t, step in enumerate(steps):
            pieces += [(self.step_sep if t else "") + step, self.step_tag or "\n"]
            ends += [False, True]
        return pieces, ends

    def _chat_pieces(self, tokenizer: Any, prompt: Any, steps: Sequence[str]) -> tuple[list[str], list[bool]]:
        if not getattr(tokenizer, "chat_template", None):
            raise ValueError("template=chat needs a tokenizer with a chat template")
        base = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else [dict(m) for m in prompt]
        if base[-1]["role"] != "user":
            raise ValueError("template=chat: the prompt must end with a user turn")
        conversation, bounds = base[:-1], []
        for t, step in enumerate(steps):
            content = base[-1]["content"] + self.prompt_sep + step if t == 0 else step
            conversation.append({"role": "user", "content": content})
            text = tokenizer.apply_chat_template(conversation, tokenize=False, add_generation_prompt=True)
            bounds.append(text)
            conversation.append({"role": "assistant", "content": self.plus})
        full = bounds[-1]
        previous = 0
        pieces: list[str] = []
        for t, text in enumerate(bounds):
            if not full.startswith(text):
                raise ValueError(f"template=chat: the rendering up to step {t} is not a prefix of the whole "
                                 "conversation; this chat template cannot be scored in one pass")
            pieces.append(full[previous:len(text)])
            previous = len(text)
        return pieces, [True] * len(pieces)


@dataclass
class ProcessOptions:
    """Scoring options; ``layout`` holds only the layout keys given explicitly (they beat the config's)."""

    kind: PrmKind | None = None
    agg: str = "min"
    layout: dict[str, str] = field(default_factory=dict)
    split: str = "\n\n"
    max_length: int | None = None
    truncation: str = "truncate-left"
    batch: BatchSettings = field(default_factory=BatchSettings)
    device: str | None = None
    dtype: str | None = None
    share_prompt: str = "auto"
    packing: bool = False

    @classmethod
    def from_dict(cls, options: dict[str, str]) -> ProcessOptions:
        known = {"kind", "agg", "split", "max_length", "truncation", "batch_tokens", "max_batch_size",
                 "device", "dtype", "share_prompt", "packing", *StepLayout.KEYS}
        unknown = set(options) - known
        if unknown:
            raise ValueError(f"unknown process option(s) {sorted(unknown)}; known: {sorted(known)}")
        if options.get("kind", "token") not in {k.value for k in PrmKind}:
            raise ValueError(f"kind={options['kind']!r}; choose one of {', '.join(k.value for k in PrmKind)}")
        made = cls(kind=PrmKind(options["kind"]) if "kind" in options else None,
                   agg=options.get("agg", "min"),
                   layout={k: unescape(options[k]) for k in StepLayout.KEYS if k in options},
                   split=unescape(options.get("split", "\\n\\n")),
                   max_length=int(options["max_length"]) if "max_length" in options else None,
                   truncation=options.get("truncation", "truncate-left"),
                   batch=BatchSettings(int(options["batch_tokens"]) if "batch_tokens" in options else None,
                                       int(options["max_batch_size"]) if "max_batch_size" in options else None),
                   device=options.get("device"), dtype=options.get("dtype"),
                   share_prompt=share_mode(options.get("share_prompt", "auto"), "process"),
                   packing=option_flag("process", "packing", options.get("packing", "false")))
        made.check()
        return made

    def check(self) -> None:
        if self.agg not in AGGREGATIONS:
            raise ValueError(f"unknown aggregation agg={self.agg!r}; choose one of {', '.join(AGGREGATIONS)}")
        if self.truncation not in ("truncate-left", "drop", "error"):
            raise ValueError(f"truncation={self.truncation!r} is not available for PRMs: use truncate-left, "
                             "drop or error (cutting the right end would lose steps)")
        if self.layout.get("template", "plain") not in ("plain", "chat"):
            raise ValueError(f"template={self.layout['template']!r}; choose plain or chat")


def detect_kind(config: Any) -> PrmKind:
    """The PRM kind from a model config: our own record first, then the architecture name."""
    recorded = getattr(config, CONFIG_KEY, None) or {}
    if recorded.get("kind"):
        return PrmKind(recorded["kind"])
    names = " ".join(config.architectures or [])
    if "ForTokenClassification" in names:
        return PrmKind.token
    if "ForCausalLM" in names or "LMHeadModel" in names:
        return PrmKind.plusminus
    if "ForSequenceClassification" in names:
        return PrmKind.scalar
    return PrmKind.token  # a bare backbone (e.g. the embedded MiniLM) gets a fresh token head


def load_prm(name: str, kind: PrmKind | None = None, device: str | None = None, dtype: str | None = None):
    """Load a PRM checkpoint as the model class its kind needs; returns (model, tokenizer, kind, path)."""
    from transformers import (
        AutoConfig,
        AutoModelForCausalLM,
        AutoModelForSequenceClassification,
        AutoModelForTokenClassification,
    )
    from transformers.utils import logging as hf_logging

    path = resolve_model_path(name)
    config = AutoConfig.from_pretrained(path)
    kind = kind or detect_kind(config)
    dev = pick_device(device)
    cls = {PrmKind.token: AutoModelForTokenClassification, PrmKind.plusminus: AutoModelForCausalLM,
           PrmKind.scalar: AutoModelForSequenceClassification}[kind]
    extra = {"num_labels": 2} if kind is PrmKind.token and "ForTokenClassification" not in " ".join(
        config.architectures or []) else {}
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(HEAD_INIT_SEED)
            model = cls.from_pretrained(path, dtype=pick_dtype(dev, dtype), **extra)
    finally:
        hf_logging.set_verbosity(verbosity)
    return model.to(dev).eval(), load_tokenizer(path), kind, path


class StepHead:
    """Maps backbone hidden states at read positions (n, hidden) to step scores (n,)."""

    def __init__(self, model: Any, kind: PrmKind, tokenizer: Any, plus: str, minus: str):
        self.kind = kind
        self.backbone = getattr(model, model.base_model_prefix)
        if kind is PrmKind.plusminus:
            head = model.get_output_embeddings()
            ids = [_single_token(tokenizer, plus, "plus"), _single_token(tokenizer, minus, "minus")]
            self.weight = head.weight[ids]
            self.bias = head.bias[ids] if getattr(head, "bias", None) is not None else None
            self.softcap = getattr(model.config, "final_logit_softcapping", None)
        else:
            self.module = getattr(model, "score", None) if kind is PrmKind.scalar else (
                getattr(model, "classifier", None) or getattr(model, "score", None))
            if self.module is None or (kind is PrmKind.scalar and not hasattr(model, "score")):
                raise ValueError(
                    f"{type(model).__name__} has no per-token head for kind={kind.value}: encoder sequence "
                    "classifiers pool the [CLS] token, so there is no value at each separator")
            self.num_labels = int(model.config.num_labels)
            if kind is PrmKind.token and self.num_labels not in (1, 2):
                raise ValueError(f"token PRMs need 1 or 2 labels, this model has {self.num_labels}")

    def __call__(self, hidden: torch.Tensor) -> torch.Tensor:
        if self.kind is PrmKind.plusminus:
            logits = hidden @ self.weight.T + (0 if self.bias is None else self.bias)
            if self.softcap:
                logits = torch.tanh(logits / self.softcap) * self.softcap
            return torch.softmax(logits.float(), dim=-1)[:, 0]
        logits = self.module(hidden).float()
        if self.kind is PrmKind.scalar:
            return logits[:, 0]
        return torch.softmax(logits, dim=-1)[:, 1] if self.num_labels == 2 else torch.sigmoid(logits[:, 0])


def _single_token(tokenizer: Any, text: str, what: str) -> int:
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    if len(ids) != 1:
        raise ValueError(f"{what} token {text!r} is {len(ids)} tokens for this tokenizer; it must be one")
    return ids[0]


@torch.inference_mode()
def read_scores(head: StepHead, rows: Sequence[Sequence[int]], reads: Sequence[Sequence[int]], pad_id: int,
                settings: BatchSettings, stats: ForwardStats | None = None,
                keys: Sequence[Hashable] | None = None, packing: bool = False) -> list[list[float]]:
    """Run the backbone over ``rows`` in token-budget batches and read the head at ``reads`` per row.

    Causal backbones only: with ``keys`` (each row's prompt) rows of one prompt share their common prefix,
    in packed rows with a tree mask (`rewardlab.engine.packing`); with ``packing`` every other row is packed
    too, else it runs in the usual padded batches.
    """
    device = next(head.backbone.parameters()).device
    batch_tokens, max_batch = settings.resolved(device)
    lengths = [len(r) for r in rows]
    out: list[list[float]] = [[] for _ in rows]
    parts = plan_parts(rows, keys, [r[0] for r in reads])
    singles: list[int] = []
    if not packing:  # rows sharing nothing run padded, as without sharing
        singles = sorted(m[0] for m, n in parts if n == 0)
        parts = [(m, n) for m, n in parts if n > 0]

    def emit(values: list[float], order: Sequence[int]) -> None:
        start = 0
        for i in order:
            out[i] = values[start:start + len(reads[i])]
            start += len(reads[i])

    for batch in token_budget_batches([lengths[i] for i in singles], batch_tokens, max_batch):
        batch = [singles[b] for b in batch]
        ids, mask = pad_batch([rows[i] for i in batch], pad_id, device)
        hidden = head.backbone(input_ids=ids, attention_mask=mask).last_hidden_state
        picked = torch.cat([hidden[j, list(reads[i])] for j, i in enumerate(batch)])
        emit(head(picked).cpu().numpy().astype(np.float64).tolist(), batch)
        if stats is not None:
            stats.add_shared(len(batch), sum(lengths[i] for i in batch), ids.numel(), 0)
    for call in pack_plan(rows, parts, batch_tokens, max_batch, device):
        hidden, where, computed = packed_hidden(head.backbone, rows, call, pad_id)
        order = [i for row in call for seg in row.segments for i in seg.members]
        picked = torch.cat([gather(hidden, where, i, reads[i]) for i in order])
        emit(head(picked).cpu().numpy().astype(np.float64).tolist(), order)
        if stats is not None:
            stats.add_shared(len(order), sum(lengths[i] for i in order), computed,
                             sum(len(s.prefix) * (len(s.members) - 1) for row in call for s in row.segments))
    return out


def fit_left(ids: list[int], reads: list[int], max_length: int, tokenizer: Any,
             layout: StepLayout) -> tuple[list[int], list[int]] | None:
    """Cut the oldest tokens (after a leading bos/cls) until ``max_length`` fits; None if that would cut
    a step tag. Shared by scoring and ``rewardlab train prm`` so both see the same truncated rows."""
    excess = len(ids) - max_length
    if excess <= 0:
        return ids, reads
    specials = {getattr(tokenizer, "bos_token_id", None), getattr(tokenizer, "cls_token_id", None)} - {None}
    keep = 1 if layout.template == "plain" and ids and ids[0] in specials else 0
    if reads[0] - excess < keep:
        return None
    return ids[:keep] + ids[keep + excess:], [r - excess for r in reads]


class ProcessReward:
    """A PRM behind the `Reward` protocol: ``Score.value`` aggregates, ``Score.steps`` has every step."""

    def __init__(self, model: str = "minilm", options: ProcessOptions | None = None):
        quiet_transformers()
        self.options = options or ProcessOptions()
        self.options.check()
        self.model, self.tokenizer, self.kind, self.path = load_prm(
            model, self.options.kind, self.options.device, self.options.dtype)
        recorded = getattr(self.model.config, CONFIG_KEY, None) or {}
        chosen = {k: v for k, v in recorded.items() if k in StepLayout.KEYS} | self.options.layout
        self.layout = StepLayout(**chosen).resolved(self.tokenizer)
        self.head = StepHead(self.model, self.kind, self.tokenizer, self.layout.plus, self.layout.minus)
        if self.kind is PrmKind.scalar and self.options.agg == "product":
            raise ValueError("agg=product needs probabilities; kind=scalar gives raw values (use min/last/mean)")
        self.name = f"process:{model}"
        self.max_length = self.options.max_length or model_max_length(self.tokenizer, self.model.config)
        self.stats = ForwardStats()
        self.truncated = 0
        self.dropped = 0
        self.share_prompt = self._resolve_share()
        if self.options.packing and (reason := unsupported_reason(self.model)):
            raise ValueError(f"{self.name}: packing=true, but {reason}; drop packing=true")

    def _resolve_share(self) -> bool:
        """``auto``: share a prompt across its solutions where the backbone is causal; ``true`` insists."""
        return resolve_share(self.options.share_prompt, unsupported_reason(self.model), self.name)

    @classmethod
    def from_spec(cls, argument: str) -> ProcessReward:
        path, options = parse_options(argument)
        return cls(path or "minilm", ProcessOptions.from_dict(options))

    def steps_of(self, sample: Sample) -> list[str]:
        if sample.steps is not None:
            return list(sample.steps)
        return [s for s in sample.response.split(self.options.split) if s.strip()]

    def encode(self, sample: Sample, steps: Sequence[str]) -> tuple[list[int], list[int], bool] | str:
        """(ids, read positions, truncated?) under the truncation policy, or why it cannot be scored.

        ``truncate-left`` removes the oldest tokens after the bos/cls token; it never removes a step tag,
        so an item whose steps alone exceed ``max_length`` fails with a reason instead.
        """
        if not steps:
            return "no steps to score (empty response)"
        ids, reads = self.layout.encode(self.tokenizer, sample.prompt, steps)
        excess = len(ids) - self.max_length
        if excess <= 0:
            return ids, reads, False
        where = sample.metadata.get("source") or "sample"
        if self.options.truncation == "error":
            raise InputTooLongError(f"{where}: {len(ids)} tokens > max_length {self.max_length}; use "
                                    "truncation=truncate-left|drop or raise max_length")
        if self.options.truncation == "drop":
            return f"dropped: {len(ids)} tokens > max_length {self.max_length}"
        fitted = fit_left(ids, reads, self.max_length, self.tokenizer, self.layout)
        if fitted is None:
            return (f"dropped: {len(ids)} tokens > max_length {self.max_length}, and cutting from the left "
                    "would remove the tag of step 0")
        return fitted[0], fitted[1], True

    def step_scores(self, samples: Sequence[Sample]) -> list[list[float] | str]:
        """Step scores per sample from one forward per sample, or the reason it could not be scored."""
        encoded = [self.encode(s, self.steps_of(s)) for s in samples]
        runnable = [i for i, e in enumerate(encoded) if not isinstance(e, str)]
        self.dropped += len(samples) - len(runnable)
        self.truncated += sum(1 for i in runnable if encoded[i][2])
        keys = [prompt_key(samples[i].prompt) for i in runnable] if self.share_prompt else None
        values = read_scores(self.head, [encoded[i][0] for i in runnable], [encoded[i][1] for i in runnable],
                             self.tokenizer.pad_token_id, self.options.batch, self.stats, keys,
                             self.options.packing)
        result: list[list[float] | str] = [e if isinstance(e, str) else [] for e in encoded]
        for i, v in zip(runnable, values):
            result[i] = v
        return result

    def score(self, samples: Sequence[Sample]) -> list[Score]:
        scores = []
        for item in self.step_scores(samples):
            if isinstance(item, str):
                scores.append(Score.failure(item))
            elif not all(map(math.isfinite, item)):
                scores.append(Score(value=float("nan"), steps=item, error="non-finite step score"))
            else:
                scores.append(Score(value=aggregate(item, self.options.agg), steps=item))
        return scores

    def score_per_prefix(self, samples: Sequence[Sample]) -> list[list[float]]:
        """The naive path: one forward per step prefix, read at its last tag (every step; ProcessBench's
        ``run_eval_prm_rlhflow.py`` also scores prefix by prefix, but stops at the first rejected step:
        bench/prm_single_pass.py runs that too). Kept for the equality tests and the benchmark; use `score`.
        """
        rows, reads, owner = [], [], []
        for i, sample in enumerate(samples):
            steps = self.steps_of(sample)
            for t in range(len(steps)):
                ids, positions = self.layout.encode(self.tokenizer, sample.prompt, steps[: t + 1])
                rows.append(ids)
                reads.append([positions[-1]])
                owner.append(i)
        values = read_scores(self.head, rows, reads, self.tokenizer.pad_token_id, self.options.batch,
                             self.stats)
        out: list[list[float]] = [[] for _ in samples]
        for i, v in zip(owner, values):
            out[i].append(v[0])
        return out

    def provenance(self) -> dict[str, Any]:
        if not hasattr(self, "_weights_sha256"):
            self._weights_sha256 = weights_hash(self.path)
        return {"model_path": self.path, "weights_sha256": self._weights_sha256, "kind": self.kind.value,
                "aggregation": self.options.agg, "layout": asdict(self.layout),
                "dtype": str(next(self.model.parameters()).dtype).replace("torch.", ""),
                "device": str(next(self.model.parameters()).device), "max_length": self.max_length,
                "truncation": self.options.truncation, "truncated": self.truncated, "dropped": self.dropped,
                "share_prompt": self.share_prompt, "packing": self.options.packing,
                "shared_prompt_tokens": self.stats.shared_tokens}


def from_spec(argument: str) -> Any:
    """Factory for the ``process:`` family (entry point). ``process:implicit,...`` goes to the implicit PRM."""
    head, _ = parse_options(argument)
    if head == "implicit":
        from rewardlab.rewards import implicit

        factory = getattr(implicit, "process_from_spec", None)
        if factory is None:
            raise ValueError("process:implicit needs rewardlab.rewards.implicit.process_from_spec")
        return factory(argument.partition(",")[2])
    return ProcessReward.from_spec(argument)
