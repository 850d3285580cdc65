"""PRM-guided beam search (`rewardlab.search.beam`, ``rewardlab search beam``): a real policy (the embedded
world's tiny one), a real PRM built from a transformers config, a real HTTP server for the timeout path."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from typer.testing import CliRunner

from rewardlab.cli import app
from rewardlab.generation import load_generator
from rewardlab.rewards.base import load_reward
from rewardlab.search.beam import BeamConfig, beam_search
from rewardlab.search.pools import Compute, CountingReward
from rewardlab.search.prompts import load_prompts

runner = CliRunner()
SMALL = {"width": 2, "expansions": 2, "max_steps": 3, "step_tokens": 12}


@pytest.fixture(scope="module")
def prm(tmp_path_factory):
    from test_prm_models import tiny_token_prm

    return load_reward(f"process:{tiny_token_prm(tmp_path_factory.mktemp('prm') / 'prm')}")


@pytest.fixture(scope="module")
def policy():
    return load_generator("hf:world-tiny")


def test_a_reward_without_step_scores_is_refused_before_any_generation(tiny_bert_dir):
    gen = load_generator("hf:world-tiny")
    with pytest.raises(ValueError, match="gives no step scores"):
        beam_search(gen, load_reward(f"classifier:{tiny_bert_dir}"), load_prompts("world:2"), BeamConfig(**SMALL))
    assert gen.stats.requests == 0 and gen._loaded is None  # the policy was not even loaded


@pytest.mark.parametrize("lookahead", [0, 1])
def test_beam_search_accounts_every_token_and_reward_call(policy, prm, lookahead):
    compute = Compute()
    reward = CountingReward(prm, compute)
    before = policy.stats.completion_tokens
    prompts = load_prompts("world:3")
    result = beam_search(policy, reward, prompts, BeamConfig(**SMALL, lookahead=lookahead), compute)
    assert compute.generated_tokens == policy.stats.completion_tokens - before > 0
    assert sum(r["generated_tokens"] for r in result.rows) == compute.generated_tokens
    assert compute.reward_calls >= 2 and compute.reward_samples > len(prompts)
    assert [r["id"] for r in result.rows] == [p.id for p in prompts] and not result.failed
    for row in result.rows:
        assert row["chosen"] is not None and 1 <= len(row["steps"]) <= SMALL["max_steps"]
        assert len(row["step_scores"]) == len(row["steps"])
        assert row["chosen"] == "\n".join(row["steps"])
        assert row["strategy"] == ("lookahead" if lookahead else "beam")
    again = beam_search(policy, prm, prompts, BeamConfig(**SMALL, lookahead=lookahead))
    assert [r["chosen"] for r in again.rows] == [r["chosen"] for r in result.rows]  # seeded: reproducible


def test_lookahead_spends_more_tokens_than_plain_beam(policy, prm):
    spent = {}
    for k in (0, 2):
        compute = Compute()
        beam_search(policy, prm, load_prompts("world:2"), BeamConfig(**SMALL, lookahead=k), compute)
        spent[k] = compute.generated_tokens
    assert spent[2] > spent[0]


def test_cli_beam_end_to_end_on_the_world(tmp_path, prm):
    out = tmp_path / "beam.jsonl"
    result = runner.invoke(app, ["search", "beam", "--prompts", "world:2", "--generator", "hf:world-tiny",
                                 "--reward", prm.name, "--out", str(out), "--width", "2", "--expansions", "2",
                                 "--max-steps", "2", "--step-tokens", "10"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 2 and all("correct" in r for r in rows)  # world prompts: the world's verifier labels
    summary = json.loads((tmp_path / "beam.report" / "results.json").read_text())
    assert summary["compute"]["generated_tokens"] == sum(r["generated_tokens"] for r in rows)
    assert summary["accuracy"]["search"]["n"] == 2


class _Silent(BaseHTTPRequestHandler):
    """Accepts the request, then answers too late for the client's timeout."""

    hits = 0

    def do_POST(self):  # noqa: N802 -- http.server's naming
        type(self).hits += 1
        time.sleep(1.5)
        self.send_response(500)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_a_backend_that_times_out_is_retried_then_reported_with_the_prompt_id(tmp_path, prm):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Silent)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        spec = (f"openai:m,base_url=http://127.0.0.1:{server.server_address[1]}/v1,timeout=0.3,retries=0,"
                "cache=off,endpoint=completions")
        out = tmp_path / "bon.jsonl"
        result = runner.invoke(app, ["search", "bon", "--prompts", "world:2", "--generator", spec, "--n", "1",
                                     "--select", "vote", "--retries", "1", "--out", str(out), "--no-progress"])
        assert result.exit_code == 3, result.output
        assert _Silent.hits == 4  # 2 prompts x (1 try + 1 retry)
        rows = [json.loads(line) for line in out.read_text().splitlines()]
        assert {r["id"] for r in rows} == {"s7000003-0", "s7000003-1"}
        assert all("after 1 retries" in r["error"] for r in rows)
        beam_out = tmp_path / "beam.jsonl"
        result = runner.invoke(app, ["search", "beam", "--prompts", "world:1", "--generator", spec,
                                     "--reward", prm.name, "--retries", "0", "--out", str(beam_out)])
        assert result.exit_code == 3 and "s7000003-0" in result.output
        assert json.loads(beam_out.read_text())["error"].startswith("generation failed")
    finally:
        server.shutdown()


def test_best_first_expands_within_its_budget_and_accounts_tokens(policy, prm):
    from rewardlab.search.best_first import best_first_search

    compute = Compute()
    before = policy.stats.completion_tokens
    result = best_first_search(policy, CountingReward(prm, compute), load_prompts("world:2"),
                               BeamConfig(**SMALL), max_expansions=4, compute=compute)
    assert compute.generated_tokens == policy.stats.completion_tokens - before > 0
    assert sum(r["generated_tokens"] for r in result.rows) == compute.generated_tokens
    for row in result.rows:
        assert row["strategy"] == "best-first" and 1 <= row["expansions"] <= 4
        if row["chosen"] is not None:
            assert len(row["step_scores"]) == len(row["steps"]) <= SMALL["max_steps"]
        else:
            assert "within 4 expansions" in row["error"]
    with pytest.raises(ValueError, match="gives no step scores"):
        best_first_search(policy, load_reward("rule:math"), load_prompts("world:1"))


def test_cli_best_first(tmp_path, prm):
    out = tmp_path / "bf.jsonl"
    result = runner.invoke(app, ["search", "beam", "--strategy", "best-first", "--max-expansions", "3",
                                 "--prompts", "world:1", "--generator", "hf:world-tiny", "--reward", prm.name,
                                 "--out", str(out), "--expansions", "2", "--max-steps", "2", "--step-tokens", "8"])
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["strategy"] == "best-first"
