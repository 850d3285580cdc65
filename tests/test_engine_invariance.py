"""Scores must not depend on batch size or input order (reward-bench issue #137 is this bug)."""

import random

import numpy as np
import pytest

from rewardlab import Sample
from rewardlab.engine.forward import BatchSettings
from rewardlab.rewards.classifier import ClassifierOptions, ClassifierReward


def _samples(n: int = 64) -> list[Sample]:
    rng = random.Random(7)
    words = "the reward model should prefer helpful honest and harmless answers over evasive ones".split()
    out = []
    for i in range(n):
        prompt = " ".join(rng.choices(words, k=rng.randint(3, 40)))
        response = " ".join(rng.choices(words, k=rng.randint(1, 90)))
        out.append(Sample(f"Q{i}: {prompt}", response))
    return out


@pytest.mark.parametrize("model", ["minilm", "tiny_llama"])
def test_scores_invariant_to_batch_size_and_order(model, tiny_llama_rm_dir):
    path = "minilm" if model == "minilm" else str(tiny_llama_rm_dir)
    samples = _samples()
    reference = None
    for max_batch in (1, 7, 64):
        reward = ClassifierReward(path, ClassifierOptions(batch=BatchSettings(100_000, max_batch)))
        values = np.array([s.value for s in reward.score(samples)])
        if reference is None:
            reference = values
        np.testing.assert_allclose(values, reference, atol=1e-5, rtol=0)
    order = list(range(len(samples)))
    random.Random(3).shuffle(order)
    shuffled = reward.score([samples[i] for i in order])
    np.testing.assert_allclose([s.value for s in shuffled], reference[order], atol=1e-5, rtol=0)
    assert np.std(reference) > 0  # the scores really vary, so the comparison means something
