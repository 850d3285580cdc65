"""The façades of ``rewardlab serve`` against a real uvicorn server on loopback, each driven the way its
framework calls it (request shapes taken from the frameworks' sources, cited in docs/serving.md):
vLLM /classify and /pooling (verl's reward loop), slime's remote RM, NeMo Gym's /verify, and OpenRLHF 0.11's
/get_reward (one sample per request, empty lists to all servers but the first, chat-templated queries)."""

from __future__ import annotations

import math

import httpx
import pytest
import torch

from chat_templates import CHATML
from rewardlab import Sample, load_reward
from rewardlab.serve import ServeConfig, ServerThread, create_app
from rewardlab.testing import tiny_llama

CHAT = [{"role": "user", "content": "what is 2 + 2 ?"}]
MULTI = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"},
         {"role": "assistant", "content": "hello !"}, {"role": "user", "content": "what is 3 + 4 ?\nshow it"}]


@pytest.fixture(scope="module")
def rm_dir(tmp_path_factory):
    from transformers import AutoTokenizer

    path = tiny_llama(tmp_path_factory.mktemp("facade_rm") / "rm", classifier=True, seed=8)
    tok = AutoTokenizer.from_pretrained(path)
    tok.chat_template = CHATML  # the Qwen2.5 shape: default system prompt, <|im_start|>/<|im_end|> turns
    tok.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def rm(rm_dir):
    return load_reward(f"classifier:{rm_dir}")


@pytest.fixture(scope="module")
def server(rm):
    with ServerThread(create_app(rm, ServeConfig(spec="rm"))) as running:
        yield running


def local(rm, prompt, response) -> float:
    return rm.score([Sample(prompt, response)])[0].value


def openrlhf_query(tok, messages, response: str) -> tuple[str, str]:
    """What OpenRLHF 0.11 sends: the templated prompt, and the decoded prompt + generated ids (the answer,
    its end of turn, eos) with special tokens kept."""
    prompt = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    generated = tok(response + "<|im_end|>", add_special_tokens=False)["input_ids"]
    ids = tok(prompt, add_special_tokens=False)["input_ids"] + generated
    return tok.decode(ids + [tok.eos_token_id], skip_special_tokens=False), prompt


def openrlhf_get_rewards(urls, queries, prompts, labels):
    """OpenRLHF 0.11's RemoteRewardModel.get_rewards: the batch is cut into ceil(n / servers) slices, one
    per server URL, so a one-sample call sends [] to every server but the first."""
    size = -(-len(queries) // len(urls))
    replies = []
    for k, url in enumerate(urls):
        part = slice(k * size, (k + 1) * size)
        body = {"query": queries[part], "prompts": prompts[part], "labels": labels[part]}
        response = httpx.post(url + "/get_reward", json=body, timeout=30)
        assert response.status_code == 200, response.text
        replies.append(response.json())
    return replies


def test_openrlhf_011_templated_query_scores_the_conversation(server, rm):
    tok = rm.loaded.tokenizer
    query, prompt = openrlhf_query(tok, CHAT, " the answer is 4 .")
    assert query.startswith("<|im_start|>system") and query.endswith("<|im_end|></s>")
    replies = openrlhf_get_rewards([server.url, server.url], [query], [prompt], [None])
    assert replies[1] == {"rewards": [], "scores": [], "extra_logs": {}}  # the second server got []
    expected = local(rm, CHAT, " the answer is 4 .")
    assert replies[0]["rewards"] == pytest.approx([expected], abs=1e-5)
    # without parsing, the markup would be scored as the answer: a different number
    assert abs(local(rm, "", query) - expected) > 1e-4
    multi, multi_prompt = openrlhf_query(tok, MULTI, "7")
    got = openrlhf_get_rewards([server.url], [multi], [multi_prompt], ["7"])[0]["rewards"]
    assert got == pytest.approx([local(rm, MULTI, "7")], abs=1e-5)


def test_openrlhf_plain_queries_keep_the_prompt_prefix_rule_unless_a_template_is_named(server, rm, rm_dir):
    body = {"query": ["Human: hi\n\nAssistant: hello"], "prompts": ["Human: hi\n\nAssistant:"]}
    got = httpx.post(server.url + "/get_reward", json=body).json()["rewards"]
    assert got == pytest.approx([local(rm, "Human: hi\n\nAssistant:", " hello")], abs=1e-5)
    with ServerThread(create_app(rm, ServeConfig(spec="rm"), query_template=str(rm_dir))) as strict:
        refused = httpx.post(strict.url + "/get_reward", json=body)
        assert refused.status_code == 422 and "not a conversation in" in refused.json()["message"]


def test_vllm_classify_as_verls_reward_loop_sends_it(server, rm):
    tok = rm.loaded.tokenizer
    rm_prompt = tok.apply_chat_template([*CHAT, {"role": "assistant", "content": "4"}], tokenize=False)
    expected = local(rm, CHAT, "4")
    verl = httpx.post(server.url + "/classify", json={"model": "/models/rm", "input": rm_prompt, "activation": False})
    assert verl.status_code == 200
    reply = verl.json()
    assert reply["object"] == "list" and reply["data"][-1]["num_classes"] == 1
    assert reply["data"][-1]["probs"][-1] == pytest.approx(expected, abs=1e-5)
    newer = httpx.post(server.url + "/classify", json={"input": [rm_prompt, rm_prompt], "use_activation": False}).json()
    assert [d["probs"][0] for d in newer["data"]] == pytest.approx([expected] * 2, abs=1e-5)
    default = httpx.post(server.url + "/classify", json={"input": rm_prompt}).json()["data"][0]["probs"][0]
    assert default == pytest.approx(1 / (1 + math.exp(-expected)), abs=1e-6)  # vLLM's rule: sigmoid by default
    ids = tok(rm_prompt, add_special_tokens=False)["input_ids"]
    by_ids = httpx.post(server.url + "/classify", json={"input": ids, "use_activation": False}).json()
    chat = httpx.post(server.url + "/classify", json={"messages": [*CHAT, {"role": "assistant", "content": "4"}],
                                                      "use_activation": False}).json()
    assert by_ids["data"][0]["probs"][0] == pytest.approx(expected, abs=1e-5)
    assert chat["data"][0]["probs"][0] == pytest.approx(expected, abs=1e-5)
    pooled = httpx.post(server.url + "/pooling", json={"input": rm_prompt, "task": "classify", "use_activation": False})
    assert pooled.json()["data"][0]["data"] == pytest.approx([expected], abs=1e-5)
    assert httpx.post(server.url + "/classify", json={"model": "rm"}).status_code == 422
    assert httpx.post(server.url + "/pooling", json={"input": "x", "task": "embed"}).status_code == 422


def test_vllm_pooling_token_classify_serves_a_token_prm(tmp_path):
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    lm = tiny_llama(tmp_path / "lm", seed=9)
    torch.manual_seed(2)
    AutoModelForTokenClassification.from_pretrained(lm, num_labels=2).save_pretrained(tmp_path / "prm")
    AutoTokenizer.from_pretrained(lm).save_pretrained(tmp_path / "prm")
    prm = load_reward(f"process:{tmp_path / 'prm'}")
    sample = Sample("what is 3 + 4 ?", "", steps=("3 + 4 = 7 .", "the answer is 7 ."))
    ids, reads = prm.layout.encode(prm.tokenizer, sample.prompt, sample.steps)
    with ServerThread(create_app(prm, ServeConfig(spec="prm"))) as server:
        reply = httpx.post(server.url + "/pooling", json={"input": ids, "task": "token_classify"}).json()
        raw = httpx.post(server.url + "/pooling", json={"input": [ids], "task": "token_classify",
                                                        "use_activation": False}).json()
    rows = reply["data"][0]["data"]
    assert len(rows) == len(ids) and all(len(r) == 2 and sum(r) == pytest.approx(1.0) for r in rows)
    assert [rows[r][1] for r in reads] == pytest.approx(prm.score([sample])[0].steps, abs=1e-5)
    with torch.no_grad():
        logits = prm.model(input_ids=torch.tensor([ids])).logits[0]
    assert torch.allclose(torch.tensor(raw["data"][0]["data"]), logits, atol=1e-5)


def test_slime_remote_rm_gets_a_bare_number(server, rm):
    tok = rm.loaded.tokenizer
    templated = tok.apply_chat_template(CHAT, tokenize=False, add_generation_prompt=True)
    expected = local(rm, CHAT, " the answer is 4 .")
    for prompt in (CHAT, templated):  # slime sends messages, or the templated prompt (--apply-chat-template)
        reply = httpx.post(server.url + "/slime", json={"prompt": prompt, "response": " the answer is 4 .",
                                                       "label": "4"})
        assert reply.status_code == 200 and isinstance(reply.json(), float)
        assert reply.json() == pytest.approx(expected, abs=1e-5)
    plain = httpx.post(server.url + "/slime", json={"prompt": "what is 2 + 2 ?", "response": " 4", "label": None})
    assert plain.json() == pytest.approx(local(rm, "what is 2 + 2 ?", " 4"), abs=1e-5)


def verify_body(answer: str, expected: str) -> dict:
    """The body NeMo Gym's agents post to a resources server's /verify (BaseVerifyRequest + task fields)."""
    return {"responses_create_params": {"input": [{"role": "user", "content": "What is 2 + 2?"}]},
            "response": {"id": "resp_1", "created_at": 1.0, "model": "policy", "object": "response",
                         "output": [{"id": "rs_1", "type": "reasoning", "summary": []},
                                    {"id": "msg_1", "type": "message", "role": "assistant", "status": "completed",
                                     "content": [{"type": "output_text", "text": answer, "annotations": []}]}],
                         "parallel_tool_calls": False, "tool_choice": "none", "tools": []},
            "expected_answer": expected}


def test_nemo_gym_verify_echoes_the_request_with_the_reward():
    with ServerThread(create_app(load_reward("rule:math"), ServeConfig(spec="rule:math"))) as server:
        assert httpx.post(server.url + "/seed_session", json={}).json() == {}
        right = httpx.post(server.url + "/verify", json=verify_body("The answer is \\boxed{4}.", "4")).json()
        wrong = httpx.post(server.url + "/verify", json=verify_body("5", "4")).json()
        assert right["reward"] == 1.0 and wrong["reward"] == 0.0
        assert {k: v for k, v in right.items() if k != "reward"} == verify_body("The answer is \\boxed{4}.", "4")
        empty = verify_body("4", "4")
        empty["response"]["output"] = []
        refused = httpx.post(server.url + "/verify", json=empty)
        assert refused.status_code == 422 and "no assistant message" in refused.json()["message"]
        slime = httpx.post(server.url + "/slime", json={"prompt": "2 + 2?", "response": "\\boxed{4}", "label": 4})
        assert slime.json() == 1.0
