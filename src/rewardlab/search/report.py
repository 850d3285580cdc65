"""A search run's ``results.json`` and self-contained ``report.html`` (figures embedded as base64 PNGs):
accuracy of each rule with CIs, the curves over N, the over-optimisation plot, and the compute spent."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from rewardlab.io import atomic_writer, write_json


def write_search_report(folder: str | Path, results: dict[str, Any], title: str = "rewardlab search") -> Path:
    folder = Path(folder)
    write_json(folder / "results.json", results)
    path = folder / "report.html"
    with atomic_writer(path) as fh:
        fh.write(render(results, title))
    return path


def render(results: dict[str, Any], title: str) -> str:
    from rewardlab.evaluate.report import CSS
    from rewardlab.search.curves import accuracy_figure, overoptimisation_figure

    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{_e(title)}</title>"
             f"<style>{CSS}</style></head><body><h1>{_e(title)}</h1>"]
    acc = results.get("accuracy")
    if acc:
        rows = "".join(f"<tr><td>{_e(m)}</td><td>{a['value']:.3f}</td><td>[{a['ci_low']:.3f}, {a['ci_high']:.3f}]</td>"
                       f"<td>{a['n']}</td></tr>" for m, a in acc.items())
        parts.append("<h2>Accuracy of the pick (gold)</h2><table><tr><th>rule</th><th>accuracy</th><th>95% CI</th>"
                     f"<th>prompts</th></tr>{rows}</table>")
    curves = (results.get("curves") or {}).get("curves") or {}
    figs = []
    if any(rows and "gold" in rows[0] for rows in curves.values()):
        figs.append(_figure(accuracy_figure(curves), "accuracy against N (exact best-of-N; votes by random subsets)"))
    if curves.get("reward"):
        figs.append(_figure(overoptimisation_figure(curves["reward"]), "proxy reward vs gold as best-of-n grows "
                            "(x: analytic KL of best-of-n, log n - (n-1)/n)"))
    if figs:
        parts.append(f"<div class='figs'>{''.join(figs)}</div>")
    for name, rows in curves.items():
        if not rows:
            continue
        cols = [k for k in rows[0] if k != "n"]
        head = "".join(f"<th>{_e(c)}</th>" for c in cols)
        body = "".join("<tr><td>" + str(r["n"]) + "</td>" + "".join(f"<td>{_fmt(r.get(c))}</td>" for c in cols)
                       + "</tr>" for r in rows)
        parts.append(f"<h3>{_e(name)}</h3><table><tr><th>N</th>{head}</tr>{body}</table>")
    rest = {k: v for k, v in results.items() if k not in ("curves", "accuracy")}
    parts.append(f"<h2>Run</h2><pre>{_e(json.dumps(rest, indent=2, default=str))}</pre></body></html>")
    return "".join(parts)


def _figure(png: str, caption: str) -> str:
    return (f"<figure><img src='data:image/png;base64,{png}' alt='{_e(caption)}'>"
            f"<figcaption>{_e(caption)}</figcaption></figure>")


def _fmt(x: Any) -> str:
    return f"{x:.4f}" if isinstance(x, float) else _e(str(x))


def _e(text: str) -> str:
    return html.escape(str(text))
