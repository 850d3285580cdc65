"""Tiny real PRMs built in code (imported by the other tests/test_prm_*.py files), and checks that each
kind is recognised from its saved config alone."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from rewardlab.rewards.process import CONFIG_KEY, PrmKind, detect_kind
from rewardlab.testing import tiny_llama, tiny_tokenizer


def tiny_token_prm(path: Path, arch: str = "llama", num_labels: int = 2, seed: int = 0,
                   record: dict | None = None) -> Path:
    """A token-classification PRM: a 2-layer Llama (causal) or BERT (bidirectional, MiniLM tokenizer)."""
    from transformers import (
        AutoTokenizer,
        BertConfig,
        BertForTokenClassification,
        LlamaConfig,
        LlamaForTokenClassification,
    )

    from rewardlab.engine.loading import embedded_model_path

    torch.manual_seed(seed)
    if arch == "bert":
        tokenizer = AutoTokenizer.from_pretrained(embedded_model_path())
        config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2,
                            num_attention_heads=2, intermediate_size=64, num_labels=num_labels,
                            initializer_range=0.3)  # wide init: outputs visibly depend on context
        model = BertForTokenClassification(config)
    else:
        tokenizer = tiny_tokenizer()
        config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64,
                             num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                             max_position_embeddings=512, pad_token_id=tokenizer.pad_token_id,
                             bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                             num_labels=num_labels, tie_word_embeddings=False)
        model = LlamaForTokenClassification(config)
    if record is not None:
        setattr(model.config, CONFIG_KEY, record)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return Path(path)


def tiny_plusminus_prm(path: Path, chat_template: bool = False) -> Path:
    """A causal LM read as P('+') vs P('-') at each step tag (Math-Shepherd / RLHFlow)."""
    return tiny_llama(path, chat_template=chat_template)


def tiny_scalar_prm(path: Path) -> Path:
    """A causal sequence classifier whose scalar head is read at every separator."""
    return tiny_llama(path, classifier=True)


@pytest.mark.parametrize(("builder", "kind"), [
    (tiny_token_prm, PrmKind.token), (tiny_plusminus_prm, PrmKind.plusminus), (tiny_scalar_prm, PrmKind.scalar),
])
def test_kind_is_read_from_the_saved_config(tmp_path, builder, kind):
    from transformers import AutoConfig

    assert detect_kind(AutoConfig.from_pretrained(builder(tmp_path))) is kind


def test_recorded_kind_beats_the_architecture(tmp_path):
    from transformers import AutoConfig

    path = tiny_token_prm(tmp_path, record={"kind": "token", "step_tag": " ки"})
    config = AutoConfig.from_pretrained(path)
    assert getattr(config, CONFIG_KEY)["step_tag"] == " ки"  # survives save/load
    assert detect_kind(config) is PrmKind.token
