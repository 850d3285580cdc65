"""Evaluate a reward on your own pairwise file from Python (docs/evaluation.md; run by tests/test_eval_docs.py).

Same stages and outputs as ``rewardlab eval --reward SPEC --bench FILE --out DIR``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from rewardlab.evaluate.runner import EvalConfig, run


def main(reward: str = "classifier:minilm", out: str | Path = "runs/docs-example") -> dict:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    data = out / "pairs.jsonl"  # prompt, chosen, rejected[, subset, id]: the RewardBench / TRL layout
    rows = [
        {"id": "1", "prompt": "What is 2 + 3?", "chosen": "2 + 3 = 5.", "rejected": "2 + 3 = 6.", "subset": "math"},
        {"id": "2", "prompt": "Capital of France?", "chosen": "Paris.", "rejected": "Lyon.", "subset": "facts"},
        {"id": "3", "prompt": "Say hi politely.", "chosen": "Hello! How can I help?", "rejected": "What.",
         "subset": "chat"},
    ]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    results = run(EvalConfig(reward=reward, benches=[str(data)], out=out / "run", progress=False))
    summary = results["summary"]["pairs.jsonl"]
    print(f"{summary['metric']}: {summary['value']:.3f} on {summary['records']} pairs "
          f"({summary['failed']} failed); report: {out / 'run' / 'report.html'}")
    return results


if __name__ == "__main__":
    main(*sys.argv[1:])
