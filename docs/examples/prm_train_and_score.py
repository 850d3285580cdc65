"""Train a process reward model on the embedded world's step labels, then score every step of a solution
in one forward pass with ``process:OUT``. Runs offline in about a minute on 2 CPU cores.

    python docs/examples/prm_train_and_score.py [OUT_DIR]
"""

import sys
import tempfile
from pathlib import Path

from rewardlab import load_reward
from rewardlab.io import write_jsonl
from rewardlab.synth.export import step_rows
from rewardlab.synth.world import generate_problems
from rewardlab.train.prm import PRMConfig, main
from rewardlab.types import Sample

out = Path(sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp()) / "prm"

# 1. Step-labelled data with exact first-error labels: gold solutions and corruptions of each kind.
data = out.parent / "steps.jsonl"
write_jsonl(data, step_rows(generate_problems(8, seed=0, difficulty="easy")))

# 2. Train (the same as: rewardlab train prm --data steps.jsonl --out OUT --max-steps 4 --batch-size 8).
record = main(PRMConfig(data=str(data), out=str(out), max_steps=4, batch_size=8, learning_rate=1e-4,
                        progress=False))
print(f"trained {record['steps']} steps on {record['train_solutions']} solutions")

# 3. Score: the layout (step tag, separators) was saved with the model, so no options are needed.
reward = load_reward(f"process:{out},agg=min")
problem = generate_problems(1, seed=42, difficulty="easy")[0]
score = reward.score([Sample(problem.prompt, "", steps=problem.steps)])[0]
print("step scores:", [round(p, 3) for p in score.steps], "min:", round(score.value, 3))
