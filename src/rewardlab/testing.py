"""Tiny real models and tokenizers built in code, for tests and examples that must run offline in seconds.

These are real transformers models (saved with ``save_pretrained``, loaded with ``from_pretrained``), just
small: no mock stands in for a forward pass anywhere in the test suite.
"""

from __future__ import annotations

from pathlib import Path

import torch

from rewardlab.engine.loading import embedded_model_path

_CORPUS = [
    "the quick brown fox jumps over the lazy dog",
    "what is two plus two ? the answer is 4 .",
    "Step 1: 3 + 4 = 7. Step 2: 7 * 2 = 14. The answer is 14.",
    "Human: how do I bake bread? Assistant: mix flour, water, yeast and salt, then bake.",
    "0 1 2 3 4 5 6 7 8 9 + - * / = ( ) . , ? ! : ; < > [ ] { } ' \"",
    "I cannot help with that request. Here is a safer alternative.",
]

CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


def tiny_bert_classifier(path: str | Path, num_labels: int = 1, seed: int = 0) -> Path:
    """A 2-layer BERT sequence classifier that reuses the embedded MiniLM tokenizer (no download)."""
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    path = Path(path)
    tokenizer = AutoTokenizer.from_pretrained(embedded_model_path())
    config = BertConfig(
        vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=512, num_labels=num_labels,
    )
    torch.manual_seed(seed)
    model = BertForSequenceClassification(config)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def tiny_tokenizer(vocab_size: int = 300, chat_template: bool = False):
    """A byte-level BPE tokenizer trained on a small fixed corpus in well under a second."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    specials = ["<pad>", "<s>", "</s>", "<unk>", "<|user|>", "<|assistant|>", "<|system|>"]
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(_CORPUS * 4, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>", unk_token="<unk>"
    )
    if chat_template:
        fast.chat_template = CHAT_TEMPLATE
    return fast


def tiny_llama(path: str | Path, classifier: bool = False, num_labels: int = 1, seed: int = 0,
               chat_template: bool = False, max_positions: int = 512) -> Path:
    """A ~100k-parameter Llama (causal LM, or sequence classifier reading the last real token).

    ``max_positions`` raises the context for tests that send long prompts (judge prompts)."""
    from transformers import LlamaConfig, LlamaForCausalLM, LlamaForSequenceClassification

    path = Path(path)
    tokenizer = tiny_tokenizer(chat_template=chat_template)
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=max_positions,
        pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id, num_labels=num_labels, tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    model = LlamaForSequenceClassification(config) if classifier else LlamaForCausalLM(config)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path
