"""DPO-tune a causal policy on preference pairs, then use it as an implicit reward (outcome and per step).

Runs offline in seconds with a tiny model built in code; swap in any causal LM folder or hub id.
``tests/test_implicit_docs.py`` runs this file, so it stays correct.

    python examples/implicit_reward.py [WORK_DIR]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from rewardlab import load_reward
from rewardlab.io import write_jsonl
from rewardlab.testing import tiny_llama
from rewardlab.train import dpo
from rewardlab.types import Sample


def main(work: Path) -> dict[str, list[float]]:
    start = tiny_llama(work / "sft")  # stands in for an SFT policy
    pairs = [{"prompt": f"what is {a} + 1 ?", "chosen": f" the answer is {a + 1} .",
              "rejected": f" the answer is {a + 2} ."} for a in range(8)]
    write_jsonl(work / "pairs.jsonl", pairs)
    # the same as: rewardlab train dpo --data pairs.jsonl --model sft --out dpo --learning-rate 1e-3
    dpo.main(dpo.DPOConfig(data=str(work / "pairs.jsonl"), model=str(start), out=str(work / "dpo"),
                           learning_rate=1e-3, epochs=1, batch_size=8, progress=False))

    # The DPO record beside the weights names the reference and beta: no need to repeat them.
    outcome = load_reward(f"implicit:policy={work / 'dpo'},cache={work / 'ref_logprobs.sqlite'}")
    steps = load_reward(f"implicit:policy={work / 'dpo'},steps=true,agg=min,cache=none")
    sample = Sample("what is 3 + 1 ?", " 3 + 1 = 4 .\n\n the answer is 4 .")
    result = {"outcome": [s.value for s in outcome.score([sample])], "steps": steps.score([sample])[0].steps}
    print(result)
    return result


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
