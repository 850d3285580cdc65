"""``rewardlab eval`` (benchmarks -> results.json + report.html) and ``rewardlab compare`` (two runs)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from rewardlab.cli import app
from rewardlab.progress import console


@app.command("eval")
def eval_command(
    reward: str = typer.Option(..., help="Reward spec, e.g. classifier:minilm, classifier:PATH, rule:math."),
    bench: list[str] = typer.Option(..., "--bench", help="Benchmark name (hh-rlhf, rm-bench, llmbar, judgebench, "
                                    "gsm8k-bon, or a plugin's) or a pairwise / best-of-N / RewardBench file. "
                                    "Repeat for several."),
    out: Path = typer.Option(..., help="Output folder: results.json, items.jsonl, report.html."),
    data_root: Path | None = typer.Option(None, "--data-root", help="Folder holding the benchmark data (default: "
                                          "$REWARDLAB_DATA, else ../shared/data)."),
    limit: int | None = typer.Option(None, help="Evaluate at most N records per benchmark (taken round-robin "
                                     "over subsets); recorded in results.json."),
    seed: int = typer.Option(0, help="Seed of the bootstrap resampling."),
    bootstrap: int = typer.Option(1000, help="Bootstrap resamples for the 95% CIs."),
    ece_bins: int = typer.Option(10, help="Equal-width bins for ECE and the reliability diagram."),
    report: bool = typer.Option(True, help="Write report.html."),
    progress: bool = typer.Option(True, help="Show progress bars."),
    resume: bool = typer.Option(False, help="Continue an interrupted run from the finished chunks in OUT/.chunks/."),
) -> None:
    """Evaluate a reward on benchmarks: exact metrics with CIs, calibration and bias diagnostics, a report.

    Items a reward fails on (error or NaN score) are counted as failures and excluded, never scored as
    ties. Re-running with the same inputs gives the same numbers (seeded bootstrap). Under ``torchrun
    --nproc-per-node N`` the processes share the scoring and process 0 writes what one process writes;
    finished chunks are kept in OUT/.chunks/ until the results are written, so a killed run continues
    with ``--resume``.
    """
    from rewardlab.evaluate.analysis import Settings
    from rewardlab.evaluate.runner import EvalConfig, run
    from rewardlab.scoring import scoring_job, spec_device

    with scoring_job(out / ".chunks", resume, identity=reward, device=spec_device(reward)) as job:
        config = EvalConfig(reward=reward, benches=bench, out=out, data_root=data_root, limit=limit,
                            settings=Settings(seed=seed, resamples=bootstrap, bins=ece_bins), report=report,
                            progress=None if progress and job.is_main else False)  # one process reports
        results = run(config)
    if not job.is_main:
        return
    print_summary(results)
    console.print(f"wrote {out / 'results.json'}" + (f", {out / 'report.html'}" if report else ""))


def print_summary(results: dict[str, Any]) -> None:
    """A rich table: each benchmark's primary metric, then its subsets."""
    table = Table(title=f"rewardlab eval · {results['reward']['spec']}")
    for col in ("benchmark / subset", "metric", "value", "95% CI", "scored", "failed", "ties"):
        left = col in ("benchmark / subset", "metric")
        table.add_column(col, justify="left" if left else "right", no_wrap=not left, overflow="fold")
    for name, block in results["benchmarks"].items():
        p = block["metrics"]["primary"]
        table.add_row(f"[bold]{name}[/]", p["name"], _num(p["value"]), _ci(p), str(p.get("scored", "")),
                      _failed(p.get("failed", 0)), "")
        if block["kind"] == "processbench":
            pb = block["metrics"]["processbench"]
            for subset, s in pb["subsets"].items():
                table.add_row(f"  {subset}", f"f1 (err {_num(s['error_acc'])}, corr {_num(s['correct_acc'])})",
                              _num(s["f1"]), "", str(s["n_error"] + s["n_correct"] - s["failed"]),
                              _failed(s["failed"]), "")
            continue
        if block["kind"] == "master-keys":  # a false-positive rate per key (lower is better), not an accuracy
            for k in block["metrics"]["keys"]:
                table.add_row(f"  {k['label']}", "FPR", _num(k["value"]), _ci(k), str(k["scored"]),
                              _failed(k["failed"]), "")
            continue
        for subset, s in block["metrics"]["subsets"].items():
            a = s.get("strict") or s.get("accuracy")
            table.add_row(f"  {subset}", "accuracy", _num(a["value"]), _ci(a), str(a["scored"]),
                          _failed(a["failed"]), str(a.get("ties", "")) if "strict" in s else "")
    console.print(table)


@app.command("compare")
def compare_command(
    run_a: Path = typer.Argument(..., help="Folder of run A (written by rewardlab eval --out)."),
    run_b: Path = typer.Argument(..., help="Folder of run B."),
    bootstrap: int = typer.Option(1000, help="Bootstrap resamples."),
    seed: int = typer.Option(0, help="Seed of the bootstrap resampling."),
    out: Path | None = typer.Option(None, help="Also write the comparison as JSON here (atomically)."),
) -> None:
    """Show two evaluation runs side by side, with a paired-bootstrap CI and p-value for A - B per subset.

    Items are matched by benchmark and id; only items both runs scored are compared.
    """
    from rewardlab.evaluate.compare import compare_runs

    result = compare_runs(run_a, run_b, bootstrap, seed)
    table = Table(title=f"A = {result['a']['reward']} ({run_a})  vs  B = {result['b']['reward']} ({run_b})")
    for col in ("benchmark / subset", "n", "A", "B", "A - B", "95% CI", "p"):
        table.add_column(col, justify="left" if col.startswith("bench") else "right")
    for name, block in result["benchmarks"].items():
        for subset, s in block["subsets"].items():
            label = f"[bold]{name}[/]" if subset == "all" else f"  {subset}"
            mark = " *" if s["p_value"] == s["p_value"] and s["p_value"] < 0.05 else ""
            table.add_row(label, str(s["n"]), _num(s["a"]), _num(s["b"]), _num(s["diff"]) + mark,
                          _ci(s), _num(s["p_value"], 3))
    console.print(table)
    console.print("* p < 0.05 (paired bootstrap over shared items). Benchmarks only in A: "
                  f"{result['only_in_a'] or 'none'}; only in B: {result['only_in_b'] or 'none'}")
    if out is not None:
        from rewardlab.evaluate.runner import clean
        from rewardlab.io import write_json

        write_json(out, clean(result))


def _num(x: Any, digits: int = 4) -> str:
    return "n/a" if x is None or x != x else f"{x:.{digits}f}"


def _ci(block: dict[str, Any]) -> str:
    lo, hi = block.get("ci_low"), block.get("ci_high")
    return "" if lo is None or hi is None or lo != lo else f"{lo:.3f}-{hi:.3f}"


def _failed(n: int) -> str:
    return f"[red]{n}[/]" if n else "0"
