"""A training process SIGKILLed mid-run resumes from its last checkpoint and ends where an uninterrupted
run ends; checkpoints are written atomically."""

from __future__ import annotations

import sys

import pytest
import torch

from rewardlab.train import bt
from rewardlab.train.checkpoint import latest_checkpoint, list_checkpoints, load_checkpoint, save_checkpoint
from rewardlab.train.config import BTConfig, build_config
from train_data import arithmetic_pairs, assert_resumed_equals_reference, cli_flags, kill_after_checkpoint, write_jsonl


def _settings(data, model, out, **extra):
    return {"data": str(data), "model": str(model), "out": str(out), "batch_size": 4, "learning_rate": 2e-3,
            "max_steps": 60, "save_steps": 5, "log_every": 1, "progress": False, **extra}


@pytest.mark.slow
def test_sigkill_mid_run_then_resume_matches_uninterrupted(tmp_path, tiny_bert_dir):
    data = write_jsonl(tmp_path / "pairs.jsonl", arithmetic_pairs(96, seed=3))
    reference = bt.main(build_config(BTConfig, None, _settings(data, tiny_bert_dir, tmp_path / "ref")))

    killed = tmp_path / "killed"
    command = [sys.executable, "-m", "rewardlab.cli", "train", "bt", *cli_flags(_settings(data, tiny_bert_dir, killed))]
    step = kill_after_checkpoint(command, killed, 10)
    assert 10 <= step < 60

    resumed = bt.main(build_config(BTConfig, None, _settings(data, tiny_bert_dir, killed, resume=True)))
    assert_resumed_equals_reference(reference, resumed, tmp_path / "ref", killed, 60, step)


def test_checkpoint_round_trip_and_pruning(tmp_path):
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 2)
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: 1.0 / (1 + s))
    model(torch.ones(1, 4)).sum().backward()
    optimizer.step()
    scheduler.step()
    for step in (1, 2, 3):
        save_checkpoint(tmp_path, step, model, optimizer, scheduler, {"epoch": 0, "epoch_step": step}, keep=2)
    assert [p.name for p in list_checkpoints(tmp_path / "checkpoints")] == ["step-2", "step-3"]
    (tmp_path / "checkpoints" / ".tmp-step-4").mkdir()  # a write killed half-way is ignored
    (tmp_path / "checkpoints" / "step-9").mkdir()  # so is a folder without state.json
    assert latest_checkpoint(tmp_path).name == "step-3"
    expected_draw = torch.rand(3)  # the RNG continues from where the checkpoint was taken...
    saved_weight = model.weight.detach().clone()

    fresh = torch.nn.Linear(4, 2)
    opt2 = torch.optim.AdamW(fresh.parameters(), lr=0.1)
    sched2 = torch.optim.lr_scheduler.LambdaLR(opt2, lambda s: 1.0 / (1 + s))
    state = load_checkpoint(latest_checkpoint(tmp_path), fresh, opt2, sched2)
    assert state == {"epoch": 0, "epoch_step": 3, "step": 3}
    assert torch.equal(fresh.weight, saved_weight)
    assert opt2.state_dict()["state"][0]["step"] == optimizer.state_dict()["state"][0]["step"]
    assert sched2.last_epoch == scheduler.last_epoch
    assert torch.equal(torch.rand(3), expected_draw)  # ...after restoring it


def test_resume_refuses_changed_settings_and_missing_checkpoints(tmp_path, tiny_bert_dir):
    import shutil

    data = write_jsonl(tmp_path / "pairs.jsonl", arithmetic_pairs(24, seed=4))
    settings = _settings(data, tiny_bert_dir, tmp_path / "run", max_steps=4, save_steps=2)
    bt.main(build_config(BTConfig, None, settings))
    assert latest_checkpoint(tmp_path / "run").name == "step-2"
    with pytest.raises(ValueError, match=r"batch_size: 4 -> 8"):
        bt.main(build_config(BTConfig, None, {**settings, "resume": True, "batch_size": 8}))
    shutil.rmtree(tmp_path / "run" / "checkpoints")
    with pytest.raises(FileNotFoundError, match="no checkpoint to continue"):
        bt.main(build_config(BTConfig, None, {**settings, "resume": True}))
