"""`rewardlab.signals` against TRL's own advantage code: a real GRPOTrainer / RLOOTrainer (tiny Llama, CPU)
generates completions, calls reward functions that return fixed values by position (None included: a
completion no function could score), and computes advantages in ``_generate_and_score_completions``;
rewardlab computes them from the same rewards. Every scale and aggregation TRL offers is compared.

The ``zero`` rule (TRL before huggingface/trl#5902) is no longer in TRL; its arithmetic is written out in
`test_zero_rule_by_hand`.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from rewardlab.signals import EPS, combine_rewards, grpo_advantages, rloo_advantages

trl = pytest.importorskip("trl")

# 2 prompts x 4 completions; rows 1 and 4 are unscorable (every function None), row 7 only partly scored
FIRST = [1.0, None, 0.0, 2.0, None, 0.5, 0.5, None]
SECOND = [0.3, None, None, 1.0, None, 0.2, -1.0, 0.7]
WEIGHTS = [1.0, 0.5]


def _by_position(values, name):
    def reward(prompts, completions, **kwargs):
        assert len(completions) == len(values)
        return list(values)

    reward.__name__ = name
    return reward


def _as_array(*columns) -> np.ndarray:
    return np.array([[np.nan if v is None else v for v in col] for col in columns], dtype=np.float64).T


@pytest.fixture(scope="module")
def policy(tmp_path_factory):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from rewardlab.testing import tiny_llama

    path = tiny_llama(tmp_path_factory.mktemp("trl_policy") / "policy")
    return path, AutoModelForCausalLM, AutoTokenizer


def _trainer(kind: str, policy, tmp_path, reward_funcs, **config):
    from datasets import Dataset
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    path, model_cls, tok_cls = policy
    config_cls, trainer_cls = (trl.GRPOConfig, trl.GRPOTrainer) if kind == "grpo" else (trl.RLOOConfig,
                                                                                       trl.RLOOTrainer)
    args = config_cls(output_dir=str(tmp_path / kind), per_device_train_batch_size=8, num_generations=4,
                      max_completion_length=4, beta=0.0, report_to="none", use_cpu=True, bf16=False,
                      disable_tqdm=True, save_strategy="no", **config)
    rows = [{"prompt": "what is 1 + 1?"}] * 4 + [{"prompt": "what is 2 + 3?"}] * 4
    trainer = trainer_cls(model=model_cls.from_pretrained(path), processing_class=tok_cls.from_pretrained(path),
                          args=args, train_dataset=Dataset.from_list(rows), reward_funcs=reward_funcs)
    return trainer, rows


def _trl_advantages(trainer, rows) -> np.ndarray:
    return trainer._generate_and_score_completions(rows)["advantages"].double().numpy()


@pytest.mark.slow
def test_grpo_advantages_equal_trl_for_every_scale_and_aggregation(policy, tmp_path):
    trainer, rows = _trainer("grpo", policy, tmp_path, [_by_position(FIRST, "first"), _by_position(SECOND, "second")],
                             reward_weights=WEIGHTS)
    r = _as_array(FIRST, SECOND)
    for aggregation in ("sum_then_normalize", "normalize_then_sum"):
        for scale in ("group", "batch", "none"):
            trainer.multi_objective_aggregation, trainer.scale_rewards = aggregation, scale
            theirs = _trl_advantages(trainer, rows)
            ours = combine_rewards(r, WEIGHTS, group_size=4, aggregation=aggregation, scale=scale)
            np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5, err_msg=f"{aggregation}, {scale}")
            assert theirs[1] == 0.0 and theirs[4] == 0.0  # unscorable: advantage 0, left out of the baseline


def test_grpo_single_reward_with_none_equals_trl(policy, tmp_path):
    values = [1.0, None, 0.0, 0.5, 2.0, 2.0, None, 2.0]  # the issue's [1, NaN, 0] shape, and a constant group
    trainer, rows = _trainer("grpo", policy, tmp_path, [_by_position(values, "only")])
    theirs = _trl_advantages(trainer, rows)
    ours = grpo_advantages(_as_array(values)[:, 0], 4)
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5)
    assert not np.allclose(grpo_advantages(_as_array(values)[:, 0], 4, unscorable="zero"), theirs, atol=1e-3)


@pytest.mark.parametrize("normalize", [False, True])
def test_rloo_advantages_equal_trl(policy, tmp_path, normalize):
    values = [1.0, None, 0.0, 3.0, None, None, 0.5, None]  # group 2 has one scorable completion: advantage 0
    trainer, rows = _trainer("rloo", policy, tmp_path, [_by_position(values, "only")],
                             normalize_advantages=normalize)
    theirs = _trl_advantages(trainer, rows)
    ours = rloo_advantages(_as_array(values)[:, 0], 4, normalize=normalize)
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5)


def test_zero_rule_by_hand():
    # [1, NaN, 0] with the NaN counted as 0: mean 1/3, unbiased std sqrt(((2/3)^2 + 2 (1/3)^2) / 2) = sqrt(1/3)
    sd = math.sqrt(1 / 3)
    adv = grpo_advantages([1, np.nan, 0], 3, unscorable="zero")
    assert adv.tolist() == pytest.approx([(2 / 3) / (sd + EPS), (-1 / 3) / (sd + EPS), (-1 / 3) / (sd + EPS)])
    assert adv.round(3).tolist() == [1.155, -0.577, -0.577]
    assert grpo_advantages([1, np.nan, 0], 3).round(3).tolist() == [0.707, 0.0, -0.707]  # exclude (TRL 1.16)
    # RLOO: baselines (0 + 0) / 2, (1 + 0) / 2, (1 + 0) / 2 -> [1, -0.5, -0.5]
    assert rloo_advantages([1, np.nan, 0], 3, unscorable="zero").tolist() == [1.0, -0.5, -0.5]
    both_none = np.array([[1.0, np.nan], [np.nan, np.nan], [0.0, np.nan]])
    np.testing.assert_allclose(combine_rewards(both_none, group_size=3, unscorable="zero"), adv)
    with pytest.raises(ValueError, match="unscorable must be one of exclude, zero"):
        grpo_advantages([1, 0], 2, unscorable="drop")
