"""``rewardlab label-steps``: automatic step labels by Monte-Carlo rollouts and by binary search."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from rewardlab.cli import app

WORLD = "world"


@app.command("label-steps")
def label_steps(
    out: Path = typer.Option(..., help="Output folder: <method>.jsonl per method and report.json."),
    data: str = typer.Option(WORLD, help=f"'{WORLD}' (generated problems and corruptions with gold first "
                                         "errors) or a step file with prompt, steps and reference (the answer)."),
    method: list[str] = typer.Option(["mc", "binary"], help="mc (Math-Shepherd) and/or binary (OmegaPRM-style)."),
    completer: str = typer.Option("policy", help="policy (sampled continuations) or gold (world only: the gold "
                                                 "plan continued from the prefix's numbers, deterministic)."),
    policy: str = typer.Option("full", help="Policy folder, or a preset of the embedded tiny policy "
                                             "(tiny, small, full), trained and cached on first use."),
    n: int = typer.Option(8, help="Rollouts per probed prefix (K)."),
    chunk: int = typer.Option(1, help="Binary search: draw this many rollouts at a time and stop at the "
                                      "first success (only q > 0 matters)."),
    temperature: float = typer.Option(1.0, help="Sampling temperature of the policy."),
    labels: str = typer.Option("soft", help="MC label written: soft (c/K) or hard (c >= 1)."),
    problems: int = typer.Option(50, help="World: number of problems (each gives a gold solution and "
                                          "one corruption per kind)."),
    seed: int = typer.Option(0, help="World seed and sampling seed."),
    difficulty: str | None = typer.Option(None, help="World: easy, medium or hard (default: mixed)."),
    limit: int | None = typer.Option(None, help="Label only the first N solutions."),
    progress: bool = typer.Option(True, help="Show a progress bar."),
) -> None:
    """Label steps automatically and report agreement with known first-error labels.

    MC: from each step prefix, K policy completions checked by the verifier; soft label = share correct,
    hard label = any correct. Binary: for a solution with a wrong final answer, a binary search over
    prefixes for the first one no completion can rescue (about log2(steps) probes). Where the input has
    gold first errors (the world always does), report.json gives each method's agreement and rollout cost.
    """
    from rewardlab.io import write_json, write_jsonl
    from rewardlab.labeling.run import METHODS, agreement, label_rows, label_tasks
    from rewardlab.progress import console, progress_bar

    bad = [m for m in method if m not in METHODS]
    if bad or labels not in ("soft", "hard") or n < 1 or chunk < 1:
        raise typer.BadParameter(f"method in {METHODS}, labels soft|hard, n >= 1, chunk >= 1 (got {bad or ''} "
                                 f"labels={labels} n={n} chunk={chunk})")
    tasks, source = _tasks(data, completer, policy, problems, seed, difficulty, temperature)
    tasks = tasks[:limit] if limit else tasks
    report: dict[str, Any] = {"data": source, "completer": completer, "policy": policy if completer == "policy"
                              else None, "n": n, "chunk": chunk, "temperature": temperature, "methods": {}}
    out.mkdir(parents=True, exist_ok=True)
    for m in method:
        with progress_bar(f"label-steps {m}", len(tasks), enabled=None if progress else False) as bar:
            advance = (lambda k: bar.advance(bar.task_ids[0], k)) if bar is not None else None
            results, seconds = label_tasks(tasks, m, n, chunk, advance)
        write_jsonl(out / f"{m}.jsonl", label_rows(tasks, results, m, labels == "soft"))
        report["methods"][m] = {**agreement(tasks, results), "seconds": seconds}
    write_json(out / "report.json", report)
    _print(console, report)


def _tasks(data: str, completer: str, policy: str, problems: int, seed: int, difficulty: str | None,
           temperature: float) -> tuple[list, str]:
    """One `Task` per solution: the world's gold solutions and corruptions, or the rows of a file."""
    from rewardlab.labeling.run import Task
    from rewardlab.labeling.world import gold_completer, policy_completer, world_verifier

    if completer not in ("policy", "gold"):
        raise typer.BadParameter(f"completer must be policy or gold, got {completer!r}")
    if completer == "gold" and data != WORLD:
        raise typer.BadParameter("--completer gold needs --data world (it continues the world's gold plan)")
    model = tokenizer = None
    if completer == "policy":
        from rewardlab.synth.policy import PRESETS, default_policy, load_policy

        model, tokenizer = load_policy(default_policy(size=policy) if policy in PRESETS else policy)
    if data != WORLD:
        return _file_tasks(data, model, tokenizer, seed, temperature), data
    from rewardlab.synth.export import step_rows
    from rewardlab.synth.world import generate_problems

    world = generate_problems(problems, seed, difficulty)
    by_id = {p.id: p for p in world}
    tasks = []
    for k, row in enumerate(step_rows(world, seed)):
        problem = by_id[row["id"].rsplit("-", 1)[0]]
        rollout = gold_completer(problem) if completer == "gold" else policy_completer(
            model, tokenizer, problem.prompt, temperature, seed=seed * 100_003 + k)
        tasks.append(Task(row["id"], row["prompt"], row["steps"], rollout, world_verifier(problem),
                          row["first_error"], row["kind"], row["reference"]))
    return tasks, f"world(problems={problems}, seed={seed}, difficulty={difficulty})"


def _file_tasks(path: str, model: Any, tokenizer: Any, seed: int, temperature: float) -> list:
    """Rows with ``prompt, steps, reference`` (labelled or not); verified by ``rule:math`` on the reference."""
    from rewardlab.data import load_records
    from rewardlab.labeling.run import Task
    from rewardlab.labeling.world import policy_completer
    from rewardlab.rewards.base import load_reward
    from rewardlab.types import Sample

    kind, records = load_records(path)
    if kind not in ("steps", "samples"):
        raise typer.BadParameter(f"{path}: found {kind} records; label-steps needs prompt, steps and reference")
    verifier = load_reward("rule:math")
    tasks = []
    for k, record in enumerate(records):
        steps = list(record.steps or ())
        where = getattr(record, "source", None) or (record.metadata or {}).get("source") or f"{path}[{k}]"
        if not steps or not record.reference or not isinstance(record.prompt, str):
            raise typer.BadParameter(f"{where}: needs a text prompt, non-empty steps and a reference answer")

        def verify(text: str, prompt: str = record.prompt, ref: str = record.reference) -> bool:
            return verifier.score([Sample(prompt, text, reference=ref)])[0].value == 1.0

        rollout = policy_completer(model, tokenizer, record.prompt, temperature, seed=seed * 100_003 + k)
        gold = getattr(record, "first_error", None)
        tasks.append(Task(getattr(record, "id", None) or where, record.prompt, steps, rollout, verify, gold,
                          getattr(record, "subset", "default"), record.reference))
    return tasks


def _print(console: Any, report: dict[str, Any]) -> None:
    from rich.table import Table

    table = Table(title=f"step labels vs gold first error ({report['completer']} completer, K={report['n']})")
    for column in ("method", "solutions", "agreement", "on right", "on wrong", "rollouts/solution", "probes"):
        table.add_column(column)
    for name, m in report["methods"].items():
        a, c, w = m["all"], m["correct_solutions"], m["wrong_solutions"]
        fmt = lambda block: f"{block['agreement']:.3f}" if block.get("solutions") else "-"  # noqa: E731
        table.add_row(name, str(a.get("solutions", 0)), fmt(a), fmt(c), fmt(w),
                      f"{a.get('rollouts_per_solution', 0):.1f}", f"{a.get('probes_per_solution', 0):.2f}")
    console.print(table)
