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
from rewardlab.testing import tiny_llama
from rewardlab.train.dpo import DPOConfig, train_dpo
from rewardlab.types import PairRecord, Sample


def main(work: Path) -> dict[str, list[float]]:
    start = tiny_llama(work / "sft")  # stands in for an SFT policy
    pairs = [PairRecord(f"what is {a} + 1 ?", f" the answer is {a + 1} .", f" the answer is {a + 2} .")
             for a in range(8)]
    train_dpo(pairs, DPOConfig(policy=str(start), output_dir=str(work / "dpo"), epochs=1, batch_size=8))

    # The DPO record beside the weights names the reference and beta: no need to repeat them.
    outcome = load_reward(f"implicit:policy={work / 'dpo'},cache={work / 'ref_logprobs.sqlite'}")
    steps = load_reward(f"implicit:policy={work / 'dpo'},steps=true,agg=min,cache=none")
    sample = Sample("what is 3 + 1 ?", " 3 + 1 = 4 .\n\n the answer is 4 .")
    result = {"outcome": [s.value for s in outcome.score([sample])], "steps": steps.score([sample])[0].steps}
    print(result)
    return result


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
