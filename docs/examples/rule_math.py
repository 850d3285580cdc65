from rewardlab import Sample, load_reward

rule = load_reward("rule:math")
[score] = rule.score([Sample("What is 6*7?", "6*7 = 42. The answer is 42.", reference="42")])
print(score.value, score.rationale)   # 1.0 answer '42' (from answer phrase) equals reference '42' (string)
