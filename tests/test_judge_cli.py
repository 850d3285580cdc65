"""``rewardlab eval --reward judge:openai:...`` end to end through the CLI, against llama.cpp's server, with
the API key read from a variable the operator allowed with ``--allow-key-env``."""

from __future__ import annotations

import json
import os
import subprocess
import sys


def test_eval_with_an_openai_judge_from_the_command_line(llama_server, tmp_path, shared_file):
    shared_file("LLMBar/Dataset")
    out = tmp_path / "eval"
    spec = f"judge:openai:{llama_server.spec(api_key_env='JUDGE_CLI_KEY', cache=tmp_path / 'c.sqlite')},max_tokens=8"
    env = {**os.environ, "JUDGE_CLI_KEY": llama_server.api_key}
    cmd = [sys.executable, "-m", "rewardlab.cli", "eval", "--reward", spec, "--bench", "llmbar", "--limit", "2",
           "--out", str(out), "--no-report", "--no-progress"]
    refused = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert refused.returncode != 0 and "JUDGE_CLI_KEY" in refused.stderr and "not allowed" in refused.stderr
    done = subprocess.run([cmd[0], "-m", "rewardlab.cli", "--allow-key-env", "JUDGE_CLI_KEY", *cmd[3:]], env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads((out / "results.json").read_text())
    block = results["benchmarks"]["llmbar"]["metrics"]
    assert block["judge_counting"]["rule"] == "both_mean" and block["judge_counting"]["orders_judged"] == 4
    assert results["reward"]["backend"]["backend"] == "openai" and llama_server.api_key not in json.dumps(results)
    judged = results["benchmarks"]["llmbar"]["scoring"]["judge"]
    assert judged["requests"] + judged["cached_completions"] >= 4
