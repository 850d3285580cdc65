"""``rewardlab score``: score a pairwise or plain sample file with any reward, written atomically."""

from __future__ import annotations

import math
import random
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from rewardlab.cli import app
from rewardlab.progress import console

GENERATED = "generated"


@app.command()
def score(
    reward: str = typer.Option("classifier:minilm", help="Reward spec, e.g. classifier:PATH, rule:math."),
    data: str = typer.Option(..., help=f"Input file (jsonl/json/parquet/.gz/HF dataset dir) or "
                                       f"'{GENERATED}' for a small generated pairwise sample."),
    out: Path = typer.Option(..., help="Output JSONL, one row per input row, written atomically."),
    kind: str = typer.Option("auto", help="Input kind: auto, pairs or samples."),
    prompt_key: str = typer.Option("prompt", help="Field holding the prompt."),
    chosen_key: str = typer.Option("chosen", help="Field holding the preferred response."),
    rejected_key: str = typer.Option("rejected", help="Field holding the dispreferred response."),
    response_key: str = typer.Option("response", help="Field holding the response (sample files)."),
    limit: int | None = typer.Option(None, help="Score only the first N records."),
    max_length: int | None = typer.Option(None, help="Token limit (default: the model's)."),
    truncation: str = typer.Option("truncate-left", help="truncate-left | truncate-right | drop | error."),
    batch_tokens: int | None = typer.Option(None, help="Padded tokens per batch (default 2048 on CPU)."),
    progress: bool = typer.Option(True, help="Show a progress bar."),
) -> None:
    """Score every record of a file with one reward and write the scores as JSONL.

    Pairwise files get both sides scored and a pairwise accuracy; sample files get one score per row.
    """
    from rewardlab.rewards.base import load_reward

    records, detected = _load(data, kind, prompt_key, chosen_key, rejected_key, response_key, limit)
    spec = _with_engine_options(reward, max_length, truncation, batch_tokens)
    scorer = load_reward(spec)
    rows, summary = (_score_pairs if detected == "pairs" else _score_samples)(scorer, records, progress)
    from rewardlab.io import write_jsonl

    write_jsonl(out, rows)
    summary["output"] = str(out)
    for key in ("truncated", "dropped"):
        if hasattr(scorer, key):
            summary[key] = getattr(scorer, key)
    _print_summary(scorer.name, summary)


def _load(data, kind, prompt_key, chosen_key, rejected_key, response_key, limit):
    if data == GENERATED:
        return generated_pairs(limit or 64), "pairs"
    from rewardlab.data import FieldKeys, load_records

    keys = FieldKeys(prompt_key=prompt_key, chosen_key=chosen_key, rejected_key=rejected_key,
                     response_key=response_key)
    detected, records = load_records(data, kind=kind, keys=keys, limit=limit)
    if detected not in ("pairs", "samples"):
        raise typer.BadParameter(f"{data}: detected {detected} records; score handles pairs and samples "
                                 "(use rewardlab eval for best-of-N and step-labelled data)")
    return records, detected


def _with_engine_options(spec: str, max_length, truncation, batch_tokens) -> str:
    if not spec.startswith("classifier:"):
        return spec
    extra = [f"truncation={truncation}"]
    if max_length:
        extra.append(f"max_length={max_length}")
    if batch_tokens:
        extra.append(f"batch_tokens={batch_tokens}")
    return ",".join([spec, *extra])


def _score_pairs(scorer, pairs, show) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    from rewardlab.evaluate.metrics import pairwise_accuracy
    from rewardlab.scoring import score_pairs

    chosen, rejected, report = score_pairs(scorer, pairs, show_progress=show)
    rows = [{"id": pair.id, "subset": pair.subset, "source": pair.source,
             "chosen_score": _num(c.value), "rejected_score": _num(r.value),
             "error": c.failure_reason or r.failure_reason}
            for pair, c, r in zip(pairs, chosen, rejected)]
    strict = pairwise_accuracy(_values(chosen), _values(rejected))["strict"]  # a tie is wrong, as TRL counts
    summary = _report_fields(report)
    summary.update(pairs=len(pairs), scored_pairs=strict.scored, failed_pairs=strict.failed, ties=strict.ties,
                   accuracy=strict.value, accuracy_ci95=f"[{strict.ci_low:.4f}, {strict.ci_high:.4f}]")
    return rows, summary


def _values(scores) -> list[float]:
    """Score values with every failure as NaN, which the metrics count as failures."""
    return [s.value if s.ok else math.nan for s in scores]


def _score_samples(scorer, samples, show) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    from rewardlab.scoring import score_samples

    scores, report = score_samples(scorer, samples, show_progress=show)
    rows = [{"id": s.metadata.get("id"), "source": s.metadata.get("source"), "score": _num(sc.value),
             "components": sc.components or None, "steps": sc.steps, "rationale": sc.rationale,
             "error": sc.failure_reason} for s, sc in zip(samples, scores)]
    return rows, _report_fields(report)


def _report_fields(report) -> dict[str, Any]:
    return {"sequences": report.requested, "failed_sequences": report.failed,
            "seconds": round(report.seconds, 2), "tokens_per_s": round(report.tokens_per_second, 1)}


def _num(value: float) -> float | None:
    return value if math.isfinite(value) else None  # strict JSON has no NaN or inf


def _print_summary(name: str, summary: dict[str, Any]) -> None:
    table = Table(title=f"rewardlab score · {name}", show_header=False)
    for key, value in summary.items():
        table.add_row(key, f"{value:.4f}" if isinstance(value, float) else str(value))
    console.print(table)


def generated_pairs(n: int, seed: int = 0):
    """Arithmetic questions with a correct (chosen) and a wrong (rejected) worked answer."""
    from rewardlab.types import PairRecord

    rng = random.Random(seed)
    pairs = []
    for i in range(n):
        a, b = rng.randint(2, 99), rng.randint(2, 99)
        wrong = a + b + rng.choice([-10, -2, -1, 1, 2, 10])
        pairs.append(PairRecord(
            prompt=f"What is {a} + {b}?", chosen=f"{a} + {b} = {a + b}. The answer is {a + b}.",
            rejected=f"{a} + {b} = {wrong}. The answer is {wrong}.", subset="arithmetic",
            id=f"gen-{i}", source=f"{GENERATED}[{i}]",
        ))
    return pairs
