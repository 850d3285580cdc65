"""A byte-level BPE tokenizer for the embedded world, built with `tokenizers` in about a second.

Digits are split one per token before BPE, so every number is spelled digit by digit: a tiny model then
learns arithmetic on digits instead of memorising a token per number. Byte-level BPE means any text
(including text from outside the world) encodes and decodes losslessly. It is wrapped in
``PreTrainedTokenizerFast`` and saved with ``save_pretrained`` like any hub tokenizer.

Sequences follow Llama's convention: ``tokenizer(text)`` prepends ``<s>``; training appends ``</s>`` after
each solution, so generation stops there. Because ``"\\n"`` is always its own pre-token,
``tokenizer(prompt + solution)`` equals ``tokenizer(prompt)`` followed by
``tokenizer(solution, add_special_tokens=False)`` for the world's prompts.
"""

from __future__ import annotations

from collections.abc import Iterable

SPECIAL_TOKENS = ["<pad>", "<s>", "</s>", "<unk>"]
VOCAB_SIZE = 640
CORPUS_SEED = 7_000_001
CORPUS_PROBLEMS = 2000


def world_corpus(n: int = CORPUS_PROBLEMS, seed: int = CORPUS_SEED) -> list[str]:
    """Prompts and gold solutions of ``n`` world problems: the text the tokenizer is trained on."""
    from rewardlab.synth.world import generate_problems

    return [p.prompt + p.solution for p in generate_problems(n, seed)]


def build_tokenizer(corpus: Iterable[str] | None = None, vocab_size: int = VOCAB_SIZE):
    """Train the world tokenizer (deterministic for a given corpus) and wrap it for transformers."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS, min_frequency=2,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(list(corpus if corpus is not None else world_corpus()), trainer=trainer)
    bos = tok.token_to_id("<s>")
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A $B",
                                                       special_tokens=[("<s>", bos)])
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>",
                                   unk_token="<unk>", padding_side="left", model_max_length=1024)
