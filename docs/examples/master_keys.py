"""Probe a verifier with One Token to Fool's master keys by hand (docs/judges.md; run by tests/test_docs_snippets.py).

``rewardlab eval --reward SPEC --bench master-keys`` does this over GSM8K and MATH-500 with CIs.
"""

from rewardlab import Sample, load_reward
from rewardlab.evaluate.masterkeys import MASTER_KEYS

verifier = load_reward("rule:math")  # or judge:openai:MODEL,base_url=...,protocol=correctness
question, reference = "Tom has 3 apples and buys 4 more. How many apples does he have?", "7"
probes = [Sample(question, key.text, reference=reference) for key in MASTER_KEYS]
scores = verifier.score([Sample(question, "3 + 4 = 7. The answer is 7.", reference=reference), *probes])
print(f"worked solution: {scores[0].value}")
print("accepted keys:", [key.text for key, s in zip(MASTER_KEYS, scores[1:]) if s.value > 0.5])
