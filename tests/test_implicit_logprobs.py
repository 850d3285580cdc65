"""Per-token response log-probs: the arithmetic against a direct computation, and the shared-prompt path
(each prompt run once, KV cache reused) equal to the naive path (one full forward per sample)."""

from __future__ import annotations

import pytest
import torch

from rewardlab.engine.forward import BatchSettings
from rewardlab.engine.logprobs import (
    group_by_prompt,
    plan_batches,
    token_logprobs,
    tokenize_sample,
    tokenize_samples,
)
from rewardlab.types import Sample

SAMPLES = [
    Sample("what is two plus two ?", " the answer is 4 ."),
    Sample("what is two plus two ?", " 5"),
    Sample("what is two plus two ?", " Step 1: 2 + 2 = 4. The answer is 4."),
    Sample("Human: how do I bake bread?", " mix flour, water, yeast and salt, then bake."),
    Sample("Human: how do I bake bread?", " I cannot help with that request."),
    Sample("the quick", " brown fox jumps over the lazy dog"),
]


@pytest.fixture(scope="module")
def lm(tmp_path_factory):
    from transformers import AutoModelForCausalLM

    from rewardlab.engine.loading import load_tokenizer
    from rewardlab.testing import tiny_llama

    path = tiny_llama(tmp_path_factory.mktemp("lm"))
    return AutoModelForCausalLM.from_pretrained(path).eval(), load_tokenizer(str(path))


def direct_logprobs(model, item) -> list[float]:
    """log softmax at each response position from one unpadded forward, read one position at a time."""
    ids = torch.tensor([list(item.prompt_ids) + list(item.response_ids)])
    with torch.no_grad():
        logits = model(ids).logits[0].double()
    start = len(item.prompt_ids)
    values = []
    for j, token in enumerate(item.response_ids):
        row = logits[start + j - 1]
        values.append(float(row[token] - torch.log(torch.exp(row).sum())))
    return values


def test_tokenization_layout(lm):
    _, tok = lm
    item = tokenize_sample(tok, SAMPLES[0])
    assert item.prompt_ids[0] == tok.bos_token_id and item.prompt_ids.count(tok.bos_token_id) == 1
    assert item.prompt_ids[1:] == tuple(tok("what is two plus two ?", add_special_tokens=False)["input_ids"])
    assert item.response_ids[-1] == tok.eos_token_id
    assert item.response_ids[:-1] == tuple(tok(" the answer is 4 .", add_special_tokens=False)["input_ids"])
    # offsets tile the response text; the appended eos owns the empty span at its end
    assert "".join(item.response_text[a:b] for a, b in item.offsets) == " the answer is 4 ."
    assert item.offsets[-1] == (len(item.response_text), len(item.response_text))
    assert tokenize_sample(tok, SAMPLES[0], add_eos=False).response_ids == item.response_ids[:-1]


def test_chat_template_splits_prompt_from_response(tmp_path):
    from rewardlab.engine.loading import load_tokenizer
    from rewardlab.testing import tiny_llama

    tok = load_tokenizer(str(tiny_llama(tmp_path, chat_template=True)))
    item = tokenize_sample(tok, Sample([{"role": "user", "content": "hi"}], "hello"))
    assert item.response_text == "hello\n"  # the template's end-of-turn newline belongs to the response
    prompt = tok.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False,
                                     add_generation_prompt=True)
    assert prompt.endswith("<|assistant|>")
    assert item.prompt_ids[1:] == tuple(tok(prompt, add_special_tokens=False)["input_ids"])


def test_logprobs_equal_direct_computation(lm):
    model, tok = lm
    items = tokenize_samples(tok, SAMPLES, 512).items
    for share in (False, True):
        got = token_logprobs(model, items, tok.pad_token_id, share_prompt=share)
        for item, values in zip(items, got):
            expected = direct_logprobs(model, item)
            assert len(values) == len(item.response_ids)
            assert values == pytest.approx(expected, abs=1e-5)
            assert values.sum() == pytest.approx(sum(expected), abs=1e-4)


@pytest.mark.parametrize("attn", ["eager", "sdpa"])
def test_shared_prompt_equals_naive(lm, attn):
    model, tok = lm
    model.config._attn_implementation = attn
    items = tokenize_samples(tok, SAMPLES * 2, 512).items
    naive = token_logprobs(model, items, tok.pad_token_id, share_prompt=False)
    for settings in (BatchSettings(), BatchSettings(batch_tokens=64, max_batch_size=2)):
        shared = token_logprobs(model, items, tok.pad_token_id, settings, share_prompt=True)
        for a, b in zip(naive, shared):
            assert abs(a - b).max() < 1e-4
    model.config._attn_implementation = "sdpa"


def test_groups_and_batch_plan(lm):
    _, tok = lm
    items = tokenize_samples(tok, SAMPLES, 512).items
    assert group_by_prompt(items) == [[0, 1, 2], [3, 4], [5]]
    for settings in (BatchSettings(), BatchSettings(batch_tokens=40, max_batch_size=2)):
        for share in (True, False):
            batches = plan_batches(items, settings, torch.device("cpu"), share)
            assert sorted(i for b in batches for i in b) == list(range(len(items)))
    whole = plan_batches(items, BatchSettings(), torch.device("cpu"), True)
    assert any({0, 1, 2} <= set(b) for b in whole)  # a group that fits stays in one batch: prompt run once


def test_truncation_policies(lm):
    _, tok = lm
    long = Sample("the quick brown fox " * 20, " jumps")
    item = tokenize_sample(tok, long)
    limit = len(item.response_ids) + 5
    left = tokenize_samples(tok, [long], limit, "truncate-left")
    fitted = left.items[0]
    assert left.truncated == 1 and fitted.length == limit
    assert fitted.prompt_ids[0] == tok.bos_token_id and fitted.response_ids == item.response_ids
    assert fitted.prompt_ids[1:] == item.prompt_ids[-(limit - len(item.response_ids) - 1):]
    right = tokenize_samples(tok, [Sample("hi", " the quick brown fox jumps " * 5)], 8, "truncate-right")
    assert right.items[0].length == 8
    dropped = tokenize_samples(tok, [long, Sample("hi", " 5")], limit, "drop")
    assert dropped.items[0] is None and "max_length" in dropped.dropped[0] and dropped.items[1] is not None
    with pytest.raises(ValueError, match="max_length"):
        tokenize_samples(tok, [long], limit, "error")
    too_long_response = tokenize_samples(tok, [Sample("hi", " the quick brown fox " * 10)], 6)
    assert too_long_response.items[0] is None and 0 in too_long_response.dropped


def test_shared_prompt_equals_naive_with_absolute_positions(lm):
    """GPT-2 adds learned absolute position embeddings: the explicit position ids must continue the prompt."""
    from transformers import GPT2Config, GPT2LMHeadModel

    _, tok = lm
    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(vocab_size=len(tok), n_embd=32, n_layer=2, n_head=2, n_positions=512,
                                       eos_token_id=tok.eos_token_id, bos_token_id=tok.bos_token_id)).eval()
    items = tokenize_samples(tok, SAMPLES, 512).items
    naive = token_logprobs(model, items, tok.pad_token_id, share_prompt=False)
    shared = token_logprobs(model, items, tok.pad_token_id, share_prompt=True)
    for item, a, b in zip(items, naive, shared):
        assert abs(a - b).max() < 1e-4
        assert a.tolist() == pytest.approx(direct_logprobs(model, item), abs=1e-5)
