"""The TRL drop-in: TRL's reward_funcs call signature, conversational input, columns, failures, async, pickling."""

from __future__ import annotations

import asyncio
import inspect
import pickle

import pytest

from rewardlab.integrations.trl import AsyncRewardFunc, RewardFunc, reward_func, to_samples


def test_plain_text_call_as_trl_makes_it():
    f = reward_func("rule:math")
    out = f(prompts=["2+2?", "3+3?"], completions=["The answer is 4", "It is 7"], completion_ids=[[1], [2]],
            answer=["4", "#### 6"], trainer_state=object())
    assert out == [1.0, 0.0]
    assert f.__name__ == "rule_math"


def test_conversational_and_multimodal_messages():
    f = reward_func("rule:math")
    prompts = [[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "2+2?"}]]
    completions = [[{"role": "assistant", "content": [{"type": "text", "text": "\\boxed{4}"},
                                                      {"type": "image", "image": None}]}]]
    assert f(prompts=prompts, completions=completions, solution=["4"]) == [1.0]
    [sample] = to_samples(prompts, completions, {"solution": ["4"]})
    assert sample.prompt[1] == {"role": "user", "content": "2+2?"} and sample.response == "\\boxed{4}"


def test_columns_become_metadata_and_reference_key_is_explicit(bwrap_sandbox):
    code = reward_func("rule:code,timeout=5")
    out = code(prompts=["add"], completions=["```python\ndef add(a, b):\n    return a + b\n```"],
               tests=[["assert add(1, 2) == 3", "assert add(1, 1) == 3"]])
    assert out == [0.5]
    exact = reward_func("rule:exact", reference_key="label")
    assert exact(prompts=["q"], completions=["yes"], label=["yes"], answer=["no"]) == [1.0]
    with pytest.raises(KeyError, match="'label' not in the batch"):
        exact(prompts=["q"], completions=["yes"], answer=["no"])


def test_failures_are_none_and_logged():
    logged, metrics = {}, {}
    f = reward_func("rule:math")
    out = f(prompts=["q", "q"], completions=["The answer is 4", "The answer is 4"], answer=[None, "4"],
            log_extra=lambda col, vals: logged.setdefault(col, vals),
            log_metric=lambda name, v: metrics.setdefault(name, v))
    assert out == [None, 1.0]  # TRL turns None into NaN and leaves it out of its sums
    assert "no reference" in logged["rule_math_why"][0]
    assert metrics == {"rule_math/failures": 1.0}


def test_async_variant_is_a_coroutine_trl_recognises():
    f = reward_func("rule:math", asynchronous=True)
    assert isinstance(f, AsyncRewardFunc)
    out = asyncio.run(f(prompts=["q"], completions=["The answer is 4"], answer=["4"]))
    assert out == [1.0]
    # TRL's is_async_callable checks exactly this (a callable instance carries async on __call__); the
    # GRPO run in test_integrations_trl_grpo.py passes an async reward function through TRL itself.
    assert inspect.iscoroutinefunction(f.__call__)
    assert not inspect.iscoroutinefunction(reward_func("rule:math").__call__)
    assert f.__name__ == "rule_math"  # what TRL's get_callable_name reads


def test_pickles_without_the_loaded_reward():
    f = reward_func("rule:format", name="fmt")
    f(prompts=["q"], completions=["x"])  # loads the reward
    clone = pickle.loads(pickle.dumps(f))
    assert isinstance(clone, RewardFunc) and clone._reward is None and clone.__name__ == "fmt"
    assert clone(prompts=["q"], completions=["<think>a</think><answer>b</answer>"]) == [1.0]
