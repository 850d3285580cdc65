"""``rewardlab train genrm``: a tiny Llama learns to say Yes/No, loads as ``judge:hf:OUT,protocol=genrm``,
resumes after SIGKILL exactly, and runs on 2 accelerate processes; bad rows are reported by file, line, field."""

from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import sys

import pytest
import torch

from rewardlab.data import DataError
from rewardlab.rewards.base import load_reward
from rewardlab.rewards.judge.protocols import make_protocol
from rewardlab.testing import tiny_llama
from rewardlab.train import genrm
from rewardlab.train.config import build_config
from rewardlab.train.genrm import GenRMConfig
from rewardlab.types import Sample
from train_data import (
    accelerate_command,
    assert_resumed_equals_reference,
    cli_flags,
    kill_after_checkpoint,
    write_jsonl,
)


def verdict_rows(n: int, seed: int = 0, critique: bool = False) -> list[dict]:
    """Separable toy: a worked sum is correct, a refusal is not (words of the tiny tokenizer's corpus)."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        a, b = rng.randint(2, 9), rng.randint(2, 9)
        ok = i % 2 == 0
        row = {"prompt": f"what is {a} + {b} ?", "label": "correct" if ok else "incorrect",
               "response": f"{a} + {b} = {a + b}. The answer is {a + b}." if ok else "I cannot help with that request."}
        if critique:
            row["critique"] = "the answer is right ." if ok else "that is a refusal ."
        rows.append(row)
    return rows


def _settings(data, model, out, **extra):
    return {"data": str(data), "model": str(model), "out": str(out), "batch_size": 8, "learning_rate": 3e-3,
            "max_steps": 16, "log_every": 1, "progress": False, **extra}


def _gap(spec: str, rows: list[dict]) -> float:
    """Mean reward of correct rows minus that of incorrect rows."""
    scores = load_reward(spec).score([Sample(r["prompt"], r["response"]) for r in rows])
    assert all(s.ok for s in scores)
    good = [s.value for s, r in zip(scores, rows) if r["label"] == "correct"]
    bad = [s.value for s, r in zip(scores, rows) if r["label"] != "correct"]
    return sum(good) / len(good) - sum(bad) / len(bad)


@pytest.mark.parametrize("chat", [False, True], ids=["plain", "chat-template"])
def test_p_correct_moves_the_right_way_on_a_separable_toy(tmp_path, chat):
    start = tiny_llama(tmp_path / "start", chat_template=chat)
    data = write_jsonl(tmp_path / "train.jsonl", verdict_rows(48, seed=1))
    held = verdict_rows(16, seed=2)
    write_jsonl(tmp_path / "held.jsonl", held)
    before = _gap(f"judge:hf:{start},protocol=genrm,mode=logprob", held)
    record = genrm.main(GenRMConfig(**_settings(data, start, tmp_path / "out", eval=str(tmp_path / "held.jsonl"))))
    assert record["reward"] == f"judge:hf:{(tmp_path / 'out').resolve()},protocol=genrm,mode=logprob"
    assert json.loads((tmp_path / "out" / "rewardlab_genrm.json").read_text())["reward"] == record["reward"]
    assert record["reward"] in (tmp_path / "out" / "README.md").read_text()
    after = _gap(record["reward"], held)
    assert after > before + 0.02 and after > 0.02, (before, after)
    assert record["eval"]["auroc"] > 0.9 and record["eval"]["failed"] == 0
    losses = [h["loss"] for h in record["history"]]
    assert losses[-1] < losses[0]


def test_loss_reads_only_the_target_tokens(tmp_path):
    """Changing a prompt token's prediction changes nothing; the target's NLL is what the loss averages."""
    logits = torch.randn(2, 6, 11, requires_grad=True)
    ids = torch.randint(0, 11, (2, 6))
    rows, starts = [ids[0].tolist(), ids[1, :4].tolist()], [4, 2]
    loss = genrm.target_losses(logits, ids, rows, starts)
    loss.sum().backward()
    touched = logits.grad.abs().sum(-1) > 0
    assert touched[0].tolist() == [False, False, False, True, True, False]  # predicts tokens 4 and 5
    assert touched[1].tolist() == [False, True, True, False, False, False]  # predicts tokens 2 and 3
    expected = -torch.log_softmax(logits[0, 3], -1)[ids[0, 4]] - torch.log_softmax(logits[0, 4], -1)[ids[0, 5]]
    assert loss[0].item() == pytest.approx(expected.item() / 2, rel=1e-5)


def test_critique_rows_train_critique_then_verdict_and_load_in_generate_mode(tmp_path):
    from rewardlab.engine.loading import load_tokenizer
    from rewardlab.train.genrmdata import encode_rows, load_verdict_rows

    start = tiny_llama(tmp_path / "start", max_positions=512)
    data = write_jsonl(tmp_path / "train.jsonl", verdict_rows(16, seed=3, critique=True))
    rows, _ = load_verdict_rows(str(data), {"prompt": "prompt", "response": "response", "label": "label",
                                            "critique": "critique"}, "error")
    tok = load_tokenizer(str(start))
    encoded = encode_rows(rows, tok, make_protocol("genrm", variant="critique"), 512, "error")
    for ids, begin, at, row in zip(encoded.ids, encoded.target_start, encoded.verdict_at, rows):
        target = tok.decode(ids[begin:])
        assert target.startswith("<think>\n" + row.critique) and at > begin
        assert tok.decode(ids[at:]).strip().startswith("Yes" if row.correct else "No")
    record = genrm.main(GenRMConfig(**_settings(data, start, tmp_path / "out", max_steps=2, eval_fraction=0.3)))
    assert record["variant"] == "critique" and record["reward"].endswith("protocol=genrm,variant=critique")
    reward = load_reward(record["reward"].replace("variant=critique", "variant=critique,max_tokens=24"))
    scores = reward.score([Sample("what is 2 + 2 ?", "2 + 2 = 4.")])
    assert len(scores) == 1  # an untrained tiny model's text may not parse: then a counted failure
    assert scores[0].ok or "expected YES or NO" in scores[0].error
    with pytest.raises(ValueError, match="no logprob mode"):
        load_reward(f"judge:hf:{tmp_path / 'out'},protocol=genrm,variant=critique,mode=logprob").score(
            [Sample("q", "a")])


def test_bad_rows_are_reported_by_file_line_and_field(tmp_path):
    rows = verdict_rows(4)
    rows[1] = {"prompt": "what is 1 + 1 ?", "label": True}
    rows[2]["label"] = "maybe"
    data = write_jsonl(tmp_path / "bad.jsonl", rows)
    settings = _settings(data, tmp_path / "no-model-needed", tmp_path / "out")
    with pytest.raises(DataError) as err:
        genrm.main(GenRMConfig(**settings))
    message = str(err.value)
    assert "bad.jsonl:line 2 field 'response'" in message and "missing key 'response'" in message
    assert "bad.jsonl:line 3 field 'label'" in message and "'maybe'" in message
    mixed = verdict_rows(4, critique=True)
    del mixed[3]["critique"]
    write_jsonl(tmp_path / "mixed.jsonl", mixed)
    with pytest.raises(DataError, match=r"mixed.jsonl:4"):
        genrm.main(GenRMConfig(**{**settings, "data": str(tmp_path / "mixed.jsonl")}))
    with pytest.raises(ValueError, match="pairwise settings do not apply"):
        GenRMConfig(**{**settings, "chosen_key": "good"})


def test_genrm_protocol_renders_and_reads_verdicts():
    protocol = make_protocol("genrm")
    messages = protocol.render("Question: Ann has 3 apples.\nAnswer:\n", ["3 + 1 = 4. The answer is 4."])
    assert messages == [{"role": "user", "content": "Question: Ann has 3 apples.\nAnswer:\n3 + 1 = 4. The answer is "
                                                    "4.\n\nIs the answer correct (Yes/No)?"}]
    assert protocol.from_probs({"Yes": 0.8, "No": 0.2}).values == [0.8]
    assert protocol.parse("Yes", 1).values == [1.0]
    assert protocol.parse("<think>step 2 is off</think>No", 1).values == [0.0]
    assert not protocol.parse("Yes and no", 1).ok
    with pytest.raises(ValueError, match="variant"):
        make_protocol("genrm", variant="long")


def _kill_settings(data, model, out, **extra):
    return _settings(data, model, out, batch_size=4, max_steps=40, save_steps=5, **extra)


@pytest.mark.slow
def test_sigkill_mid_run_then_resume_matches_uninterrupted(tmp_path):
    start = tiny_llama(tmp_path / "start")
    data = write_jsonl(tmp_path / "train.jsonl", verdict_rows(48, seed=4))
    reference = genrm.main(build_config(GenRMConfig, None, _kill_settings(data, start, tmp_path / "ref")))
    killed = tmp_path / "killed"
    command = [sys.executable, "-m", "rewardlab.cli", "train", "genrm", *cli_flags(_kill_settings(data, start, killed))]
    step = kill_after_checkpoint(command, killed, 10)
    assert 10 <= step < 40
    resumed = genrm.main(build_config(GenRMConfig, None, _kill_settings(data, start, killed, resume=True)))
    assert_resumed_equals_reference(reference, resumed, tmp_path / "ref", killed, 40, step)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_two_processes_match_the_single_process_loss_curve(tmp_path):
    pytest.importorskip("accelerate")
    start = tiny_llama(tmp_path / "start")
    data = write_jsonl(tmp_path / "train.jsonl", verdict_rows(40, seed=5))
    settings = _settings(data, start, tmp_path / "one", batch_size=7, max_steps=6)  # 4 + 3 rows per process
    single = genrm.main(GenRMConfig(**settings))
    two = {**settings, "out": str(tmp_path / "two")}
    command = accelerate_command(_free_port(), "train", "genrm", *cli_flags(two))
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": "1"}
    run = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    record = json.loads((tmp_path / "two" / "rewardlab_train.json").read_text())
    assert record["processes"] == 2 and single["processes"] == 1
    two_losses, one_losses = [h["loss"] for h in record["history"]], [h["loss"] for h in single["history"]]
    assert len(two_losses) == len(one_losses) == 6
    assert two_losses == pytest.approx(one_losses, abs=1e-4)
    assert one_losses[-1] < one_losses[0]
