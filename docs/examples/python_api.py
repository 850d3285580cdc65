from rewardlab import Sample, load_reward

reward = load_reward("classifier:minilm")          # or classifier:PATH_OR_HUB_ID, rule:math, ...
scores = reward.score([
    Sample("What is 2 + 2?", "2 + 2 = 4. The answer is 4."),
    Sample([{"role": "user", "content": "Hi"}], "Hello! How can I help?"),
])
print(scores[0].value, scores[0].components, scores[0].error)
