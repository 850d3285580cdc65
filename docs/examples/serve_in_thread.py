from rewardlab import load_reward
from rewardlab.serve import ServeConfig, ServerThread, create_app

app = create_app(load_reward("classifier:minilm"), ServeConfig(max_queue_delay_ms=2))
with ServerThread(app) as server:      # real uvicorn on a free 127.0.0.1 port, in a thread
    print(server.url)
