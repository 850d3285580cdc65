"""``rewardlab synth``: write the embedded world's problems and labelled data files."""

from __future__ import annotations

from pathlib import Path

import typer

from rewardlab.cli import app


@app.command()
def synth(
    out: Path = typer.Option(..., help="Folder to write problems, pairs, bon and steps JSONL files into."),
    n: int = typer.Option(1000, min=1, help="Number of problems."),
    seed: int = typer.Option(0, help="World seed: the same seed always gives the same files."),
    difficulty: str | None = typer.Option(None, help="easy, medium or hard (default: a mix)."),
) -> None:
    """Generate verifiable arithmetic word problems with exact labels.

    Writes, into OUT: problems.jsonl (question, gold steps, answer),
    pairs.jsonl (gold vs one corrupted solution; subset = corruption kind),
    bon.jsonl (gold + 3 wrong solutions, RewardBench 2 layout),
    steps.jsonl (ProcessBench label = first wrong step, or -1) and manifest.json.
    """
    from rewardlab.synth.export import write_world

    manifest = write_world(out, n, seed, difficulty)
    for name, rows in manifest["rows"].items():
        typer.echo(f"{rows:>7} rows  {out / manifest['files'][name]}")
