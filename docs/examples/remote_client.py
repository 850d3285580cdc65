from rewardlab import Sample, load_reward

reward = load_reward("remote:http://127.0.0.1:8000,batch_size=64,timeout=60,retries=4")
scores = reward.score([Sample("What is 2+2?", "4"), Sample("What is 2+2?", "5")])
print([round(s.value, 4) for s in scores])
