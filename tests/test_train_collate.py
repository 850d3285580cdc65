"""Pair encoding, token-budget micro-batches, and the shared-prefix forward (equal to the naive path)."""

from __future__ import annotations

import pytest
import torch

from rewardlab.engine.loading import load_sequence_classifier
from rewardlab.train.collate import (
    check_budget,
    encode_pairs,
    is_causal,
    micro_batches,
    pair_logits,
    shared_prefix_lengths,
    should_share,
)
from rewardlab.train.losses import bradley_terry_loss, ordinal_pair_loss
from rewardlab.types import PairRecord


def _pairs() -> list[PairRecord]:
    return [PairRecord(prompt="what is two plus two ? " * (i + 1), chosen="the answer is 4 .",
                       rejected=f"the answer is {i} . the lazy dog", source=f"f.jsonl:{i + 1}") for i in range(5)]


@pytest.mark.parametrize("num_labels,loss_fn", [(1, "bt"), (3, "ordinal")])
def test_shared_prefix_equals_naive_loss_and_gradients(tiny_llama_rm_dir, num_labels, loss_fn):
    loaded = load_sequence_classifier(str(tiny_llama_rm_dir))
    model = loaded.model.train()
    if num_labels != 1:  # a fresh K-way head on the same backbone
        torch.manual_seed(0)
        model.score = torch.nn.Linear(model.config.hidden_size, num_labels, bias=False)
    enc = encode_pairs(loaded.tokenizer, _pairs(), 256, "truncate-left")
    prefix = shared_prefix_lengths(enc.chosen, enc.rejected)
    assert all(p >= 10 for p in prefix), prefix  # the prompt really is shared and long
    results = {}
    for share in (False, True):
        model.zero_grad()
        c, r = pair_logits(model, enc.chosen, enc.rejected, loaded.tokenizer.pad_token_id, share=share)
        loss = (bradley_terry_loss(c[:, 0], r[:, 0]) if loss_fn == "bt" else ordinal_pair_loss(c, r)).mean()
        loss.backward()
        grads = {n: p.grad.clone() for n, p in model.named_parameters()}
        results[share] = (float(loss.detach()), c.detach(), r.detach(), grads)
    naive, shared = results[False], results[True]
    assert shared[0] == pytest.approx(naive[0], abs=1e-4)
    assert torch.allclose(shared[1], naive[1], atol=1e-4) and torch.allclose(shared[2], naive[2], atol=1e-4)
    for name, grad in naive[3].items():
        assert torch.allclose(shared[3][name], grad, atol=1e-4), name
    assert any(g.abs().sum() > 0 for g in naive[3].values())


def test_auto_share_only_for_causal_models_that_save_work(tiny_llama_rm_dir, tiny_bert_dir):
    llama = load_sequence_classifier(str(tiny_llama_rm_dir))
    bert = load_sequence_classifier(str(tiny_bert_dir))
    assert is_causal(llama.model) and not is_causal(bert.model)
    enc = encode_pairs(llama.tokenizer, _pairs(), 256, "truncate-left")
    assert should_share("auto", True, enc.chosen, enc.rejected)
    assert not should_share("off", True, enc.chosen, enc.rejected)
    assert not should_share("auto", False, enc.chosen, enc.rejected)
    with pytest.raises(ValueError, match="causal"):
        should_share("on", False, enc.chosen, enc.rejected)
    short = [PairRecord(prompt="hi", chosen="the answer is 4 . " * 8, rejected="lazy dog " * 8)]
    enc = encode_pairs(llama.tokenizer, short, 256, "truncate-left")
    assert not should_share("auto", True, enc.chosen, enc.rejected)  # a 1-token prompt saves nothing


def test_micro_batches_cover_the_step_within_budget():
    lengths = [5, 40, 12, 33, 7, 21, 18, 2]
    step = [6, 1, 3, 0, 7]
    batches = micro_batches(step, lengths, sides=2, batch_tokens=100)
    assert sorted(i for b in batches for i in b) == sorted(step)
    for batch in batches:
        assert 2 * len(batch) * max(lengths[i] for i in batch) <= 100


def test_budget_check_names_the_pair():
    check_budget([10, 20], 2, 40, ["a:1", "a:2"])
    with pytest.raises(ValueError, match=r"a:2: 2 x 20 tokens cannot fit batch_tokens=39"):
        check_budget([10, 20], 2, 39, ["a:1", "a:2"])


def test_encode_pairs_drops_the_whole_pair_and_says_why(tiny_bert_dir):
    loaded = load_sequence_classifier(str(tiny_bert_dir))
    pairs = [PairRecord("q", "short", "short too"), PairRecord("q", "long " * 60, "short")]
    enc = encode_pairs(loaded.tokenizer, pairs, 20, "drop")
    assert enc.kept == [0] and 1 in enc.dropped and "max_length 20" in enc.dropped[1]
    both = encode_pairs(loaded.tokenizer, pairs, 20, "truncate-right")
    assert both.kept == [0, 1] and both.truncated == 1 and len(both.chosen[1]) == 20
