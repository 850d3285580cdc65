"""The three PRM kinds ``process:`` scores, as trainable modules that read step logits at the step tags.

Each kind gives one logit z per step whose sigmoid is what scoring reports, so a model trained here is
scored by ``process:OUT`` through exactly the arithmetic it was trained with (RESEARCH 1.5):

- ``token``: a 2-label token-classification head, z = logit_correct - logit_wrong (TRL ``PRMTrainer``);
  scoring reads softmax(logits)[1] = sigmoid(z).
- ``plusminus``: a causal LM read at the tag as the next-token choice between ``plus`` and ``minus``
  (Math-Shepherd), z = logit(+) - logit(-); scoring reads softmax([logit(+), logit(-)])[0] = sigmoid(z).
  Only the two rows of the LM head are computed, never the (steps, vocab) matrix.
- ``scalar``: a causal sequence classifier's 1-label ``score`` head at every tag (a stepwise ORM), z = the
  head's value; scoring reports z raw, so sigmoid(z) is P(step correct).

`StepReadout` is the module the training loop wraps (DDP included), so every forward goes through the
wrapper and gradients synchronise; ``.model`` is the Hugging Face model that is saved.
"""

from __future__ import annotations

from typing import Any

import torch

KINDS = ("token", "plusminus", "scalar")


class StepReadout(torch.nn.Module):
    """(ids (b, seq), mask (b, seq), owner (n,), cols (n,)) -> step logits z (n,) at row owner[k], column cols[k]."""

    def __init__(self, model: Any, kind: str, plus_id: int | None = None, minus_id: int | None = None):
        super().__init__()
        if kind not in KINDS:
            raise ValueError(f"unknown PRM kind {kind!r}; choose one of {', '.join(KINDS)}")
        self.model, self.kind = model, kind
        self.head_ids = [plus_id, minus_id] if kind == "plusminus" else None

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, owner: torch.Tensor,
                cols: torch.Tensor) -> torch.Tensor:
        if self.kind == "token":
            logits = self.model(input_ids=input_ids, attention_mask=attention_mask).logits[owner, cols].float()
            return logits[:, 1] - logits[:, 0]
        base = self.model.get_base_model() if hasattr(self.model, "get_base_model") else self.model  # peft
        backbone = getattr(base, base.base_model_prefix)
        hidden = backbone(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state[owner, cols]
        if self.kind == "scalar":
            return base.score(hidden)[:, 0].float()
        head = base.get_output_embeddings()
        logits = hidden @ head.weight[self.head_ids].T
        if getattr(head, "bias", None) is not None:
            logits = logits + head.bias[self.head_ids]
        softcap = getattr(base.config, "final_logit_softcapping", None)
        if softcap:
            logits = torch.tanh(logits / softcap) * softcap
        logits = logits.float()
        return logits[:, 0] - logits[:, 1]


def load_step_model(cfg: Any, path: str, tokenizer: Any) -> Any:
    """The Hugging Face model a kind trains: token classifier (fresh 2-label head), causal LM, or causal
    sequence classifier (fresh 1-label head); seeded, fp32, dropout off if asked, LoRA if asked."""
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, AutoModelForTokenClassification
    from transformers.utils import logging as hf_logging

    from rewardlab.train.collate import is_causal

    level = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # a new head is expected
    try:
        torch.manual_seed(cfg.seed)
        if cfg.kind == "token":
            model = AutoModelForTokenClassification.from_pretrained(
                path, num_labels=2, dtype=torch.float32, ignore_mismatched_sizes=True,
                id2label={0: "wrong", 1: "correct"}, label2id={"wrong": 0, "correct": 1})
        elif cfg.kind == "plusminus":
            model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
        else:
            model = AutoModelForSequenceClassification.from_pretrained(
                path, num_labels=1, dtype=torch.float32, ignore_mismatched_sizes=True)
    finally:
        hf_logging.set_verbosity(level)
    if cfg.kind != "token" and not (is_causal(model) and (cfg.kind == "plusminus" or hasattr(model, "score"))):
        raise ValueError(f"kind={cfg.kind} needs a causal backbone (Llama, Qwen, GPT-2...): {path} is "
                         f"{model.config.model_type}, whose outputs at a step tag see the later steps; use kind=token")
    if model.config.pad_token_id is None:
        model.config.pad_token_id = tokenizer.pad_token_id
    if cfg.disable_dropout:
        for module in model.modules():
            if isinstance(module, torch.nn.Dropout):
                module.p = 0.0
    if cfg.lora:
        from peft import LoraConfig, TaskType, get_peft_model

        task = {"token": TaskType.TOKEN_CLS, "plusminus": TaskType.CAUSAL_LM, "scalar": TaskType.SEQ_CLS}[cfg.kind]
        model = get_peft_model(model, LoraConfig(task_type=task, r=cfg.lora_r, lora_alpha=cfg.lora_alpha,
                                                 lora_dropout=cfg.lora_dropout,
                                                 target_modules=cfg.lora_target_modules))
    return model


def single_token(tokenizer: Any, text: str, what: str) -> int:
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    if len(ids) != 1:
        raise ValueError(f"--{what} {text!r} is {len(ids)} tokens for this tokenizer; kind=plusminus needs one")
    return ids[0]
