"""The openai backend against a real OpenAI-compatible server: llama.cpp's, serving Gemma 3 270M on
loopback (session fixture ``llama_server``). Generations are a few tokens long to keep the suite fast."""

from __future__ import annotations

import asyncio
import math

import pytest

from rewardlab.generation import SamplingParams, load_generator
from rewardlab.generation import keys as key_rules
from rewardlab.generation.openai_api import GenerationError, OpenAIConfig, OpenAIGenerator

CHAT = [{"role": "user", "content": "What is 2 + 2? Answer with one number."}]
TEXT = "Question: What is 2 + 2?\nAnswer:"


def make(server, tmp_path, **options):
    options.setdefault("cache", str(tmp_path / "gen.sqlite"))
    return load_generator(f"openai:{server.spec(**options)}", api_key=server.api_key)


def test_chat_and_completions_give_text_and_token_counts(llama_server, tmp_path):
    gen = make(llama_server, tmp_path)
    out = gen.generate([CHAT, TEXT], SamplingParams(max_new_tokens=4))
    for row in out:
        (c,) = row
        assert c.ok and isinstance(c.text, str) and 1 <= c.tokens <= 4 and c.prompt_tokens > 5
        assert c.finish_reason in {"stop", "length"} and not c.cached
    assert gen.stats.requests == 2 and gen.stats.completion_tokens == sum(r[0].tokens for r in out)
    assert out[1][0].text.strip().startswith("2") or out[1][0].text.strip()  # a real continuation came back


def test_a_rerun_costs_nothing_even_from_a_new_process_view(llama_server, tmp_path):
    params = SamplingParams(max_new_tokens=3)
    first = make(llama_server, tmp_path).generate([TEXT], params)
    again = make(llama_server, tmp_path)  # a fresh backend reading the same cache file
    second = again.generate([TEXT], params)
    assert again.stats.requests == 0 and second[0][0].cached
    assert second[0][0].text == first[0][0].text and second[0][0].tokens == first[0][0].tokens
    assert make(llama_server, tmp_path).generate([TEXT], params.with_(max_new_tokens=2))[0][0].cached is False


def test_samples_are_cached_one_index_at_a_time(llama_server, tmp_path):
    gen = make(llama_server, tmp_path)
    params = SamplingParams(n=2, temperature=1.0, max_new_tokens=3, seed=7)
    two = gen.generate([TEXT], params)[0]
    assert gen.stats.requests == 2
    three = gen.generate([TEXT], params.with_(n=3))[0]
    assert gen.stats.requests == 3  # only sample 2 was new
    assert [c.text for c in three[:2]] == [c.text for c in two] and three[0].cached and not three[2].cached


def test_logprobs_and_verdict_probabilities_agree(llama_server, tmp_path):
    gen = make(llama_server, tmp_path)
    c = gen.generate([TEXT], SamplingParams(max_new_tokens=2, logprobs=True, top_logprobs=5))[0][0]
    assert len(c.logprobs) == len(c.token_texts) == len(c.top_logprobs) == c.tokens
    assert c.top_logprobs[0][c.token_texts[0]] == pytest.approx(c.logprobs[0])  # greedy: chosen is the top
    assert c.logprobs[0] == pytest.approx(max(c.top_logprobs[0].values()))
    one = gen.generate([TEXT + " "], SamplingParams(max_new_tokens=1, logprobs=True, top_logprobs=20))[0][0]
    verdicts = gen.verdict_probs([TEXT], ["4", "5"], prefix=" ")[0]
    assert verdicts.ok and 0 < verdicts.mass <= 1
    assert verdicts.probs["4"] == pytest.approx(sum(math.exp(v) for t, v in one.top_logprobs[0].items()
                                                    if t.strip() == "4"))


def test_concurrent_requests_come_back_in_prompt_order(llama_server, tmp_path):
    prompts = [f"Count: {i}, {i + 1}," for i in range(6)]
    params = SamplingParams(max_new_tokens=2)
    together = make(llama_server, tmp_path, concurrency=4, cache="off").generate(prompts, params)
    alone = [make(llama_server, tmp_path, cache="off").generate([p], params)[0] for p in prompts[::-1]][::-1]
    assert [r[0].text for r in together] == [r[0].text for r in alone]


def test_a_client_error_fails_only_its_item_and_is_never_retried(llama_server, tmp_path):
    gen = make(llama_server, tmp_path, retries=3)
    out = gen.generate(["word " * 3000, TEXT], SamplingParams(max_new_tokens=2))
    assert out[0][0].error.startswith("HTTP 400") and "context" in out[0][0].error
    assert out[1][0].ok and gen.stats.retries == 0 and gen.stats.failures == 1


def test_no_key_means_no_authorization_header_and_a_401_aborts(llama_server, tmp_path):
    gen = load_generator(f"openai:{llama_server.spec(cache='off')}")  # base_url given, no api_key_env: no key sent
    with pytest.raises(GenerationError, match="401"):
        gen.generate([TEXT], SamplingParams(max_new_tokens=1))


def test_a_spec_may_read_only_allowed_key_variables(llama_server, tmp_path, monkeypatch):
    monkeypatch.setenv("JUDGE_TEST_SECRET", llama_server.api_key)
    monkeypatch.setattr(key_rules, "_allowed", set(key_rules.DEFAULT_KEY_ENVS))
    spec = f"openai:{llama_server.spec(cache='off', api_key_env='JUDGE_TEST_SECRET')}"
    with pytest.raises(key_rules.KeyNotAllowed, match="JUDGE_TEST_SECRET"):
        load_generator(spec)
    assert load_generator(spec, allow_key_envs=["JUDGE_TEST_SECRET"]).generate(
        [TEXT], SamplingParams(max_new_tokens=1))[0][0].ok  # allowed for this call by Python
    key_rules.allow_key_env("JUDGE_TEST_SECRET")  # what --allow-key-env does
    gen = load_generator(spec)
    assert gen.generate([TEXT], SamplingParams(max_new_tokens=1))[0][0].ok
    assert llama_server.api_key not in repr(gen.provenance())


def test_the_sync_wrapper_works_inside_a_running_event_loop(llama_server, tmp_path):
    gen = make(llama_server, tmp_path)
    expected = gen.generate([TEXT], SamplingParams(max_new_tokens=2))

    async def inside():
        return gen.generate([TEXT], SamplingParams(max_new_tokens=2)), await gen.agenerate(
            [TEXT], SamplingParams(max_new_tokens=2))

    sync_result, async_result = asyncio.run(inside())
    assert sync_result[0][0].text == async_result[0][0].text == expected[0][0].text


def test_config_rejects_nonsense():
    with pytest.raises(ValueError, match="endpoint"):
        OpenAIConfig(model="m", endpoint="grpc")
    with pytest.raises(ValueError, match="base_url"):
        OpenAIConfig(model="m", base_url="ftp://x")
    with pytest.raises(ValueError, match="unknown openai backend option"):
        OpenAIGenerator.from_spec("m,base_url=http://127.0.0.1:1/v1,temperture=0")
