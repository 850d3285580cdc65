from rewardlab import Sample, load_reward

reward = load_reward("examples/composite_reward.yaml")   # a .yaml path routes to the composite family
[s] = reward.score([Sample("What is 6*7?", "<think>6*7 = 42</think><answer>The answer is 42</answer>",
                           reference="42")])
print(s.value)        # 1.0 + 0.2 + 0.1 * rm + 0
print(s.components)   # {"correct": 1.0, "correct.extracted": 1.0, "format": 1.0, "rm": ..., "length": 0.0, ...}
