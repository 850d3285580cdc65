"""Best-of-N, self-consistency and weighted voting from Python, then curves over N on a best-of-256 file.
Runs offline in seconds (the embedded MiniLM reward and the math rule as the verifier)."""

import numpy as np

from rewardlab import load_reward
from rewardlab.search import BonConfig, Pool, run_bon, search_curves, vote_weights

pools = [
    Pool(id="q1", prompt="What is 6 * 7?", reference="42",
         responses=["6 * 7 = 42. The answer is 42.", "6 * 7 = 48. The answer is 48.", "So \\boxed{42}.", "hmm"]),
    Pool(id="q2", prompt="What is 9 + 8?", reference="17",
         responses=["9 + 8 = 17. The answer is 17.", "The answer is 18.", "9 + 8 = 18. The answer is 18."]),
]
result = run_bon(pools, load_reward("classifier:minilm"), BonConfig(select="weighted-vote", weighting="sigmoid"),
                 verifier=load_reward("rule:math"), show_progress=False)
for row in result.rows:
    print(row["id"], "picked", row["chosen_index"], "answer", row["answer"], "correct", row["correct"])
print("abstained:", result.summary["abstained"], "accuracy:",
      {m: a["value"] for m, a in result.summary["accuracy"].items()})

# Curves over N = 1..256 for 100 prompts: exact best-of-N (reward, oracle), exact random, sampled votes.
rng = np.random.default_rng(0)
ids = rng.integers(0, 4, size=(100, 256))  # answer ids; -1 would abstain
gold = (ids == 0).astype(float)
scores = rng.normal(size=ids.shape) + gold
curves = search_curves(scores, gold, ids, np.stack([vote_weights(s, "sigmoid") for s in scores]))["curves"]
for name, rows in curves.items():
    print(f"{name:>14}:", " ".join(f"{r['gold']:.2f}" for r in rows))
