"""STAND-IN servers for vLLM and SGLang, which cannot run on this CPU-only machine.

These are NOT vLLM or SGLang. They are real FastAPI apps, served by uvicorn on loopback, that implement
the documented request/response schemas and scoring semantics of the endpoints rewardlab's ``vllm:`` and
``sglang:`` families call, with a real tiny transformers model behind each:

- vLLM ``POST /classify`` (ClassificationRequest -> ClassificationResponse ``{index, label, probs,
  num_classes}``): the classifier activation (sigmoid for one label, softmax otherwise) unless
  ``use_activation`` is false; ``POST /pooling`` with ``task: token_classify`` (PoolingResponse, per-token
  rows). Source: vllm/entrypoints/pooling/{base,classify,pooling}/protocol.py.
- SGLang ``POST /v1/embeddings`` (EmbeddingRequest -> EmbeddingResponse: a reward model's raw head
  outputs), ``POST /v1/classify`` (softmax over labels: 1.0 for a one-label model), ``POST /v1/score``
  (ScoringRequest: P(label token | query + item), softmax over the label tokens when ``apply_softmax``).
  Source: sglang/srt/entrypoints/openai/protocol.py.

Request models forbid unknown fields (the real servers ignore them with a warning), so a client that sent
a field the servers do not define fails here. Every request body is kept in ``app.state.requests``. The
real servers are checked by bench/gpu_checks.sh where they install.
"""

from __future__ import annotations

import time
from typing import Literal

import torch
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, ConfigDict

TokenIds = list[int]
Input = str | list[str] | TokenIds | list[TokenIds]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class VLLMClassificationRequest(_Strict):
    model: str | None = None
    input: Input
    use_activation: bool | None = None
    truncate_prompt_tokens: int | None = None
    add_special_tokens: bool = True
    user: str | None = None
    priority: int = 0
    request_id: str | None = None


class VLLMPoolingRequest(VLLMClassificationRequest):
    task: Literal["embed", "classify", "token_embed", "token_classify"] | None = None
    dimensions: int | None = None
    encoding_format: Literal["float", "base64"] = "float"


class SGLangEmbeddingRequest(_Strict):
    input: Input
    model: str = "default"
    encoding_format: str = "float"
    dimensions: int | None = None
    user: str | None = None
    rid: str | list[str] | None = None
    priority: int | None = None


class SGLangScoringRequest(_Strict):
    query: str | TokenIds | None = None
    items: str | list[str] | list[TokenIds] | None = None
    label_token_ids: list[int] | None = None
    apply_softmax: bool = False
    item_first: bool = False
    model: str = "default"


def _rows(tokenizer, value: Input, add_special_tokens: bool = True) -> list[list[int]]:
    if isinstance(value, str):
        value = [value]
    if value and isinstance(value[0], int):
        value = [value]
    return [list(tokenizer(v, add_special_tokens=add_special_tokens)["input_ids"]) if isinstance(v, str) else list(v)
            for v in value]


def _activation(logits: torch.Tensor) -> torch.Tensor:
    return torch.sigmoid(logits) if logits.shape[-1] == 1 else torch.softmax(logits, dim=-1)


def _usage(rows: list[list[int]]) -> dict:
    n = sum(len(r) for r in rows)
    return {"prompt_tokens": n, "total_tokens": n, "completion_tokens": 0, "prompt_tokens_details": None}


def _check_model(asked: str | None, served: str, default: str | None = None) -> None:
    if asked not in (None, default, served):
        raise HTTPException(404, f"The model `{asked}` does not exist.")


def vllm_standin(classifier_dir, token_prm_dir, served: str = "rm") -> FastAPI:
    """A STAND-IN for ``vllm serve`` of a sequence classifier (/classify) and a token PRM (/pooling)."""
    from transformers import AutoModelForSequenceClassification, AutoModelForTokenClassification, AutoTokenizer

    clf = AutoModelForSequenceClassification.from_pretrained(classifier_dir).eval()
    prm = AutoModelForTokenClassification.from_pretrained(token_prm_dir).eval()
    clf_tok, prm_tok = AutoTokenizer.from_pretrained(classifier_dir), AutoTokenizer.from_pretrained(token_prm_dir)
    app = FastAPI(title="STAND-IN for vLLM's pooling API (not vLLM)")
    app.state.requests = []

    @app.post("/classify")
    def classify(req: VLLMClassificationRequest) -> dict:
        app.state.requests.append(("/classify", req.model_dump(exclude_unset=True)))
        _check_model(req.model, served)
        rows = _rows(clf_tok, req.input, req.add_special_tokens)
        data = []
        with torch.no_grad():
            for i, ids in enumerate(rows):
                logits = clf(input_ids=torch.tensor([ids])).logits[0].float()
                out = logits if req.use_activation is False else _activation(logits)
                label = clf.config.id2label[int(logits.argmax())]
                data.append({"index": i, "label": label, "probs": out.tolist(), "num_classes": len(out)})
        return {"id": f"classify-{time.time_ns()}", "object": "list", "created": int(time.time()), "model": served,
                "data": data, "usage": _usage(rows)}

    @app.post("/pooling")
    def pooling(req: VLLMPoolingRequest) -> dict:
        app.state.requests.append(("/pooling", req.model_dump(exclude_unset=True)))
        _check_model(req.model, served)
        if req.task != "token_classify":
            raise HTTPException(400, f"this stand-in serves task=token_classify only, got {req.task}")
        rows = _rows(prm_tok, req.input, req.add_special_tokens)
        data = []
        with torch.no_grad():
            for i, ids in enumerate(rows):
                logits = prm(input_ids=torch.tensor([ids])).logits[0].float()
                out = logits if req.use_activation is False else _activation(logits)
                data.append({"index": i, "object": "pooling", "data": out.tolist()})
        return {"id": f"pool-{time.time_ns()}", "object": "list", "created": int(time.time()), "model": served,
                "data": data, "usage": _usage(rows)}

    return app


def sglang_standin(classifier_dir, causal_dir, served: str = "rm") -> FastAPI:
    """A STAND-IN for SGLang serving a reward model (--is-embedding) and a causal LM (/v1/score)."""
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer

    clf = AutoModelForSequenceClassification.from_pretrained(classifier_dir).eval()
    lm = AutoModelForCausalLM.from_pretrained(causal_dir).eval()
    clf_tok, lm_tok = AutoTokenizer.from_pretrained(classifier_dir), AutoTokenizer.from_pretrained(causal_dir)
    app = FastAPI(title="STAND-IN for SGLang's OpenAI-compatible API (not SGLang)")
    app.state.requests = []

    def head_outputs(rows):
        with torch.no_grad():
            return [clf(input_ids=torch.tensor([ids])).logits[0].float() for ids in rows]

    @app.post("/v1/embeddings")
    def embeddings(req: SGLangEmbeddingRequest) -> dict:
        app.state.requests.append(("/v1/embeddings", req.model_dump(exclude_unset=True)))
        _check_model(req.model, served, "default")
        rows = _rows(clf_tok, req.input)
        data = [{"embedding": out.tolist(), "index": i, "object": "embedding"}
                for i, out in enumerate(head_outputs(rows))]
        return {"data": data, "model": served, "object": "list", "usage": _usage(rows)}

    @app.post("/v1/classify")
    def classify(req: SGLangEmbeddingRequest) -> dict:
        app.state.requests.append(("/v1/classify", req.model_dump(exclude_unset=True)))
        rows = _rows(clf_tok, req.input)
        data = [{"index": i, "label": "Default", "probs": torch.softmax(out, -1).tolist(), "num_classes": len(out)}
                for i, out in enumerate(head_outputs(rows))]
        return {"id": f"classify-{time.time_ns()}", "object": "list", "created": int(time.time()), "model": served,
                "data": data, "usage": _usage(rows)}

    @app.post("/v1/score")
    def score(req: SGLangScoringRequest) -> dict:
        app.state.requests.append(("/v1/score", req.model_dump(exclude_unset=True)))
        _check_model(req.model, served, "default")
        if req.query is None or req.items is None or not req.label_token_ids:
            raise HTTPException(400, "query, items and label_token_ids are required")
        items = [req.items] if isinstance(req.items, str) else req.items
        scores, rows = [], []
        for item in items:
            if isinstance(req.query, str) != isinstance(item, str):
                raise HTTPException(400, "query and items must both be text or both be token ids")
            text_or_ids = (item + req.query if req.item_first else req.query + item)
            ids = _rows(lm_tok, text_or_ids)[0]
            rows.append(ids)
            with torch.no_grad():
                last = lm(input_ids=torch.tensor([ids])).logits[0, -1].float()
            picked = last[req.label_token_ids]
            probs = torch.softmax(picked, -1) if req.apply_softmax else torch.softmax(last, -1)[req.label_token_ids]
            scores.append(probs.tolist())
        return {"scores": scores, "model": served, "usage": _usage(rows), "object": "scoring"}

    return app
