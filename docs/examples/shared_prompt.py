import tempfile

from rewardlab import Sample, load_reward
from rewardlab.testing import tiny_llama

folder = tiny_llama(tempfile.mkdtemp(), classifier=True)  # a small causal reward model (random weights)
prompt = "Human: plan a three day trip to the mountains with two children, on a budget. Assistant:"
group = [Sample(prompt, r) for r in (" Day one: drive up early.", " Stay home.", " Rent a cabin near a lake.")]

shared = load_reward(f"classifier:{folder},share_prompt=true")    # the prompt runs once for the group
naive = load_reward(f"classifier:{folder},share_prompt=false")    # the prompt runs once per response
a, b = shared.score(group), naive.score(group)
print(max(abs(x.value - y.value) for x, y in zip(a, b)) < 1e-4, shared.provenance()["shared_prompt_tokens"] > 0)
