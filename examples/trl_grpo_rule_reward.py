"""rewardlab rewards inside TRL's GRPOTrainer: a few GRPO steps of the embedded world's policy on CPU.

Two reward functions, both plain rewardlab specs passed through `rewardlab.integrations.trl.reward_func`:
``rule:math`` (the answer against the dataset's ``answer`` column) and, as an async reward function,
DAPO's soft overlong penalty ``rule:overlong`` (in characters: free up to 100, -1 at 200). The policy is
the synth world's ``small`` preset (trained on first use, a few CPU minutes, then cached), so the run
needs no download.

    python examples/trl_grpo_rule_reward.py [--steps 4] [--policy small|tiny|FOLDER] [--out DIR]

Prints one line per step with the values TRL itself logged (reward means per function, gradient norm).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any


def run(out_dir: str | Path, steps: int = 4, problems: int = 16, seed: int = 0, policy: str | Path = "small",
        max_completion_length: int = 48,
        overlong: str = "rule:overlong,max=200,cache=100,unit=chars") -> list[dict[str, Any]]:
    """GRPO steps on the synth world's policy; returns TRL's log history (one dict per step).

    ``policy`` is a trained policy folder or a preset name (``tiny``, ``small``), trained on first use and
    cached (``rewardlab.synth.policy.default_policy``).
    """
    from datasets import Dataset
    from transformers.utils import logging as hf_logging
    from trl import GRPOConfig, GRPOTrainer

    from rewardlab.integrations.trl import reward_func
    from rewardlab.synth.policy import default_policy, load_policy
    from rewardlab.synth.world import generate_problems

    hf_logging.set_verbosity_error()
    out = Path(out_dir)
    policy_dir = Path(policy) if Path(str(policy)).is_dir() else default_policy(size=str(policy))
    model, tokenizer = load_policy(policy_dir)
    rows = [{"prompt": p.prompt, "answer": str(p.answer)} for p in generate_problems(problems, seed, "easy")]
    config = GRPOConfig(
        output_dir=str(out / "grpo"), max_steps=steps, per_device_train_batch_size=8, num_generations=4,
        max_completion_length=max_completion_length, learning_rate=5e-4, beta=0.0, logging_steps=1,
        report_to="none", save_strategy="no", use_cpu=True, bf16=False, seed=seed, disable_tqdm=True, temperature=1.0,
        log_completions=False,
    )
    trainer = GRPOTrainer(
        model=model, processing_class=tokenizer, args=config, train_dataset=Dataset.from_list(rows),
        reward_funcs=[reward_func("rule:math"),
                      reward_func(overlong, asynchronous=True, name="overlong")],
    )
    trainer.train()
    return [entry for entry in trainer.state.log_history if "reward" in entry]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--out", default=None, help="working folder (default: a temp folder)")
    parser.add_argument("--policy", default="small", help="a policy folder, or a preset (tiny, small)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        history = run(args.out or tmp, args.steps, policy=args.policy)
    keys = ["step", "reward", "reward_std", "rewards/rule_math/mean", "rewards/overlong/mean",
            "frac_reward_zero_std", "grad_norm"]
    for entry in history:
        print(json.dumps({k: round(entry[k], 4) if isinstance(entry.get(k), float) else entry.get(k)
                          for k in keys}))


if __name__ == "__main__":
    main()
