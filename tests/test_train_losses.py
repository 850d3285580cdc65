"""Training losses, head readouts and metrics, with the arithmetic written out."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from rewardlab.rewards.heads import aggregate, readout
from rewardlab.train.losses import (
    bradley_terry_loss,
    expected_rating,
    ordinal_pair_loss,
    ordinal_preference_probability,
    poisson_bootstrap_weights,
    region_flooding_loss,
    regression_loss,
)
from rewardlab.train.records import pairwise_accuracy


def test_bradley_terry_loss_by_hand():
    chosen, rejected = torch.tensor([2.0, 0.0]), torch.tensor([1.0, 3.0])
    # -log sigma(x) = log(1 + e^-x): x = 1 and x = -3
    expected = [math.log(1 + math.exp(-1)), math.log(1 + math.exp(3))]
    assert bradley_terry_loss(chosen, rejected).tolist() == pytest.approx(expected, abs=1e-6)
    # margin m shifts x: x = 1 - 0.5 and -3 - 1
    margin = torch.tensor([0.5, 1.0])
    expected_m = [math.log(1 + math.exp(-0.5)), math.log(1 + math.exp(4))]
    assert bradley_terry_loss(chosen, rejected, margin).tolist() == pytest.approx(expected_m, abs=1e-6)
    # centering adds lambda * (r_c + r_r)^2 = 0.01 * 9 and 0.01 * 9
    centred = bradley_terry_loss(chosen, rejected, center_coef=0.01)
    assert centred.tolist() == pytest.approx([expected[0] + 0.09, expected[1] + 0.09], abs=1e-6)


def test_bradley_terry_mean_equals_trl_formula_and_is_stable():
    chosen, rejected = torch.randn(16, generator=torch.Generator().manual_seed(0)), torch.zeros(16)
    ours = bradley_terry_loss(chosen, rejected, center_coef=0.01).mean()
    trl = -torch.nn.functional.logsigmoid(chosen - rejected).mean() + 0.01 * torch.mean((chosen + rejected) ** 2)
    assert float(ours) == pytest.approx(float(trl), abs=1e-6)
    huge = bradley_terry_loss(torch.tensor([-200.0]), torch.tensor([200.0]))
    assert float(huge) == pytest.approx(400.0) and math.isfinite(float(huge))


def test_bradley_terry_heads_broadcast_margin():
    chosen = torch.tensor([[1.0, 2.0]])
    rejected = torch.tensor([[0.0, 0.0]])
    loss = bradley_terry_loss(chosen, rejected, torch.tensor([1.0]))
    assert loss.tolist()[0] == pytest.approx([math.log(2), math.log(1 + math.exp(-1))], abs=1e-6)


def test_regression_loss_masks_unrated_attributes():
    predicted = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    target = torch.tensor([[0.0, 2.0], [3.0, 1.0]])
    mask = torch.tensor([[1.0, 1.0], [1.0, 0.0]])
    # row 0: (1-0)^2 + (2-2)^2 = 1; row 1: (3-3)^2 + masked = 0
    assert regression_loss(predicted, target, mask).tolist() == [1.0, 0.0]
    assert regression_loss(predicted, target).tolist() == [1.0, 9.0]


def test_ordinal_preference_probability_by_hand():
    p_a, p_b = torch.tensor([[0.2, 0.8]]), torch.tensor([[0.6, 0.4]])
    # P(a > b) = p_a(2) p_b(1) + 1/2 [p_a(1) p_b(1) + p_a(2) p_b(2)] = 0.48 + 0.5 * (0.12 + 0.32) = 0.70
    prob = ordinal_preference_probability(p_a.log(), p_b.log())
    assert float(prob) == pytest.approx(0.70, abs=1e-6)
    reverse = ordinal_preference_probability(p_b.log(), p_a.log())
    assert float(prob + reverse) == pytest.approx(1.0, abs=1e-6)  # ties are split, so the two sum to 1
    assert float(ordinal_pair_loss(p_a.log(), p_b.log())) == pytest.approx(-math.log(0.70), abs=1e-6)


def test_expected_rating_and_flooding_by_hand():
    logits = torch.tensor([[0.2, 0.8]]).log()
    assert float(expected_rating(logits)) == pytest.approx(1 * 0.2 + 2 * 0.8)
    probs = torch.tensor([[0.1, 0.2, 0.7], [0.1, 0.2, 0.7]])
    flood = region_flooding_loss(probs.log(), torch.tensor([2, 0]), torch.tensor([3, 0]))
    assert flood.tolist() == pytest.approx([-math.log(0.9), 0.0], abs=1e-6)  # row 2 has no rating


def test_ensemble_aggregates_by_hand():
    values = np.array([[1.0, 3.0], [2.0, 2.0]])
    assert aggregate(values, "mean").tolist() == [2.0, 2.0]
    assert aggregate(values, "min").tolist() == [1.0, 2.0]
    assert aggregate(values, "mean_minus_std", k=1.0).tolist() == [1.0, 2.0]  # std of [1, 3] is 1
    assert aggregate(values, "mean_minus_std", k=2.0).tolist() == [0.0, 2.0]
    with pytest.raises(ValueError, match="unknown ensemble aggregate"):
        aggregate(values, "median")


def test_readout_kinds():
    logits = np.array([[1.0, 3.0]])
    value, comps = readout(logits, {"kind": "ensemble", "aggregate": "min"}, ["head_0", "head_1"])
    assert value.tolist() == [1.0] and comps[0] == {"head_0": 1.0, "head_1": 3.0, "mean": 2.0, "std": 1.0}
    value, comps = readout(np.log([[0.2, 0.8]]), {"kind": "ordinal"}, ["r1", "r2"])
    assert value[0] == pytest.approx(1.8)
    assert comps[0]["uncertainty"] == pytest.approx(0.2 * 1 + 0.8 * 4 - 1.8**2)  # E[k^2] - E[k]^2 = 0.16
    value, comps = readout(logits, None, ["helpful", "safe"])  # no spec: the old multi-head reading
    assert value.tolist() == [2.0] and comps[0] == {"helpful": 1.0, "safe": 3.0}
    assert readout(np.array([[0.5]]), None, ["reward"])[0].tolist() == [0.5]


def test_run_record_accuracy_counts_ties_as_wrong():
    result = pairwise_accuracy([2.0, 1.0, 0.0], [1.0, 1.0, 3.0])  # one win, one tie, one loss
    assert result["accuracy"] == pytest.approx(1 / 3) and result["ties"] == 1 and result["pairs"] == 3
    assert result["half_credit_accuracy"] == pytest.approx(1.5 / 3)
    assert result["ci_low"] <= result["accuracy"] <= result["ci_high"]


def test_poisson_bootstrap_weights_are_seeded_counts():
    a = poisson_bootstrap_weights(1000, 3, torch.Generator().manual_seed(0))
    b = poisson_bootstrap_weights(1000, 3, torch.Generator().manual_seed(0))
    assert torch.equal(a, b) and a.shape == (1000, 3)
    assert float(a.mean()) == pytest.approx(1.0, abs=0.1)  # Poisson(1): mean 1
    assert torch.equal(a, a.round()) and float(a.min()) == 0.0
