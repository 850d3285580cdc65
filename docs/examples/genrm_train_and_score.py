"""Train a generative verifier (GenRM) from the embedded world's tiny policy, then score with it as a judge.
Runs offline in about a minute on 2 CPU cores.

    python docs/examples/genrm_train_and_score.py [OUT_DIR]
"""

import sys
import tempfile
from pathlib import Path

from rewardlab import load_reward
from rewardlab.io import write_jsonl
from rewardlab.synth.export import WRONG_ANSWER_KINDS, pair_rows
from rewardlab.synth.world import generate_problems
from rewardlab.train.genrm import GenRMConfig, main
from rewardlab.types import Sample

out = Path(sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp()) / "genrm"

# 1. Verdict rows: each gold solution is correct, each corruption with a wrong final answer is not.
rows = []
for pair in pair_rows(generate_problems(16, seed=0, difficulty="easy"), kinds=WRONG_ANSWER_KINDS):
    rows.append({"prompt": pair["prompt"], "response": pair["chosen"], "label": "correct"})
    rows.append({"prompt": pair["prompt"], "response": pair["rejected"], "label": "incorrect"})
data = out.parent / "verdicts.jsonl"
write_jsonl(data, rows)

# 2. Train (the same as: rewardlab train genrm --data verdicts.jsonl --model world-tiny --out OUT ...).
record = main(GenRMConfig(data=str(data), out=str(out), model="world-tiny", max_steps=8, batch_size=16,
                          learning_rate=1e-3, progress=False))
print(f"trained {record['steps']} steps on {record['train_rows']} rows")

# 3. Score: the saved model is a judge; its reward is P(Yes) after "Is the answer correct (Yes/No)?".
print("reward spec:", record["reward"])
reward = load_reward(record["reward"])
problem = generate_problems(1, seed=42, difficulty="easy")[0]
wrong = problem.solution.replace(f"The answer is {problem.answer}.", f"The answer is {problem.answer + 1}.")
for name, response in (("gold", problem.solution), ("wrong", wrong)):
    print(name, round(reward.score([Sample(problem.prompt, response)])[0].value, 3))
