"""DPO training for implicit rewards: the sigmoid loss by hand, a short real run that learns the training
pairs, and the saved record that makes ``implicit:policy=OUT`` use the right reference."""

from __future__ import annotations

import json
import math
import random

import pytest
import torch

from rewardlab import load_reward
from rewardlab.rewards.implicit import DPO_RECORD
from rewardlab.train import dpo
from rewardlab.train.config import ConfigError, build_config
from rewardlab.train.dpo import DPOConfig, dpo_loss
from rewardlab.types import PairRecord
from train_data import write_jsonl


def test_dpo_loss_by_hand():
    # beta=0.5: chosen reward 0.5*(-1 - -1.5) = 0.25, rejected 0.5*(-2 - -1.5) = -0.25, z = 0.5
    loss, rc, rr = dpo_loss(torch.tensor([-1.0]), torch.tensor([-2.0]), torch.tensor([-1.5]),
                            torch.tensor([-1.5]), beta=0.5)
    assert rc.item() == pytest.approx(0.25) and rr.item() == pytest.approx(-0.25)
    assert loss.item() == pytest.approx(math.log(1 + math.exp(-0.5)))  # -log sigmoid(0.5) = 0.474077
    smoothed, _, _ = dpo_loss(torch.tensor([-1.0]), torch.tensor([-2.0]), torch.tensor([-1.5]),
                              torch.tensor([-1.5]), beta=0.5, label_smoothing=0.1)
    expected = 0.9 * math.log(1 + math.exp(-0.5)) + 0.1 * math.log(1 + math.exp(0.5))
    assert smoothed.item() == pytest.approx(expected)
    # equal policy and reference: z = 0, loss = log 2 whatever the log-probs
    zero, _, _ = dpo_loss(torch.tensor([-3.0]), torch.tensor([-7.0]), torch.tensor([-3.0]),
                          torch.tensor([-7.0]), beta=0.1)
    assert zero.item() == pytest.approx(math.log(2))


def pairs_file(path, pairs: list[PairRecord]):
    return write_jsonl(path, [{"prompt": p.prompt, "chosen": p.chosen, "rejected": p.rejected} for p in pairs])


def arithmetic_pairs(n: int, seed: int) -> list[PairRecord]:
    rng = random.Random(seed)
    pairs = []
    for _ in range(n):
        a, b = rng.randint(0, 9), rng.randint(0, 9)
        wrong = a + b + rng.choice([-2, -1, 1, 2])
        pairs.append(PairRecord(f"what is {a} + {b} ?", f" the answer is {a + b} .", f" the answer is {wrong} ."))
    return pairs


def pairwise_accuracy(reward, pairs: list[PairRecord]) -> float:
    scores = reward.score([s for p in pairs for s in p.samples()])
    return sum(scores[2 * i].value > scores[2 * i + 1].value for i in range(len(pairs))) / len(pairs)


def test_dpo_run_learns_its_pairs_and_records_its_reference(tmp_path):
    from rewardlab.testing import tiny_llama

    start = tiny_llama(tmp_path / "start")
    pairs = arithmetic_pairs(16, seed=0)
    untrained = load_reward(f"implicit:policy={start},ref={start},cache=none")
    assert all(s.value == 0.0 for s in untrained.score(pairs[0].samples()))  # pi == ref: reward exactly 0
    config = DPOConfig(data=str(pairs_file(tmp_path / "pairs.jsonl", pairs)), model=str(start),
                       out=str(tmp_path / "dpo"), epochs=4, batch_size=8, learning_rate=1e-2, beta=0.1,
                       log_every=2, progress=False)
    record = dpo.main(config)
    assert record["train_pairs"] == 16 and record["steps"] == 8 and len(record["history"]) == 4
    assert record["history"][-1]["loss"] < record["history"][0]["loss"]
    assert record["history"][0]["loss"] == pytest.approx(math.log(2), abs=0.05)  # pi starts as ref: z ~ 0
    saved = json.loads((tmp_path / "dpo" / DPO_RECORD).read_text())
    assert saved["reference"] == str(start.resolve()) and saved["beta"] == 0.1 and saved["recipe"] == "dpo"
    reward = load_reward(f"implicit:policy={tmp_path / 'dpo'},cache=none")  # reference read from the record
    assert reward.options.ref == str(start.resolve())
    assert pairwise_accuracy(reward, pairs) >= 0.75
    with pytest.raises(FileExistsError):
        dpo.main(config)


def test_held_out_pairs_are_scored_through_the_implicit_reward(tmp_path):
    from rewardlab.testing import tiny_llama

    start = tiny_llama(tmp_path / "start")
    data = pairs_file(tmp_path / "train.jsonl", arithmetic_pairs(12, seed=3))
    held = pairs_file(tmp_path / "held.jsonl", arithmetic_pairs(6, seed=4))
    record = dpo.main(DPOConfig(data=str(data), eval=str(held), model=str(start), out=str(tmp_path / "dpo"),
                                max_steps=3, batch_size=4, learning_rate=1e-2, progress=False))
    assert record["eval"]["pairs"] == 6 and record["eval"]["failed"] == 0 and record["eval"]["on"] == "eval"
    reward = load_reward(f"implicit:policy={tmp_path / 'dpo'},cache=none")
    expected = pairwise_accuracy(reward, arithmetic_pairs(6, seed=4))
    assert record["eval"]["accuracy"] == pytest.approx(expected)


def test_config_rejects_what_does_not_apply(tmp_path):
    with pytest.raises(ConfigError, match="backend"):
        build_config(DPOConfig, None, {"data": "d", "model": "m", "out": str(tmp_path), "backend": "jax"})
    with pytest.raises(ConfigError, match="inputs"):
        build_config(DPOConfig, None, {"data": "d", "model": "m", "out": str(tmp_path), "inputs": "concat"})
    with pytest.raises(ConfigError, match="did you mean 'beta'"):
        build_config(DPOConfig, None, {"data": "d", "model": "m", "out": str(tmp_path), "betta": 0.2})


@pytest.mark.slow
def test_trl_backend_trains_and_records(tmp_path):
    pytest.importorskip("trl")
    from rewardlab.testing import tiny_llama

    start = tiny_llama(tmp_path / "start")
    config = DPOConfig(data=str(pairs_file(tmp_path / "pairs.jsonl", arithmetic_pairs(8, seed=0))),
                       model=str(start), out=str(tmp_path / "dpo"), epochs=1, batch_size=4, backend="trl",
                       device="cpu", progress=False)
    record = dpo.main(config)
    saved = json.loads((tmp_path / "dpo" / DPO_RECORD).read_text())
    assert saved["backend"] == "trl" and record["history"]
    scores = load_reward(f"implicit:policy={tmp_path / 'dpo'},cache=none").score(arithmetic_pairs(2, 1)[0].samples())
    assert all(s.ok for s in scores)


def test_lora_dpo_saves_a_plain_policy_that_scores(tmp_path):
    from transformers import AutoModelForCausalLM

    from rewardlab.testing import tiny_llama

    start = tiny_llama(tmp_path / "start")
    record = dpo.main(DPOConfig(data=str(pairs_file(tmp_path / "pairs.jsonl", arithmetic_pairs(8, seed=5))),
                                model=str(start), out=str(tmp_path / "dpo"), lora=True, max_steps=2, batch_size=4,
                                learning_rate=1e-2, progress=False))
    assert record["steps"] == 2
    plain = AutoModelForCausalLM.from_pretrained(tmp_path / "dpo")
    assert not any("lora" in name for name, _ in plain.named_parameters())
    scores = load_reward(f"implicit:policy={tmp_path / 'dpo'},cache=none").score(arithmetic_pairs(1, 6)[0].samples())
    assert all(s.ok and s.value != 0.0 for s in scores)  # the adapters moved the policy away from its reference
