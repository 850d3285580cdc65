"""``rewardlab train prm --kind token|plusminus|scalar``: each kind trains, and ``process:OUT`` scores the
saved model with exactly the step values the training head computes (same layout, same arithmetic)."""

from __future__ import annotations

import math

import pytest
import torch

from rewardlab.rewards.base import load_reward
from rewardlab.testing import tiny_bert_classifier, tiny_llama
from rewardlab.train.prm import PRMConfig, PRMRecipe
from test_prm_train import world_file
from train_data import write_jsonl

RIGHT = ["the quick brown fox jumps .", "mix flour , water and salt .", "3 + 4 = 7 .", "the answer is 4 ."]
WRONG = ["the lazy dog cannot help .", "I cannot bake bread !", "7 * 2 = 15 ?", "the answer is 5 ?"]


def cue_file(path, n: int, seed: int):
    """Three-step solutions whose wrong steps come from a different phrase set: a signal a 100k-parameter
    model learns in a few epochs, so the test can check learning as well as scoring."""
    import random

    rng = random.Random(seed)
    rows = []
    for i in range(n):
        first_error = rng.choice([-1, 0, 1, 2])
        steps = [rng.choice(WRONG if t == first_error else RIGHT) for t in range(3)]
        rows.append({"prompt": f"question {i} :", "steps": steps, "first_error": first_error})
    return str(write_jsonl(path, rows))


@pytest.fixture(scope="module")
def llamas(tmp_path_factory):
    root = tmp_path_factory.mktemp("prm_kinds")
    return {"plain": str(tiny_llama(root / "plain")), "chat": str(tiny_llama(root / "chat", chat_template=True)),
            "bert": str(tiny_bert_classifier(root / "bert"))}


def _auroc(pos: list[float], neg: list[float]) -> float:
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


@pytest.mark.parametrize("kind,template", [("token", "plain"), ("plusminus", "plain"), ("plusminus", "chat"),
                                           ("scalar", "plain")])
def test_each_kind_trains_and_scores_through_process_as_trained(tmp_path, llamas, kind, template):
    data = cue_file(tmp_path / "train.jsonl", n=16, seed=5)
    cfg = PRMConfig(data=data, out=str(tmp_path / "out"), model=llamas[template], kind=kind, template=template,
                    epochs=12, batch_size=8, learning_rate=1e-2, log_every=2, progress=False)
    recipe = PRMRecipe(cfg)
    recipe.setup()
    recipe.train()
    record = recipe.save()
    losses = [h["loss"] for h in record["history"]]
    assert sum(losses[-3:]) / 3 < sum(losses[:3]) / 3

    # the training head's step logits on the training rows...
    readout = recipe.trainee.raw_model.eval()
    with torch.no_grad():
        trained = []
        for i, ids in enumerate(recipe.data.ids):
            reads = recipe.data.reads[i]
            z = readout(torch.tensor([ids]), torch.ones(1, len(ids), dtype=torch.long),
                        torch.zeros(len(reads), dtype=torch.long), torch.tensor(reads))
            trained.append(z.tolist())
    # ...equal what `process:OUT` reports for the same solutions (probabilities; scalar: the raw logit)
    reward = load_reward(f"process:{tmp_path / 'out'}")
    assert reward.kind.value == kind and reward.layout.template == template
    from rewardlab.data import load_steps

    records = load_steps(data)
    scores = reward.score([r.sample() for r in records])
    assert all(s.ok for s in scores)
    assert len(records) == len(trained)  # every record was trainable
    for s, z, record in zip(scores, trained, records):
        expected = z if kind == "scalar" else [1 / (1 + math.exp(-v)) for v in z]
        assert len(s.steps) == len(record.steps)  # unlabelled steps (after a first error) are scored too
        labelled = [v for v, q in zip(s.steps, record.step_labels()) if q is not None]
        assert labelled == pytest.approx(expected, abs=1e-5)

    # and it learned: right steps score above wrong ones on what it was trained on
    right = [v for s, r in zip(scores, records) for v, q in zip(s.steps, r.step_labels()) if q == 1.0]
    wrong = [v for s, r in zip(scores, records) for v, q in zip(s.steps, r.step_labels()) if q == 0.0]
    assert _auroc(right, wrong) > 0.75


def test_causal_kinds_refuse_an_encoder_backbone(tmp_path, llamas):
    data = world_file(tmp_path / "train.jsonl", n=2)
    for kind in ("scalar", "plusminus"):
        recipe = PRMRecipe(PRMConfig(data=data, out=str(tmp_path / kind), model=llamas["bert"], kind=kind,
                                     max_steps=1, progress=False))
        with pytest.raises(ValueError, match=f"kind={kind} needs a causal backbone"):
            recipe.setup()


def test_plus_and_minus_must_be_single_tokens(tmp_path, llamas):
    data = world_file(tmp_path / "train.jsonl", n=2)
    recipe = PRMRecipe(PRMConfig(data=data, out=str(tmp_path / "o"), model=llamas["plain"], kind="plusminus",
                                 plus="correct step", max_steps=1, progress=False))
    with pytest.raises(ValueError, match="--plus 'correct step' is .* tokens"):
        recipe.setup()
