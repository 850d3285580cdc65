"""Small real training files for the training tests (written per test into tmp_path)."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any


def arithmetic_pairs(n: int, seed: int = 0) -> list[dict[str, Any]]:
    """Sums with a right (chosen) and a wrong (rejected) worked answer; the prompt is shared."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        a, b = rng.randint(2, 99), rng.randint(2, 99)
        wrong = a + b + rng.choice([-10, -2, -1, 1, 2, 10])
        rows.append({"prompt": f"What is {a} + {b}?", "chosen": f"{a} + {b} = {a + b}. The answer is {a + b}.",
                     "rejected": f"{a} + {b} = {wrong}. I think the answer is {wrong}.", "id": f"q{i}"})
    return rows


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def cli_flags(settings: dict[str, Any]) -> list[str]:
    """Config settings as ``rewardlab train`` flags (``batch_size=4`` -> ``--batch-size 4``)."""
    flags: list[str] = []
    for key, value in settings.items():
        flag = "--" + key.replace("_", "-")
        if isinstance(value, bool):
            flags.append(flag if value else "--no-" + flag[2:])
        else:
            flags += [flag, str(value)]
    return flags
