"""``rewardlab demo``: the whole reward-modeling lifecycle on the embedded world, offline."""

from __future__ import annotations

from pathlib import Path

import typer

from rewardlab.cli import app


@app.command()
def demo(
    out: Path = typer.Option(Path("rewardlab-demo"), help="Folder for every artefact and report.html."),
    fresh: bool = typer.Option(False, "--fresh", help="Rebuild every stage instead of reusing cached ones."),
    size: str = typer.Option("full", help="full (the real run, minutes) or small (a quick check)."),
    progress: bool = typer.Option(True, help="Show progress bars."),
    outcome_rm: bool | None = typer.Option(None, "--outcome-rm/--no-outcome-rm", help=(
        "Also train and compare the MiniLM Bradley-Terry outcome model (default: the size's setting).")),
) -> None:
    """Train and compare reward models end to end with no download.

    Generates arithmetic word problems and trains a tiny policy on them,
    samples best-of-N candidates and labels them with the rule verifier,
    trains a step verifier (a process reward model on the policy's own
    backbone that checks every equation, from exact labels) and, with
    --outcome-rm, a MiniLM Bradley-Terry reward model on (correct, wrong)
    pairs, then reports which reward helps the policy at best-of-N, as a
    pick and as a weighted majority vote (CIs against random and majority
    vote), with pairwise accuracy, calibration and what mistakes each
    sees, in OUT/report.html. A second run reuses cached stages.
    """
    from dataclasses import replace

    from rewardlab.demo.pipeline import SIZES, run_demo

    if size not in SIZES:
        raise typer.BadParameter(f"unknown size {size!r}; expected one of {', '.join(SIZES)}", param_hint="--size")
    chosen = SIZES[size] if outcome_rm is None else replace(SIZES[size], outcome_rm=outcome_rm)
    run_demo(out, size=chosen, fresh=fresh, progress=None if progress else False, echo=typer.echo)
