"""``rewardlab train prm``: the loss arithmetic, soft labels kept as floats, last-step-only, an end-to-end
run whose output scores as ``process:OUT``, resume equal to an uninterrupted run, and LoRA."""

from __future__ import annotations

import json
import math
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from rewardlab.rewards.base import load_reward
from rewardlab.synth.corrupt import corrupt_solution
from rewardlab.synth.world import generate_problems
from rewardlab.testing import tiny_bert_classifier, tiny_llama
from rewardlab.train.prm import PRMConfig, PRMRecipe, main, prm_bce_loss, step_targets
from rewardlab.types import StepRecord


def sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def test_bce_loss_arithmetic_with_soft_targets():
    logits = torch.tensor([[0.0, 1.0], [2.0, 0.0]])  # z = correct - wrong = [1, -2]
    targets = torch.tensor([1.0, 0.3])
    first = -math.log(sigmoid(1.0))  # 0.3133
    second = -(0.3 * math.log(sigmoid(-2.0)) + 0.7 * math.log(1 - sigmoid(-2.0)))  # 0.7269
    assert prm_bce_loss(logits, targets).tolist() == pytest.approx([first, second], abs=1e-6)


def test_bce_equals_cross_entropy_for_hard_labels():
    logits = torch.randn(7, 2, generator=torch.Generator().manual_seed(0))
    hard = torch.tensor([1, 0, 1, 1, 0, 0, 1])
    ce = torch.nn.functional.cross_entropy(logits, hard)
    assert prm_bce_loss(logits, hard.float()).mean().item() == pytest.approx(ce.item(), abs=1e-6)


def test_step_targets_keep_soft_labels_and_apply_modes():
    soft = StepRecord(prompt="q", steps=("a", "b", "c"), labels=(0.7, 0.2, 0.0))
    assert step_targets(soft, "auto", False) == [0.7, 0.2, 0.0]  # not int(label) (TRL casts 0.7 to 0)
    assert step_targets(soft, "hard", False) == [1.0, 1.0, 0.0]  # Math-Shepherd hard: q > 0
    assert step_targets(soft, "auto", True) == [None, None, 0.0]
    gold = StepRecord(prompt="q", steps=("a", "b", "c"), first_error=1)
    assert step_targets(gold, "auto", False) == [1.0, 0.0, None]
    assert step_targets(gold, "auto", True) == [None, None, 0.0]  # a prefix with a wrong step is wrong
    assert step_targets(StepRecord("q", ("a", "b"), first_error=-1), "auto", True) == [None, 1.0]


def world_file(path, n=12, seed=3, soft=False):
    """Gold solutions (all steps right) and corruptions (known first wrong step) from the world."""
    rng = random.Random(seed)
    rows = []
    for p in generate_problems(n, seed=seed, difficulty="easy"):
        rows.append({"prompt": p.prompt, "steps": list(p.steps), "first_error": -1})
        c = corrupt_solution(p, "arithmetic", rng)
        if soft:
            labels = [0.9] * c.first_error + [0.1] + [0.0] * (len(c.steps) - c.first_error - 1)
            rows.append({"prompt": p.prompt, "steps": list(c.steps), "labels": labels})
        else:
            rows.append({"prompt": p.prompt, "steps": list(c.steps), "first_error": c.first_error})
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return str(path)


@pytest.fixture(scope="module")
def backbones(tmp_path_factory):
    root = tmp_path_factory.mktemp("prm_backbones")
    return {"llama": str(tiny_llama(root / "llama")), "bert": str(tiny_bert_classifier(root / "bert"))}


def test_training_lowers_the_loss_and_the_output_scores_as_process(tmp_path, backbones):
    data = world_file(tmp_path / "train.jsonl", n=8, soft=True)
    cfg = PRMConfig(data=data, out=str(tmp_path / "out"), model=backbones["llama"], epochs=5, batch_size=8,
                    learning_rate=3e-3, eval=data, log_every=1, progress=False)
    record = main(cfg)
    losses = [row["loss"] for row in record["history"]]
    assert len(losses) == 10 and sum(losses[-3:]) / 3 < sum(losses[:3]) / 3
    assert record["train_solutions"] == 16 and record["skipped"] == {}
    assert 0 <= record["eval"]["step_auroc"] <= 1 and record["eval"]["failed"] == 0
    reward = load_reward(f"process:{tmp_path / 'out'}")
    assert reward.kind.value == "token" and reward.layout.step_tag == "\n"
    sample = StepRecord("Question: 1 + 1?\nAnswer:\n", ("1 + 1 = 2. The answer is 2.",), first_error=-1).sample()
    assert reward.score([sample])[0].ok
    saved = json.loads((tmp_path / "out" / "rewardlab_train.json").read_text())
    assert saved["eval"] == pytest.approx(record["eval"], nan_ok=True)


def resumable_config(data, out, model, resume=False):
    return PRMConfig(data=data, out=str(out), model=model, epochs=8, batch_size=2, learning_rate=1e-3,
                     save_steps=4, save_total_limit=50, disable_dropout=False, resume=resume, progress=False)


KILLED_RUN = """
import sys
from tests.test_prm_train import resumable_config
from rewardlab.train.prm import main
main(resumable_config(*sys.argv[1:]))
"""


@pytest.mark.slow
def test_sigkill_then_resume_matches_an_uninterrupted_run(tmp_path, backbones):
    """A training process killed with SIGKILL after a checkpoint, resumed with --resume, ends with the
    same weights as an uninterrupted run. The BERT backbone keeps dropout on, so RNG state must be restored."""
    from safetensors.torch import load_file

    data = world_file(tmp_path / "train.jsonl", n=4)  # 8 solutions, 4 steps/epoch, 32 steps
    main(resumable_config(data, tmp_path / "whole", backbones["bert"]))
    broken = tmp_path / "broken"
    proc = subprocess.Popen([sys.executable, "-c", KILLED_RUN, data, str(broken), backbones["bert"]],
                            cwd=Path(__file__).resolve().parents[1])
    try:
        while not (broken / "checkpoints" / "step-4" / "state.json").exists():
            assert proc.poll() is None, "training ended before its first checkpoint"
            time.sleep(0.002)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert not (broken / "rewardlab_train.json").exists(), "the run finished before it was killed"
    resumed = main(resumable_config(data, broken, backbones["bert"], resume=True))
    assert 0 < resumed["steps_this_run"] < resumed["steps"] == 32
    whole, again = load_file(tmp_path / "whole" / "model.safetensors"), load_file(broken / "model.safetensors")
    assert whole.keys() == again.keys()
    for name, value in whole.items():
        assert torch.allclose(value, again[name], atol=1e-6), name


def test_lora_trains_adapters_and_saves_a_plain_model(tmp_path, backbones):
    from transformers import AutoModelForTokenClassification

    data = world_file(tmp_path / "train.jsonl", n=4)
    recipe = PRMRecipe(PRMConfig(data=data, out=str(tmp_path / "out"), model=backbones["llama"], lora=True,
                                 learning_rate=1e-2, max_steps=2, progress=False))
    recipe.setup()
    model = recipe.trainee.model
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n or "score" in n for n in trainable)
    frozen = {n: p.detach().clone() for n, p in model.named_parameters() if "embed_tokens" in n}
    lora_before = {n: p.detach().clone() for n, p in model.named_parameters() if "lora_B" in n}
    recipe.train()
    for n, p in model.named_parameters():
        if n in frozen:
            assert torch.equal(p, frozen[n])
        if n in lora_before:
            assert not torch.equal(p, lora_before[n])
    recipe.save()
    plain = AutoModelForTokenClassification.from_pretrained(tmp_path / "out")
    assert not any("lora" in n for n, _ in plain.named_parameters())
    assert load_reward(f"process:{tmp_path / 'out'}").score(
        [StepRecord("q", ("1 + 1 = 2.",), first_error=-1).sample()])[0].ok


def test_bad_config_fails_before_any_work():
    from rewardlab.train.config import ConfigError, build_config

    with pytest.raises(ConfigError, match="learning_rate"):
        build_config(PRMConfig, overrides={"data": "x", "out": "y", "learning_rate": 0})
    with pytest.raises(ConfigError, match="labels"):
        build_config(PRMConfig, overrides={"data": "x", "out": "y", "labels": "fuzzy"})
    with pytest.raises(ConfigError, match="chosen_key: pairwise settings"):
        build_config(PRMConfig, overrides={"data": "x", "out": "y", "chosen_key": "good"})
    with pytest.raises(ConfigError, match="truncate-right"):
        build_config(PRMConfig, overrides={"data": "x", "out": "y", "truncation": "truncate-right"})


def test_over_long_records_are_counted_or_refused(tmp_path, backbones):
    data = world_file(tmp_path / "train.jsonl", n=2)
    common = {"data": data, "model": backbones["llama"], "max_length": 30, "progress": False, "max_steps": 1}
    recipe = PRMRecipe(PRMConfig(out=str(tmp_path / "drop"), truncation="drop", **common))
    with pytest.raises(ValueError, match="no trainable record.*over max_length"):
        recipe.setup()
    with pytest.raises(ValueError, match=r"train.jsonl:1: \d+ tokens > max_length 30"):
        PRMRecipe(PRMConfig(out=str(tmp_path / "err"), truncation="error", **common)).setup()
