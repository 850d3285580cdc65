"""The hf generation backend on real tiny models: the world policy, and tiny Llamas with and without a
chat template. Every check compares against the model itself (its own generate, a teacher-forced forward)."""

from __future__ import annotations

import math

import pytest
import torch

from rewardlab.generation import SamplingParams, load_generator
from rewardlab.generation.hf import HFGenerator
from rewardlab.generation.sampling import nucleus_probs, uniforms


@pytest.fixture(scope="module")
def world_policy_dir(tmp_path_factory):
    """The embedded world's policy architecture and tokenizer, trained for a few steps (skill is irrelevant)."""
    from rewardlab.synth.policy import PRESETS, train_policy, with_overrides

    config = with_overrides(PRESETS["tiny"], steps=3, warmup=1)
    return train_policy(tmp_path_factory.mktemp("world") / "policy", config, eval_problems=0, progress=False)


@pytest.fixture(scope="module")
def chat_llama(tmp_path_factory):
    from rewardlab.testing import tiny_llama

    return HFGenerator(str(tiny_llama(tmp_path_factory.mktemp("chat_llama"), chat_template=True)))


@pytest.fixture(scope="module")
def plain_llama(tmp_path_factory):
    from rewardlab.testing import tiny_llama

    return HFGenerator(str(tiny_llama(tmp_path_factory.mktemp("plain_llama"))))


def test_greedy_equals_the_world_policys_own_generate(world_policy_dir):
    from rewardlab.synth.policy import generate, load_policy
    from rewardlab.synth.world import generate_problems

    model, tok = load_policy(world_policy_dir)
    assert not tok.chat_template  # the world policy continues raw prompts; strings are sent as they are
    prompts = [p.prompt for p in generate_problems(5, 11)]
    expected = generate(model, tok, prompts, n=1, temperature=0.0, max_new_tokens=24)
    got = load_generator(f"hf:{world_policy_dir}").generate(prompts, SamplingParams(max_new_tokens=24))
    assert [g[0].text.strip() for g in got] == [e[0] for e in expected]
    firsts = [g[0] for g in got]
    assert all(c.tokens <= 24 and c.prompt_tokens == len(tok(p).input_ids) for c, p in zip(firsts, prompts))


def test_samples_depend_on_seed_prompt_and_index_never_on_the_batch(plain_llama, tmp_path):
    prompts = ["the quick brown", "what is two plus", "Step 1: 3 + 4 =", "Human: how do I"]
    params = SamplingParams(n=3, temperature=1.0, max_new_tokens=10, seed=5)
    together = plain_llama.generate(prompts, params)
    alone = HFGenerator(plain_llama.path, max_batch_size=1).generate(prompts[::-1], params)[::-1]
    assert [[c.text for c in row] for row in together] == [[c.text for c in row] for row in alone]
    assert len({c.text for c in together[0]}) == 3  # three different samples of one prompt
    again = plain_llama.generate(prompts[:1], params.with_(n=5))[0]
    assert [c.text for c in again[:3]] == [c.text for c in together[0]]  # sample i is sample i whatever n is
    other = plain_llama.generate(prompts[:1], params.with_(seed=6))[0]
    assert [c.text for c in other] != [c.text for c in together[0]]


def test_greedy_repeats_one_completion_n_times(plain_llama):
    out = plain_llama.generate(["the quick brown"], SamplingParams(n=3, max_new_tokens=6))[0]
    assert len(out) == 3 and len({c.text for c in out}) == 1


def test_logprobs_equal_a_teacher_forced_forward(plain_llama):
    prompt = "the quick brown"
    c = plain_llama.generate([prompt], SamplingParams(temperature=0.8, max_new_tokens=8, logprobs=True,
                                                      top_logprobs=3, seed=1))[0][0]
    ids = plain_llama.encode(prompt)
    assert ids == plain_llama.tokenizer(prompt).input_ids
    full = torch.tensor([ids + c.token_ids])
    with torch.inference_mode():
        logp = torch.log_softmax(plain_llama.loaded.model(full).logits[0].float(), -1)
    expected = [float(logp[len(ids) - 1 + t, c.token_ids[t]]) for t in range(c.tokens)]
    assert len(c.logprobs) == c.tokens == len(c.top_logprobs) == len(c.token_texts) == 8
    assert c.logprobs == pytest.approx(expected, abs=1e-4)
    assert all(len(top) <= 3 and max(top.values()) >= lp - 1e-6 for top, lp in zip(c.top_logprobs, c.logprobs))
    assert "".join(c.token_texts) == c.text


def test_stop_strings_cut_the_text_and_count_the_tokens_spent(plain_llama):
    free = plain_llama.generate(["the quick brown"], SamplingParams(max_new_tokens=16))[0][0]
    assert free.finish_reason == "length" and free.tokens == 16
    stop = free.text[4:6]
    cut = plain_llama.generate(["the quick brown"], SamplingParams(max_new_tokens=16, stop=(stop,)))[0][0]
    assert cut.text == free.text[:free.text.find(stop)]
    assert cut.finish_reason == "stop" and 0 < cut.tokens < 16


def test_chat_messages_use_the_template_and_plain_text_without_one(chat_llama, plain_llama):
    messages = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]
    assert chat_llama.render(messages) == "<|system|>be brief\n<|user|>hi\n<|assistant|>"
    assert plain_llama.render(messages) == "\n\nSystem: be brief\n\nHuman: hi\n\nAssistant:"
    assert chat_llama.render("raw text") == "raw text"
    chat_llama.tokenizer.chat_template = (
        "{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}"
        "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}\n{% endfor %}<|assistant|>")
    try:
        assert chat_llama.render(messages) == "<|user|>be brief\n\nhi\n<|assistant|>"
    finally:
        from rewardlab.testing import CHAT_TEMPLATE

        chat_llama.tokenizer.chat_template = CHAT_TEMPLATE


def test_verdict_probs_are_the_next_token_softmax_and_batch_invariant(chat_llama):
    prompts = [[{"role": "user", "content": "the answer is"}], [{"role": "user", "content": "what is two plus two ?"}]]
    got = chat_llama.verdict_probs(prompts, ["A", "B"], prefix="[[")
    ids = chat_llama.verdict_token_ids(["A", "B"])
    for prompt, probs in zip(prompts, got):
        tokens = torch.tensor([chat_llama.encode(prompt, "[[")])
        with torch.inference_mode():
            dist = torch.softmax(chat_llama.loaded.model(tokens).logits[0, -1].double(), -1)
        assert probs.probs["A"] == pytest.approx(float(dist[ids["A"]].sum()), rel=1e-5)
        assert probs.ok and 0 < probs.mass < 1 and sum(probs.normalized().values()) == pytest.approx(1.0)
    single = [chat_llama.verdict_probs([p], ["A", "B"], prefix="[[")[0] for p in prompts]
    assert [s.probs["B"] for s in single] == pytest.approx([g.probs["B"] for g in got], rel=1e-5)
    with pytest.raises(ValueError, match="single token"):
        chat_llama.verdict_probs(prompts, ["definitely not one token"], prefix="")


def test_prompt_longer_than_the_model_is_a_counted_failure(tmp_path):
    from rewardlab.testing import tiny_llama

    gen = HFGenerator(str(tiny_llama(tmp_path / "m")), max_length=12)
    out = gen.generate(["the quick brown fox jumps over the lazy dog " * 3, "the"], SamplingParams(max_new_tokens=4))
    assert out[0][0].error and "tokens" in out[0][0].error and out[1][0].ok
    assert out[1][0].tokens <= 4  # near the limit the budget shrinks to the positions left
    assert gen.stats.failures == 1 and gen.stats.completion_tokens == out[1][0].tokens


def test_token_accounting_adds_up(plain_llama):
    before = plain_llama.stats.completion_tokens
    out = plain_llama.generate(["a", "the quick"], SamplingParams(n=2, temperature=1.0, max_new_tokens=5))
    assert plain_llama.stats.completion_tokens - before == sum(c.tokens for row in out for c in row)


def test_nucleus_keeps_the_smallest_top_set():
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))
    assert nucleus_probs(logits, 1.0, 0.7)[0].tolist() == pytest.approx([0.625, 0.375, 0.0, 0.0])
    assert nucleus_probs(logits, 1.0, 0.8)[0].tolist() == pytest.approx([0.5 / 0.8, 0.3 / 0.8, 0, 0])
    assert nucleus_probs(logits, 1.0, 0.81)[0].tolist() == pytest.approx([0.5 / 0.95, 0.3 / 0.95, 0.15 / 0.95, 0])
    assert nucleus_probs(logits, 1.0, 0.1)[0].tolist() == pytest.approx([1.0, 0, 0, 0])
    hot = nucleus_probs(logits, 2.0, 1.0)[0]
    # T = 2: p_i^(1/2) renormalised; sqrt(.5) + sqrt(.3) + sqrt(.15) + sqrt(.05) = 1.86574
    assert hot.tolist() == pytest.approx([0.70711 / 1.86574, 0.54772 / 1.86574, 0.38730 / 1.86574, 0.22361 / 1.86574],
                                         rel=1e-4)


def test_seeded_sampling_draws_from_the_model_distribution():
    from rewardlab.generation.sampling import SeededSampler

    probs = torch.tensor([0.6, 0.25, 0.1, 0.05])
    rows = 4000
    sampler = SeededSampler(range(rows), temperature=1.0, top_p=1.0)
    out = sampler(torch.zeros(rows, 1, dtype=torch.long), torch.log(probs).expand(rows, 4).clone())
    counts = torch.bincount(sampler.chosen[0], minlength=4).double() / rows
    assert counts.tolist() == pytest.approx(probs.tolist(), abs=0.025)
    assert bool((out.max(-1).values == 0).all())  # generate's argmax picks exactly the drawn token
    u = uniforms(torch.arange(10000), 3)
    assert float(u.min()) >= 0 and float(u.max()) < 1 and abs(float(u.mean()) - 0.5) < 0.01
    assert not math.isclose(float(uniforms(torch.tensor([1]), 0)), float(uniforms(torch.tensor([1]), 1)))
