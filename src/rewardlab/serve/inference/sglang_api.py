"""``sglang:URL``: a reward model served by SGLang, scored with the right semantics.

- ``task=embed`` (default; scalar and multi-head RMs served with ``--is-embedding``): ``POST /v1/embeddings``
  returns the classification head's raw outputs, read as the local ``classifier:`` family reads them.
  SGLang's ``/v1/classify`` is refused: it applies a softmax over the labels, which turns the single
  logit of a Bradley-Terry reward model into 1.0 for every input.
- ``task=score`` (yes/no verifiers on a causal LM): ``POST /v1/score`` with the ids of "Yes" and "No" as
  ``label_token_ids`` and ``apply_softmax: true``: the value is P(Yes) / (P(Yes) + P(No)) for the next
  token after the conversation (prompt, the response as the assistant turn, then ``question`` as a user
  turn, rendered with the model's chat template and its generation prompt). Samples sharing a prompt
  go in one request, their common token prefix as ``query`` and the rest as ``items``.

Inputs are token ids from the reward model's own tokenizer (`common`). Spec: ``sglang:URL[,model=NAME]
[,tokenizer=PATH][,task=embed|score][,question=..][,yes=Yes][,no=No][,max_length=N][,truncation=..]
[,batch_size=64][,max_in_flight=4][,timeout=120][,retries=4][,api_key_env=NAME]`` (spec values cannot
hold commas; ``\\s`` is a space, ``\\n`` a newline).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rewardlab.serve.inference.common import (
    JsonClient,
    RewardModelFiles,
    ServerOptions,
    body,
    chunks,
    head_scores,
)
from rewardlab.types import Sample, Score, prompt_to_text

TASKS = ("embed", "score")
DEFAULT_QUESTION = "Is the answer above correct? Reply Yes or No."


class SGLangReward:
    """A reward model behind an SGLang server (``--is-embedding`` RMs, or a causal LM as a yes/no verifier)."""

    def __init__(self, options: ServerOptions, task: str = "embed", verdict: dict[str, str] | None = None):
        if task == "classify":
            raise ValueError("sglang: task=classify is refused: SGLang's /v1/classify softmaxes the labels, so a "
                             "one-logit reward model scores 1.0 on every input; use task=embed (/v1/embeddings)")
        if task not in TASKS:
            raise ValueError(f"sglang: task={task!r}; choose embed (reward models) or score (yes/no verifiers)")
        self.options, self.task = options, task
        self.files = RewardModelFiles.load(options)
        self.client = JsonClient(options)
        self.name = f"sglang:{self.client.url}"
        self.truncated = self.dropped = 0
        if task == "score":
            from rewardlab.rewards.process import unescape

            verdict = verdict or {}
            self.question = unescape(verdict.get("question", DEFAULT_QUESTION))
            self.labels = [_one_token(self.files.tokenizer, unescape(verdict.get(k, d)), k)
                           for k, d in (("yes", "Yes"), ("no", "No"))]
        elif verdict:
            raise ValueError(f"sglang: {sorted(verdict)} apply to task=score only")

    @classmethod
    def from_spec(cls, argument: str) -> SGLangReward:
        options, extra = ServerOptions.parse("sglang", argument, {"task", "question", "yes", "no"})
        return cls(options, extra.pop("task", "embed"), extra)

    def score(self, samples: Sequence[Sample]) -> list[Score]:
        return self._embed(samples) if self.task == "embed" else self._verdicts(samples)

    def _embed(self, samples: Sequence[Sample]) -> list[Score]:
        return head_scores(self, samples, self._post_embeddings)

    def _post_embeddings(self, batch: list[tuple[int, list[int]]]) -> list[list[float]]:
        reply = self.client.post("/v1/embeddings", body(self.options.model, input=[ids for _, ids in batch]))
        data = sorted(reply.get("data") or [], key=lambda item: item["index"])
        if len(data) != len(batch):
            raise ValueError(f"{self.name}/v1/embeddings returned {len(data)} results for {len(batch)} inputs")
        return [[float(v) for v in item["embedding"]] for item in data]

    def verdict_ids(self, sample: Sample) -> list[int]:
        """Token ids of the conversation that ends where the verdict token is predicted."""
        tok = self.files.tokenizer
        if getattr(tok, "chat_template", None):
            messages = [{"role": "user", "content": sample.prompt}] if isinstance(sample.prompt, str) else [
                dict(m) for m in sample.prompt]
            messages += [{"role": "assistant", "content": sample.response}, {"role": "user", "content": self.question}]
            text = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
            return list(tok(text, add_special_tokens=False)["input_ids"])
        text = f"{prompt_to_text(sample.prompt)}\n{sample.response}\n{self.question}\n"
        return list(tok(text)["input_ids"])

    def _verdicts(self, samples: Sequence[Sample]) -> list[Score]:
        limit, scores, groups = self.files.max_length, {}, {}
        for i, sample in enumerate(samples):
            ids = self.verdict_ids(sample)
            if len(ids) > limit:
                if self.options.truncation == "error":
                    raise ValueError(f"{sample.metadata.get('source') or f'sample {i}'}: {len(ids)} tokens > "
                                     f"max_length {limit}")
                if self.options.truncation != "truncate-left":
                    scores[i] = Score.failure(f"dropped: {len(ids)} tokens > max_length {limit}")
                    self.dropped += 1
                    continue
                ids, self.truncated = ids[-limit:], self.truncated + 1  # keep the question and the answer
            groups.setdefault(repr(sample.prompt), []).append((i, ids))
        requests = [part for group in groups.values() for part in chunks(group, self.options.batch_size)]
        for part, probs in zip(requests, self.client.map(self._post_score, requests)):
            for (i, _), (p_yes, p_no) in zip(part, probs):
                scores[i] = Score(value=float(p_yes), components={"p_yes": float(p_yes), "p_no": float(p_no)})
        return [scores[i] for i in range(len(samples))]

    def _post_score(self, part: list[tuple[int, list[int]]]) -> list[list[float]]:
        rows = [ids for _, ids in part]
        shared = _common_prefix(rows)
        reply = self.client.post("/v1/score", body(
            self.options.model, query=rows[0][:shared], items=[r[shared:] for r in rows],
            label_token_ids=self.labels, apply_softmax=True, item_first=False))
        probs = reply.get("scores") or []
        if len(probs) != len(rows) or any(len(p) != 2 for p in probs):
            raise ValueError(f"{self.name}/v1/score returned {len(probs)} score pairs for {len(rows)} items")
        return probs

    def provenance(self) -> dict[str, Any]:
        out = {"server": "sglang", "url": self.client.url, "model": self.options.model, "task": self.task,
               "tokenizer": self.files.path, "max_length": self.files.max_length,
               "truncation": self.options.truncation, "truncated": self.truncated, "dropped": self.dropped}
        if self.task == "score":
            out.update(question=self.question, label_token_ids=self.labels)
        return out

    def close(self) -> None:
        self.client.close()


def _common_prefix(rows: list[list[int]]) -> int:
    """Length of the longest common prefix, leaving every row at least one token of its own."""
    limit = min(len(r) for r in rows) - 1
    n = 0
    while n < limit and all(r[n] == rows[0][n] for r in rows):
        n += 1
    return n


def _one_token(tokenizer: Any, text: str, what: str) -> int:
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    if len(ids) != 1:
        raise ValueError(f"sglang: {what}={text!r} is {len(ids)} tokens for this tokenizer; the verdict must be one")
    return ids[0]


def from_spec(argument: str) -> SGLangReward:
    """Entry point for the ``sglang`` reward family."""
    return SGLangReward.from_spec(argument)
