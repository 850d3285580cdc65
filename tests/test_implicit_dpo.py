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
from rewardlab.train.dpo import DPOConfig, dpo_loss, train_dpo
from rewardlab.types import PairRecord


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
    config = DPOConfig(policy=str(start), output_dir=str(tmp_path / "dpo"), epochs=2, batch_size=16,
                       learning_rate=1e-2, beta=0.1)
    result = train_dpo(pairs, config)
    assert result.pairs_used == 16 and len(result.history) == 2
    assert result.history[-1]["loss"] < result.history[0]["loss"]
    record = json.loads((tmp_path / "dpo" / DPO_RECORD).read_text())
    assert record["reference"] == str(start.resolve()) and record["beta"] == 0.1
    reward = load_reward(f"implicit:policy={tmp_path / 'dpo'},cache=none")  # reference read from the record
    assert reward.options.ref == str(start.resolve())
    assert pairwise_accuracy(reward, pairs) >= 0.75
    with pytest.raises(FileExistsError):
        train_dpo(pairs, config)


def test_unknown_backend_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="backend"):
        train_dpo([], DPOConfig(policy="x", output_dir=str(tmp_path / "o"), backend="jax"))


@pytest.mark.slow
def test_trl_backend_trains_and_records(tmp_path):
    pytest.importorskip("trl")
    from rewardlab.testing import tiny_llama

    start = tiny_llama(tmp_path / "start")
    config = DPOConfig(policy=str(start), output_dir=str(tmp_path / "dpo"), epochs=1, batch_size=4,
                       backend="trl", device="cpu")
    result = train_dpo(arithmetic_pairs(8, seed=0), config)
    record = json.loads((tmp_path / "dpo" / DPO_RECORD).read_text())
    assert record["backend"] == "trl" and result.history
    scores = load_reward(f"implicit:policy={tmp_path / 'dpo'},cache=none").score(arithmetic_pairs(2, 1)[0].samples())
    assert all(s.ok for s in scores)
