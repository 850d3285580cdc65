"""``rewardlab search bon`` and ``rewardlab search beam``: inference-time search with any reward; and
``rewardlab annotate``: data curation with one.

``annotate`` (a top-level command, registered here) scores a dataset into SFT and DPO data.
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
    curve_n: list[int] = typer.Option([], help="N values of the curves (repeat; default 1, 2, 4, ... M)."),
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
    config = BonConfig(select=select, answer=answer, weighting=weighting, prm_agg=prm_agg, subsets=subsets, seed=seed,
                       ns=tuple(curve_n) or None)
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


@search_app.command("beam")
def beam(
    out: Path = typer.Option(..., help="Output JSONL: the chosen solution per prompt, its step scores and compute."),
    prompts: str = typer.Option(..., help="Prompts: a file (prompt [, id, reference]) or world:N[,seed=S]."),
    generator: str = typer.Option(..., help="Generation backend: hf:PATH, hf:world, openai:MODEL,base_url=URL."),
    reward: str = typer.Option(..., help="A process reward (step scores): process:PATH, implicit:...,steps=true."),
    width: int = typer.Option(4, min=1, help="Beams kept per prompt after each step."),
    expansions: int = typer.Option(4, min=1, help="Continuations sampled per beam per step."),
    delimiter: str = typer.Option("\\n", help="Step delimiter (a stop string; \\n, \\t, \\s unescaped)."),
    max_steps: int = typer.Option(8, min=1, help="Most steps a solution may take."),
    step_tokens: int = typer.Option(48, min=1, help="Token limit per step."),
    temperature: float = typer.Option(0.8, help="Sampling temperature of the expansions."),
    top_p: float = typer.Option(1.0, help="Nucleus sampling mass."),
    lookahead: int = typer.Option(0, min=0, help="Rank each child by the PRM after a greedy rollout of this many "
                                                 "more steps (0: plain beam search)."),
    rank: str = typer.Option("last", help="Rank partial solutions by their step scores: last | min | product | mean."),
    strategy: str = typer.Option("beam", help="beam (with --lookahead for lookahead search) | best-first."),
    max_expansions: int = typer.Option(16, min=1, help="best-first: the most nodes expanded per prompt."),
    answer: str = typer.Option("math", help="A step stating an answer (math | world | regex:PATTERN) ends a solution."),
    verifier: str | None = typer.Option(None, help="Gold labels for the report (world prompts use the world's)."),
    seed: int = typer.Option(0, help="Sampling seed."),
    retries: int = typer.Option(2, min=0, help="Retries of a prompt whose generation failed."),
    report: Path | None = typer.Option(None, help="Folder for results.json and report.html (default OUT.report/)."),
    limit: int | None = typer.Option(None, help="Only the first N prompts."),
) -> None:
    """PRM-guided step-level beam search (or lookahead, or best-first search); compute accounted per prompt."""
    from rewardlab.generation import load_generator
    from rewardlab.rewards.base import load_reward
    from rewardlab.rewards.process import unescape
    from rewardlab.search.beam import BeamConfig, beam_search
    from rewardlab.search.pools import Compute, CountingReward
    from rewardlab.search.prompts import load_prompts

    config = BeamConfig(width=width, expansions=expansions, delimiter=unescape(delimiter), max_steps=max_steps,
                        step_tokens=step_tokens, temperature=temperature, top_p=top_p, seed=seed, lookahead=lookahead,
                        rank=rank, answer=answer, retries=retries)
    compute = Compute()
    scorer = CountingReward(load_reward(reward), compute)
    rows_in = load_prompts(prompts, limit)
    gen = load_generator(generator)
    if strategy == "best-first":
        from rewardlab.search.best_first import best_first_search

        result = best_first_search(gen, scorer, rows_in, config, max_expansions, compute)
    elif strategy == "beam":
        result = beam_search(gen, scorer, rows_in, config, compute)
    else:
        raise typer.BadParameter(f"unknown strategy {strategy!r}; expected beam or best-first")
    name = strategy if strategy == "best-first" else ("lookahead" if lookahead else "beam")
    summary = {"prompts": len(rows_in), "strategy": name, "reward": scorer.name,
               "config": config.__dict__, "compute": compute.to_dict(), "generator": gen.provenance(),
               "failed_prompts": [f.__dict__ for f in result.failed], "output": str(out)}
    summary["accuracy"] = label_and_score(result.rows, rows_in, load_reward(verifier) if verifier else None)
    if summary["accuracy"] is None:
        summary.pop("accuracy")
    _finish(out, result.rows, summary, report, "rewardlab search beam")


def label_and_score(rows: list[dict[str, Any]], prompts: list[Any], verifier: Any) -> dict[str, Any] | None:
    """Mark each row's chosen solution right or wrong (world prompts: the world's exact verifier; else the
    verifier reward, value >= 0.5); the accuracy over prompts with a CI (no pick counts as wrong)."""
    import numpy as np

    from rewardlab.evaluate.metrics import bootstrap_ci
    from rewardlab.synth.world import is_correct
    from rewardlab.types import Sample

    if not all(p.world for p in prompts) and verifier is None:
        return None
    by_id = {p.id: p for p in prompts}
    if verifier is not None:
        todo = [r for r in rows if r.get("chosen")]
        scores = verifier.score([Sample(by_id[r["id"]].prompt, r["chosen"], reference=by_id[r["id"]].reference)
                                 for r in todo])
        for r, s in zip(todo, scores):
            r["correct"] = bool(s.ok and s.value >= 0.5)
    else:
        for r in rows:
            p = by_id[r["id"]]
            r["correct"] = bool(r.get("chosen")) and is_correct(r["chosen"], p.reference)
    credit = np.asarray([float(bool(r.get("correct"))) for r in rows])
    low, high = bootstrap_ci(credit)
    return {"search": {"value": float(credit.mean()), "ci_low": low, "ci_high": high, "n": len(credit)}}


@app.command("annotate")
def annotate_command(
    reward: str = typer.Option(..., help="Reward spec (any family, or a composite .yaml)."),
    data: str = typer.Option(..., help="Dataset: candidates (prompt, responses[]), pairs, or samples (prompt, "
                                       "response; grouped by prompt). jsonl/json/parquet/HF dataset folder."),
    out: Path = typer.Option(..., help="Output folder: scored, sft, dpo (+ provenance.json)."),
    format: str = typer.Option("jsonl", help="Output format: jsonl | parquet | hf (a datasets folder)."),
    sft_top_k: int | None = typer.Option(1, help="RAFT: keep the top K responses per prompt (0: no limit)."),
    sft_threshold: float | None = typer.Option(None, help="RAFT: keep responses scoring at least this."),
    pairs: str = typer.Option("best-worst", help="DPO pairs: best-worst | margin (all pairs >= --margin) | none."),
    margin: float = typer.Option(0.0, min=0.0, help="Least score difference of a DPO pair."),
    kind: str = typer.Option("auto", help="Input kind: auto, candidates, pairs or samples."),
    limit: int | None = typer.Option(None, help="Only the first N input records."),
    chunk_size: int = typer.Option(256, min=1, help="Responses per chunk: the unit of checkpoints and resume."),
    resume: bool = typer.Option(False, help="Continue an interrupted run from the chunks in OUT/.chunks/."),
    progress: bool = typer.Option(True, help="Show a progress bar."),
) -> None:
    """Score a dataset with a reward; write RAFT-filtered SFT data, DPO pairs and a scored copy (resumable)."""
    from rewardlab.data import load_records
    from rewardlab.rewards.base import load_reward
    from rewardlab.search.annotate import AnnotateConfig, annotate, groups_from_records

    config = AnnotateConfig(sft_top_k=sft_top_k or None, sft_threshold=sft_threshold, pairs=pairs, margin=margin,
                            format=format)
    detected, records = load_records(data, kind=kind, limit=limit)
    groups = groups_from_records(detected, records)
    record = annotate(load_reward(reward), groups, out, config, spec=reward, data=data, resume=resume,
                      chunk=chunk_size, show_progress=progress)
    if not record:
        return
    from rich.table import Table

    table = Table(title=f"rewardlab annotate · {record['reward']}", show_header=False)
    for key, value in record["counts"].items():
        table.add_row(key, str(value))
    table.add_row("resumed_responses", str(record["scoring"]["resumed_responses"]))
    for key, value in record["outputs"].items():
        table.add_row(key, value)
    console.print(table)
