"""``rewardlab search bon`` and ``rewardlab search beam``: inference-time search with any reward.

``bon`` picks one candidate per prompt (by the reward, a majority vote or a reward-weighted vote) from a
candidates file or from samples it draws with a generation backend; ``beam`` runs PRM-guided step-level
beam search. Both write one JSON line per prompt atomically, a ``results.json`` + ``report.html`` beside
it, and account the compute they spent. A prompt whose generation still fails after the retries is
written with its error and listed, and the command exits with status 3.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer

from rewardlab.cli import app
from rewardlab.progress import console

search_app = typer.Typer(no_args_is_help=True, add_completion=False,
                         help="Inference-time search: best-of-N, voting, PRM beam search.")
app.add_typer(search_app, name="search")

FAILED_EXIT = 3


def _report_dir(out: Path, report: Path | None) -> Path:
    return report if report is not None else out.with_name(out.stem + ".report")


@search_app.command("bon")
def bon(
    out: Path = typer.Option(..., help="Output JSONL: the chosen response per prompt, with every candidate's scores."),
    data: str | None = typer.Option(None, help="Candidates file (prompt, responses[] [, correct[]]; best-of-n "
                                                  "or RewardBench 2 format)."),
    prompts: str | None = typer.Option(None, help="Prompts to sample for: a file (prompt [, id, reference]) or "
                                                     "world:N[,seed=S][,difficulty=easy]."),
    generator: str | None = typer.Option(None, help="Generation backend for --prompts: hf:PATH, hf:world, "
                                                       "openai:MODEL,base_url=URL."),
    n: int = typer.Option(16, min=1, help="Samples per prompt (with --prompts)."),
    temperature: float = typer.Option(0.8, help="Sampling temperature."),
    top_p: float = typer.Option(1.0, help="Nucleus sampling mass."),
    max_new_tokens: int = typer.Option(128, min=1, help="Token limit per sample."),
    stop: list[str] = typer.Option([], help="Stop string (repeat for several)."),
    seed: int = typer.Option(0, help="Sampling seed."),
    reward: str | None = typer.Option(None, help="Reward spec (needed by --select reward and weighted-vote)."),
    select: str = typer.Option("reward", help="reward | vote (self-consistency) | weighted-vote."),
    answer: str = typer.Option("math", help="Answer extractor for voting: math | world | regex:PATTERN."),
    weighting: str = typer.Option("raw", help="Rewards as votes: raw (>= 0) | sigmoid | exp."),
    prm_agg: str | None = typer.Option(None, help="Value of a PRM candidate from its step scores: min | last | "
                                                     "product (default: the reward's own value)."),
    verifier: str | None = typer.Option(None, help="Gold labels from a reward (value >= 0.5 is right), e.g. "
                                                      "rule:math against each prompt's reference."),
    report: Path | None = typer.Option(None, help="Folder for results.json and report.html (default OUT.report/)."),
    subsets: int = typer.Option(256, min=1, help="Random subsets per N for the vote curves."),
    retries: int = typer.Option(2, min=0, help="Retries of a prompt whose generation failed."),
    limit: int | None = typer.Option(None, help="Only the first N prompts / rows."),
    progress: bool = typer.Option(True, help="Show progress bars."),
) -> None:
    """Best-of-N, self-consistency or weighted majority voting; curves over N with the exact estimator."""
    from rewardlab.rewards.base import load_reward
    from rewardlab.search.bon import BonConfig, pools_from_records, run_bon
    from rewardlab.search.pools import Compute, CountingReward

    if (data is None) == (prompts is None):
        raise typer.BadParameter("give exactly one of --data (a candidates file) or --prompts (to sample)")
    config = BonConfig(select=select, answer=answer, weighting=weighting, prm_agg=prm_agg, subsets=subsets, seed=seed)
    compute, failed, provenance = Compute(), [], {}
    scorer = CountingReward(load_reward(reward), compute) if reward else None
    if scorer is None and select != "vote":
        raise typer.BadParameter(f"--select {select} needs --reward; --select vote works without one")
    check = load_reward(verifier) if verifier else None
    if data is not None:
        from rewardlab.data import load_candidates

        pools = pools_from_records(load_candidates(data, limit=limit))
    else:
        if generator is None:
            raise typer.BadParameter("--prompts needs --generator (e.g. hf:world)")
        from rewardlab.generation import SamplingParams, load_generator
        from rewardlab.search.generate import generate_pools
        from rewardlab.search.prompts import load_prompts

        gen = load_generator(generator)
        params = SamplingParams(n=n, temperature=temperature, top_p=top_p, max_new_tokens=max_new_tokens,
                                stop=tuple(stop), seed=seed)
        pools, failed = generate_pools(gen, load_prompts(prompts, limit), params, compute, retries)
        provenance = {"generator": gen.provenance(), "sampling": params.__dict__ | {"stop": list(params.stop)}}
    result = run_bon(pools, scorer, config, check, show_progress=progress)
    rows = result.rows + [{"id": f.id, "error": f.error, "chosen": None, "candidates": []} for f in failed]
    summary = {**result.summary, "compute": compute.to_dict(), **provenance,
               "failed_prompts": [f.__dict__ for f in failed], "output": str(out)}
    _finish(out, rows, summary, report, "rewardlab search bon")


def _finish(out: Path, rows: list[dict[str, Any]], summary: dict[str, Any], report: Path | None, title: str) -> None:
    from rewardlab.io import write_jsonl
    from rewardlab.search.report import write_search_report

    write_jsonl(out, rows)
    page = write_search_report(_report_dir(out, report), summary, title)
    _print_summary(summary, page)
    if summary.get("failed_prompts"):
        ids = ", ".join(f["id"] for f in summary["failed_prompts"][:20])
        console.print(f"[bold red]{len(summary['failed_prompts'])} prompt(s) failed:[/] {ids}")
        sys.exit(FAILED_EXIT)


def _print_summary(summary: dict[str, Any], page: Path) -> None:
    from rich.table import Table

    table = Table(title="rewardlab search", show_header=False)
    for key in ("prompts", "candidates", "select", "strategy", "reward", "abstained", "failed_scores", "no_pick"):
        if summary.get(key) is not None:
            table.add_row(key, str(summary[key]))
    for method, acc in (summary.get("accuracy") or {}).items():
        table.add_row(f"accuracy ({method})", f"{acc['value']:.4f} [{acc['ci_low']:.4f}, {acc['ci_high']:.4f}]")
    compute = summary.get("compute") or {}
    for key in ("generated_tokens", "reward_calls", "reward_samples"):
        if key in compute:
            table.add_row(key, str(compute[key]))
    table.add_row("report", str(page))
    console.print(table)
