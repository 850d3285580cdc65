"""End-to-end recipes on a tiny real BERT: trained models load in plain transformers and as classifier:DIR."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from rewardlab import load_reward
from rewardlab.data import load_pairs
from rewardlab.scoring import score_pairs
from rewardlab.train import bt, ordinal, regression
from rewardlab.train.config import BTConfig, OrdinalConfig, RegressionConfig
from train_data import arithmetic_pairs, write_jsonl

FAST = {"progress": False, "learning_rate": 3e-3, "batch_size": 8}


@pytest.fixture(scope="module")
def pair_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pairs")
    rows = arithmetic_pairs(80, seed=1)
    return write_jsonl(folder / "train.jsonl", rows[:64]), write_jsonl(folder / "eval.jsonl", rows[64:])


def test_bt_trains_saves_and_scores_the_same_through_classifier(tmp_path, tiny_bert_dir, pair_files):
    from transformers import AutoModelForSequenceClassification

    train, held = pair_files
    out = tmp_path / "rm"
    record = bt.main(BTConfig(data=str(train), eval=str(held), out=str(out), model=str(tiny_bert_dir), epochs=3,
                              **FAST))
    assert record["eval"]["pairs"] == 16 and record["train_pairs"] == 64 and record["steps"] == 24
    assert record["eval"]["accuracy"] >= 0.9, record["eval"]  # the rejected side's wording is learnable

    plain = AutoModelForSequenceClassification.from_pretrained(out)  # no rewardlab code needed
    assert plain.config.num_labels == 1 and plain.config.rewardlab_head == {"kind": "scalar"}
    assert plain.config.reward_mean == pytest.approx(record["reward_mean"])
    assert json.loads((out / "rewardlab_train.json").read_text())["eval"] == record["eval"]

    pairs = load_pairs(held)
    chosen, rejected, _ = score_pairs(load_reward(f"classifier:{out}"), pairs, show_progress=False)
    values = np.array([s.value for s in chosen + rejected])
    assert values.mean() == pytest.approx(record["reward_mean"], abs=1e-5)  # same tokens, same readout
    accuracy = np.mean([c.value > r.value for c, r in zip(chosen, rejected)])
    assert accuracy == pytest.approx(record["eval"]["accuracy"])
    normalized = load_reward(f"classifier:{out},normalize=true").score([s for p in pairs for s in p.samples()])
    z = np.array([s.value for s in normalized])
    assert abs(z.mean()) < 1e-4 and z.std() == pytest.approx(1.0, abs=1e-3)


def test_bt_lora_saves_a_merged_plain_model(tmp_path, tiny_bert_dir, pair_files):
    from safetensors.torch import load_file

    out = tmp_path / "lora"
    record = bt.main(BTConfig(data=str(pair_files[0]), out=str(out), model=str(tiny_bert_dir), max_steps=3,
                              lora=True, lora_r=4, **FAST))
    assert record["steps"] == 3
    assert not list(out.glob("adapter_*")), "LoRA must be merged into the saved weights"
    trained, base = load_file(out / "model.safetensors"), load_file(tiny_bert_dir / "model.safetensors")
    query = "bert.encoder.layer.0.attention.self.query.weight"
    assert not torch.allclose(trained[query], base[query])  # the adapter was merged in
    key = "bert.encoder.layer.0.attention.self.key.weight"
    assert torch.equal(trained[key], base[key])  # not a LoRA target: untouched
    assert not any("lora" in k for k in trained)


def test_bt_ensemble_heads_aggregate_as_configured(tmp_path, tiny_bert_dir, pair_files):
    from transformers import AutoConfig

    out = tmp_path / "ens"
    bt.main(BTConfig(data=str(pair_files[0]), eval=str(pair_files[1]), out=str(out), model=str(tiny_bert_dir),
                     max_steps=4, heads=3, aggregate="min", **FAST))
    config = AutoConfig.from_pretrained(out)
    assert config.num_labels == 3 and config.rewardlab_head == {"kind": "ensemble", "aggregate": "min", "k": 1.0}
    assert list(config.id2label.values()) == ["head_0", "head_1", "head_2"]
    scores = load_reward(f"classifier:{out}").score(load_pairs(pair_files[1])[0].samples())
    members = {k: scores[0].components[k] for k in ("head_0", "head_1", "head_2")}  # members are reported
    assert set(scores[0].components) == {*members, "mean", "std"}
    assert scores[0].value == pytest.approx(min(members.values()))  # aggregate=min, as configured


def test_regression_heads_are_named_score_components(tmp_path, tiny_bert_dir):
    rows = [{"prompt": f"q{i}", "response": ("a careful answer" if i % 2 else "lazy"), "helpfulness": 4 * (i % 2),
             "verbosity": None if i % 3 == 0 else 1.0} for i in range(24)]
    out = tmp_path / "reg"
    record = regression.main(RegressionConfig(data=str(write_jsonl(tmp_path / "r.jsonl", rows)), out=str(out),
                                              model=str(tiny_bert_dir), attributes=["helpfulness", "verbosity"],
                                              max_steps=3, **FAST))
    assert record["eval"]["verbosity"]["rated"] == 16  # nulls are unrated, not zeros
    score = load_reward(f"classifier:{out}").score(load_pairs_free(rows[0]))[0]
    assert set(score.components) == {"helpfulness", "verbosity"}


def load_pairs_free(row):
    from rewardlab.types import Sample

    return [Sample(row["prompt"], row["response"])]


def test_ordinal_model_reads_out_the_expected_rating(tmp_path, tiny_bert_dir, pair_files):
    from transformers import AutoModelForSequenceClassification

    out = tmp_path / "ord"
    record = ordinal.main(OrdinalConfig(data=str(pair_files[0]), eval=str(pair_files[1]), out=str(out),
                                        model=str(tiny_bert_dir), levels=4, max_steps=3, **FAST))
    model = AutoModelForSequenceClassification.from_pretrained(out)
    assert model.config.num_labels == 4 and model.config.rewardlab_head == {"kind": "ordinal"}
    assert 1.0 <= record["reward_mean"] <= 4.0  # an expectation over ratings 1..4
    assert 0.0 < record["eval"]["mean_uncertainty"] <= (4 - 1) ** 2 / 4


def test_batch_that_cannot_fit_is_refused_before_any_work(tmp_path, tiny_bert_dir, pair_files):
    out = tmp_path / "never"
    with pytest.raises(ValueError, match=r"train.jsonl:\d+: 2 x \d+ tokens cannot fit batch_tokens=32"):
        bt.main(BTConfig(data=str(pair_files[0]), out=str(out), model=str(tiny_bert_dir), batch_tokens=32,
                         progress=False))
    assert not out.exists()


def test_existing_output_needs_resume_or_overwrite(tmp_path, tiny_bert_dir, pair_files):
    out = tmp_path / "busy"
    out.mkdir()
    (out / "something").write_text("x")
    with pytest.raises(FileExistsError, match="--resume .* --overwrite"):
        bt.main(BTConfig(data=str(pair_files[0]), out=str(out), model=str(tiny_bert_dir), progress=False))


def test_bt_logs_loss_and_accuracy_to_tensorboard(tmp_path, tiny_bert_dir, pair_files):
    pytest.importorskip("tensorboard", reason="tensorboard not installed (pip install 'rewardlab[tracking]')")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out = tmp_path / "tb"
    bt.main(BTConfig(data=str(pair_files[0]), out=str(out), model=str(tiny_bert_dir), max_steps=4, log_every=2,
                     report_to="tensorboard", **FAST))
    events = list(out.rglob("events.out.tfevents.*"))
    assert events, f"no tensorboard event file under {out}"
    acc = EventAccumulator(str(events[0].parent))
    acc.Reload()
    tags = acc.Tags()["scalars"]
    assert {"loss", "accuracy"} <= set(tags), tags
    assert [e.step for e in acc.Scalars("loss")] == [2, 4]
    logged = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    assert [e.value for e in acc.Scalars("loss")] == pytest.approx([line["loss"] for line in logged], rel=1e-6)
