"""Train a Bradley-Terry reward model from Python and score with it (docs/training.md; run by
tests/test_train_docs.py).

Same as ``rewardlab train bt --data pairs.jsonl --eval held.jsonl --out OUT --epochs 2``.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

from rewardlab import Sample, load_reward
from rewardlab.train import bt
from rewardlab.train.config import BTConfig


def write_pairs(path: Path, n: int, seed: int) -> Path:
    """prompt, chosen, rejected: the TRL / RewardBench layout (an optional ``margin`` column is used too)."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        a, b = rng.randint(2, 99), rng.randint(2, 99)
        wrong = a + b + rng.choice([-10, -1, 1, 10])
        rows.append({"prompt": f"What is {a} + {b}?", "chosen": f"{a} + {b} = {a + b}. The answer is {a + b}.",
                     "rejected": f"{a} + {b} = {wrong}. I think the answer is {wrong}."})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def main(model: str = "minilm", out: str | Path = "runs/docs-train", epochs: int = 2) -> dict:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    train, held = write_pairs(out / "train.jsonl", 96, seed=0), write_pairs(out / "held.jsonl", 32, seed=1)
    record = bt.main(BTConfig(data=str(train), eval=str(held), out=str(out / "rm"), model=model,
                              epochs=int(epochs), learning_rate=3e-3 if model != "minilm" else 5e-5,
                              batch_size=8, progress=False, overwrite=True))
    print(f"held-out accuracy {record['eval']['accuracy']:.3f} "
          f"[{record['eval']['ci_low']:.3f}, {record['eval']['ci_high']:.3f}] on {record['eval']['pairs']} pairs")

    reward = load_reward(f"classifier:{out / 'rm'},normalize=true")  # z-scored with the stored mean/std
    right, wrong = reward.score([Sample("What is 2 + 2?", "2 + 2 = 4. The answer is 4."),
                                 Sample("What is 2 + 2?", "2 + 2 = 5. I think the answer is 5.")])
    print(f"right answer {right.value:+.2f}, wrong answer {wrong.value:+.2f}")
    return record


if __name__ == "__main__":
    main(*sys.argv[1:])
