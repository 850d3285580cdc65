"""``vllm:`` and ``sglang:`` reward families against STAND-IN servers (tests/standin_inference_servers.py:
real FastAPI apps on loopback implementing vLLM's and SGLang's documented schemas, with real tiny models
behind them; vLLM and SGLang themselves cannot run on this CPU machine, bench/gpu_checks.sh checks them).

The contract: a model served behind either server scores exactly as the same model scores locally
(``classifier:`` / ``process:``), because the client sends the reward model's own token ids and asks for
raw outputs (vLLM ``use_activation: false``; SGLang embeddings, not its softmaxing /v1/classify).
"""

from __future__ import annotations

import math

import httpx
import pytest
import torch

from rewardlab import load_reward
from rewardlab.serve.client import RemoteRewardError
from rewardlab.serve.server import ServerThread
from rewardlab.testing import tiny_llama
from rewardlab.types import Sample
from standin_inference_servers import sglang_standin, vllm_standin

SAMPLES = [
    Sample("what is 2 + 2 ?", " the answer is 4 ."),
    Sample("what is 2 + 2 ?", " the answer is 5 ."),
    Sample([{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}], "hello !"),
    Sample("mix flour and water", " then bake the bread ."),
    Sample("the quick brown fox", " jumps over the lazy dog ."),
]
STEPS = [Sample("what is 3 + 4 ?", "", steps=("3 + 4 = 7 .", "the answer is 7 .")),
         Sample("what is 7 * 2 ?", "7 * 2 = 15 .\n\nthe answer is 15 ."),
         Sample("q", "", steps=("one step",))]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    root = tmp_path_factory.mktemp("served")
    lm = tiny_llama(root / "lm", chat_template=True, seed=4)
    prm = root / "prm"
    torch.manual_seed(5)
    AutoModelForTokenClassification.from_pretrained(lm, num_labels=2).save_pretrained(prm)
    AutoTokenizer.from_pretrained(lm).save_pretrained(prm)
    return {"rm": tiny_llama(root / "rm", classifier=True, chat_template=True, seed=3),
            "multi": tiny_llama(root / "multi", classifier=True, num_labels=3, seed=6), "prm": prm, "lm": lm}


@pytest.fixture(scope="module")
def vllm(models):
    with ServerThread(vllm_standin(models["rm"], models["prm"])) as server:
        yield server


@pytest.fixture(scope="module")
def sglang(models):
    with ServerThread(sglang_standin(models["rm"], models["lm"])) as server:
        yield server


def _requests(server, path):
    return [body for p, body in server.app.state.requests if p == path]


def test_vllm_classify_gives_the_local_rewards_not_their_sigmoid(vllm, models):
    local = [s.value for s in load_reward(f"classifier:{models['rm']}").score(SAMPLES)]
    before = len(_requests(vllm, "/classify"))
    reward = load_reward(f"vllm:{vllm.url},model=rm,tokenizer={models['rm']},batch_size=2")
    assert reward.name == f"vllm:{vllm.url}"
    assert [s.value for s in reward.score(SAMPLES)] == pytest.approx(local, abs=1e-5)
    sent = _requests(vllm, "/classify")[before:]
    assert len(sent) == 3  # 5 samples in batches of 2
    assert all(b["use_activation"] is False and b["model"] == "rm" for b in sent)
    assert all(isinstance(ids, list) and all(isinstance(t, int) for t in ids) for b in sent for ids in b["input"])
    # the trap the client avoids: vLLM's default activation turns each reward r into sigmoid(r)
    raw = httpx.post(vllm.url + "/classify", json={**sent[0]}).json()["data"]
    default = httpx.post(vllm.url + "/classify", json={"model": "rm", "input": sent[0]["input"]}).json()["data"]
    assert all(any(abs(d["probs"][0] - v) < 1e-5 for v in local) for d in raw)  # raw = the local rewards
    assert [d["probs"][0] for d in default] == pytest.approx([1 / (1 + math.exp(-d["probs"][0])) for d in raw])


def test_vllm_multi_label_heads_are_components_as_locally(vllm, models):
    with ServerThread(vllm_standin(models["multi"], models["prm"])) as server:
        served = load_reward(f"vllm:{server.url},tokenizer={models['multi']}").score(SAMPLES[:3])
    local = load_reward(f"classifier:{models['multi']}").score(SAMPLES[:3])
    for s, ref in zip(served, local):
        assert s.value == pytest.approx(ref.value, abs=1e-5) and len(s.components) == 3
        assert s.components == pytest.approx(ref.components, abs=1e-5)


def test_vllm_token_classify_prm_gives_the_local_process_steps(vllm, models):
    local = load_reward(f"process:{models['prm']}").score(STEPS)
    reward = load_reward(f"vllm:{vllm.url},tokenizer={models['prm']},task=token_classify,agg=min")
    served = reward.score(STEPS)
    for s, ref in zip(served, local):
        assert s.ok and len(s.steps) == len(ref.steps)
        assert s.steps == pytest.approx(ref.steps, abs=1e-5) and s.value == pytest.approx(ref.value, abs=1e-5)
    body = _requests(vllm, "/pooling")[-1]
    assert body["task"] == "token_classify" and body["use_activation"] is False and "model" not in body
    assert reward.score([Sample("q", "  ")])[0].error == "no steps to score (empty response)"


def test_sglang_embeddings_give_the_local_rewards(sglang, models):
    local = [s.value for s in load_reward(f"classifier:{models['rm']}").score(SAMPLES)]
    reward = load_reward(f"sglang:{sglang.url},tokenizer={models['rm']},batch_size=4")
    assert [s.value for s in reward.score(SAMPLES)] == pytest.approx(local, abs=1e-5)
    assert len(_requests(sglang, "/v1/embeddings")) == 2


def test_sglang_classify_is_refused_because_it_softmaxes_one_logit_to_one(sglang, models):
    ids = [[1, 20, 30, 40]]
    reply = httpx.post(sglang.url + "/v1/classify", json={"input": ids}).json()
    assert reply["data"][0]["probs"] == [1.0]  # what a one-label reward model gets from /v1/classify
    with pytest.raises(ValueError, match="softmaxes"):
        load_reward(f"sglang:{sglang.url},tokenizer={models['rm']},task=classify")


def test_sglang_score_is_the_yes_no_probability_of_the_next_token(sglang, models):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    spec = f"sglang:{sglang.url},tokenizer={models['lm']},task=score,yes=+,no=-,question=is\\sit\\sright?"
    reward = load_reward(spec)
    before = len(_requests(sglang, "/v1/score"))
    served = reward.score(SAMPLES[:3])
    sent = _requests(sglang, "/v1/score")[before:]
    assert len(sent) == 2  # the two answers to one prompt share a request and its query prefix
    shared = [b for b in sent if len(b["items"]) == 2]  # (requests run concurrently: any order)
    assert len(shared) == 1 and len(shared[0]["query"]) > 0 and all(b["apply_softmax"] is True for b in sent)

    tok, lm = AutoTokenizer.from_pretrained(models["lm"]), AutoModelForCausalLM.from_pretrained(models["lm"]).eval()
    yes, no = tok("+", add_special_tokens=False)["input_ids"][0], tok("-", add_special_tokens=False)["input_ids"][0]
    for sample, score in zip(SAMPLES[:3], served):
        messages = ([{"role": "user", "content": sample.prompt}] if isinstance(sample.prompt, str)
                    else list(sample.prompt)) + [{"role": "assistant", "content": sample.response},
                                                 {"role": "user", "content": "is it right?"}]
        text = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        with torch.no_grad():
            last = lm(input_ids=torch.tensor([tok(text, add_special_tokens=False)["input_ids"]])).logits[0, -1]
        expected = torch.softmax(last[[yes, no]], -1)[0].item()
        assert score.value == pytest.approx(expected, abs=1e-5)
        assert score.components["p_yes"] + score.components["p_no"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="yes='Yes' is .* tokens"):
        load_reward(f"sglang:{sglang.url},tokenizer={models['lm']},task=score")


def test_errors_name_the_problem(vllm, models):
    with pytest.raises(RemoteRewardError, match="does not exist"):
        load_reward(f"vllm:{vllm.url},model=other,tokenizer={models['rm']},retries=0").score(SAMPLES[:1])
    with pytest.raises(ValueError, match="unknown vllm option"):
        load_reward(f"vllm:{vllm.url},tokenizer={models['rm']},use_activation=true")
    with pytest.raises(ValueError, match="apply to task=token_classify"):
        load_reward(f"vllm:{vllm.url},tokenizer={models['rm']},agg=min")
    with pytest.raises(PermissionError, match="not allowed"):
        load_reward(f"vllm:{vllm.url},tokenizer={models['rm']},api_key_env=AWS_SECRET_ACCESS_KEY")
    with pytest.raises(RemoteRewardError, match="failed after 2 attempts"):
        load_reward(f"vllm:http://127.0.0.1:9,tokenizer={models['rm']},retries=1,backoff=0").score(SAMPLES[:1])
