"""``report.html``: one self-contained page a person reads (plots are inline base64 PNGs, CSS is inline,
nothing is fetched). Built from the results dict alone, so ``results.json`` can be re-rendered later.

Sections: summary (primary metric per benchmark with CIs), then per benchmark: per-subset bars and table,
reward histograms, reliability diagram, length-bias plot, best-of-N table and curve or RM-Bench matrices,
failures; finally the provenance (reward, model hash, settings, data files with sha256, environment).
"""

from __future__ import annotations

import html
import json
from typing import Any

from rewardlab.evaluate import figures

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#222;max-width:1150px}
h1{font-size:22px} h2{font-size:18px;border-bottom:1px solid #ccc;padding-bottom:4px;margin-top:32px}
h3{font-size:14px;margin:14px 0 6px}
table{border-collapse:collapse;font-size:12px;margin:6px 0 12px} td,th{border:1px solid #ddd;padding:3px 7px}
th{background:#f3f3f3;text-align:left} td.num{text-align:right;font-variant-numeric:tabular-nums}
.figs{display:flex;flex-wrap:wrap;gap:10px;align-items:flex-start} .figs img{border:1px solid #eee}
.note{color:#666;font-size:12px} .warn{color:#b30000;font-weight:600} code{font-size:12px}
"""


MAX_REASONS = 12
"""Failure reasons listed per benchmark (most frequent first); results.json keeps every one."""


def render_report(results: dict[str, Any]) -> str:
    """The whole HTML page as a string."""
    reward = results.get("reward", {})
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>rewardlab eval: {_e(reward.get('spec', ''))}</title><style>{CSS}</style></head><body>",
        f"<h1>rewardlab eval &middot; <code>{_e(reward.get('spec', ''))}</code></h1>",
        f"<p class='note'>rewardlab {_e(results.get('rewardlab_version'))} &middot; {_e(results.get('created'))}"
        f" &middot; wall time {_num(results.get('wall_time_s'), 1)} s</p>",
        _summary(results.get("summary", {})),
    ]
    for name, block in results.get("benchmarks", {}).items():
        parts.append(_benchmark(name, block))
    parts.append(_provenance(results))
    parts.append("</body></html>")
    return "\n".join(parts)


def _summary(summary: dict[str, Any]) -> str:
    rows = [[_e(n), _e(s["metric"]), _num(s["value"]), _ci(s), str(s["records"]), _failed(s["failed"])]
            for n, s in summary.items()]
    table = _table(["benchmark", "metric", "value", "95% CI", "records", "failed"], rows)
    img = _img(figures.summary_bars(summary), "primary metric per benchmark") if summary else ""
    return f"<h2>Summary</h2>{table}<div class='figs'>{img}</div>"


def _benchmark(name: str, block: dict[str, Any]) -> str:
    m, kind = block["metrics"], block["kind"]
    limit = f" (limit {block['limit']} of {block['records_total']})" if block.get("limit") is not None else ""
    head = (f"<h2 id='{_e(name)}'>{_e(name)}</h2><p class='note'>{_e(block.get('description', ''))} &middot; "
            f"{block['records']} records{limit} &middot; kind {kind}</p>")
    notes = "".join(f"<p class='note'>Note: {_e(n)}</p>" for n in block.get("notes", []))
    if kind == "processbench":
        return head + notes + _processbench(name, m)
    if kind == "master-keys":
        return head + notes + _master_keys(name, m)
    what = "correct vs incorrect" if kind == "best-of-n" else "chosen vs rejected"
    imgs = [
        _img(figures.subset_bars(m, kind), f"{name}: accuracy per subset"),
        _img(figures.histograms(m["reward_stats"], ("correct", "incorrect") if kind == "best-of-n"
                                else ("chosen", "rejected")), f"{name}: reward histograms"),
        _img(figures.reliability(m["calibration"]), f"{name}: reliability diagram"),
        _img(figures.length_bias(m["length_bias"]), f"{name}: length bias"),
    ]
    extra = ""
    if kind == "best-of-n":
        imgs.append(_img(figures.bon_curve(m["curve"]), f"{name}: best-of-N curve"))
        extra = _bon_table(m)
    if kind == "rm-bench":
        imgs.append(_img(figures.rm_bench_matrices(m["domains"]), f"{name}: RM-Bench style matrices"))
        extra = _rm_bench_table(m)
    diag = (f"<p class='note'>Diagnostics over {m['comparisons']['n']} {what} comparisons: strict accuracy "
            f"{_num(m['comparisons']['strict']['value'])}, ties {m['comparisons']['strict']['ties']}, ECE "
            f"{_num(m['calibration']['ece'])}, Brier {_num(m['calibration']['brier'])}.</p>"
            + _stats_line(m["reward_stats"], what))
    position = _position(m.get("position_bias"))
    return (head + notes + _subset_table(m, kind) + extra + diag + position
            + f"<div class='figs'>{''.join(imgs)}</div>" + _failures(m["failures"]))


def _processbench(name: str, m: dict[str, Any]) -> str:
    """Per-subset error / correct accuracy and F1 on the held-out items, tau and how it was chosen, the
    F1-against-threshold curve, and the subsets whose files were absent (left out, never zeros)."""
    pb = m["processbench"]
    keys = ("error_acc", "correct_acc", "f1")
    rows = [[_e(n), *(_num(s.get(k)) for k in keys), str(s["n_error"]), str(s["n_correct"]), _failed(s["failed"]),
             _num(pb["step_auroc"].get(n))] for n, s in pb["subsets"].items()]
    rows.append(["<b>average</b>", *(_num(pb["average"].get(k)) for k in keys), "", "", "", ""])
    table = _table(["subset", "accuracy on erroneous", "accuracy on correct", "F1", "erroneous", "correct",
                    "failed", "step AUROC"], rows)
    line = (f"<p><b>{_e(m['primary']['name'])}: {_num(m['primary']['value'])}</b> &middot; tau = "
            f"{_num(pb['threshold'])} ({_e(pb['threshold_rule'])}); dev F1 {_num(pb.get('dev_f1'))}</p>")
    missing = "".join(f"<li>{_e(k)}: {_e(v)}</li>" for k, v in pb.get("missing_subsets", {}).items())
    missing = (f"<p class='note'>Subsets not evaluated (left out of the average):</p><ul class='note'>{missing}</ul>"
               if missing else "")
    imgs = [_img(figures.processbench_subsets(pb), f"{name}: ProcessBench per subset"),
            _img(figures.processbench_curve(pb), f"{name}: F1 against threshold")]
    return line + table + missing + f"<div class='figs'>{''.join(imgs)}</div>" + _failures(m["failures"])


def _master_keys(name: str, m: dict[str, Any]) -> str:
    """False-positive rate per master key (Wilson 95% CI) overall and per dataset, the acceptance rule in
    force, the control (the reference solution's own acceptance, where the rule gives it one), failures."""
    acc, control = m["acceptance"], m["control"]
    subsets = list(m["subsets"])
    rows = [[_e(k["label"]), _e(k["family"]), _num(k["value"]), _ci(k), f"{k['accepted']} / {k['scored']}",
             _failed(k["failed"]), *(_num(k["subsets"][s]["value"]) for s in subsets)] for k in m["keys"]]
    table = _table(["key", "family", "FPR", "95% CI (Wilson)", "accepted / scored", "failed",
                    *(f"FPR {_e(s)}" for s in subsets)], rows)
    groups = _table(["group", "mean FPR", "95% CI (bootstrap over questions)", "questions"],
                    [[_e(g), _num(b["value"]), _ci(b), str(b["n"])]
                     for g, b in [*m["families"].items(), *((f"dataset {s}", m["subsets"][s]) for s in subsets)]])
    line = (f"<p><b>{_e(m['primary']['name'])}: {_num(m['primary']['value'])}</b> {_ci(m['primary'])} &middot; "
            f"accept rule <code>{_e(acc['rule'])}</code>: {_e(acc['description'])}</p>")
    ctl = (f"<p class='note'>Control, {_e(control['name'])}: {_num(control['value'])} {_ci(control)} "
           f"({control['accepted']} / {control['scored']}).</p>" if "value" in control
           else f"<p class='note'>Control: {_e(control['name'])}.</p>")
    bars = {(k["label"] if k["label"].isascii() else f"key {i + 1}: {k['label'].split(' (', 1)[-1].rstrip(')')}"):
            {"metric": "FPR", **k} for i, k in enumerate(m["keys"])}  # plot fonts may lack CJK glyphs
    img = _img(figures.summary_bars(bars, "False-positive rate per master key", "FPR (Wilson 95% CI)"),
               f"{name}: false-positive rate per key")
    return line + ctl + table + groups + f"<div class='figs'>{img}</div>" + _probe_failures(m["failures"])


def _probe_failures(f: dict[str, Any]) -> str:
    if not f["failed"]:
        return "<p class='note'>Failures: none.</p>"
    ranked = sorted(f["reasons"].items(), key=lambda kv: -kv[1])
    reasons = "".join(f"<li>{_e(k)}: {v}</li>" for k, v in ranked[:MAX_REASONS])
    return (f"<p class='warn'>{f['failed_responses']} of {f['responses']} judged responses failed (in {f['failed']} "
            f"of {f['records']} questions); a failed key is left out of its rate, never counted as rejected:</p>"
            f"<ul class='note'>{reasons}</ul>" + ("<p class='note'>more reasons in results.json</p>"
                                                  if len(ranked) > MAX_REASONS else ""))


def _subset_table(m: dict[str, Any], kind: str) -> str:
    rows = []
    for name, s in m["subsets"].items():
        if kind == "pairwise":
            st, half = s["strict"], s["half"]
            rows.append([_e(name), _num(st["value"]), _ci(st), _num(half["value"]), str(st["ties"]),
                         str(st["scored"]), _failed(st["failed"])])
        else:
            a = s["accuracy"]
            rows.append([_e(name), _num(a["value"]), _ci(a), "", "", str(a["scored"]), _failed(a["failed"])])
    if kind == "pairwise":
        header = ["subset", "accuracy (strict)", "95% CI", "half-credit", "ties", "scored", "failed"]
    else:
        header = ["subset", "accuracy", "95% CI", "scored", "failed"]
        rows = [[c for i, c in enumerate(r) if i not in (3, 4)] for r in rows]
    table = _table(header, rows)
    primary = m["primary"]
    line = f"<p><b>{_e(primary['name'])}: {_num(primary['value'])}</b> {_ci(primary)}"
    if "macro" in m:
        line += f" &middot; mean over subsets {_num(m['macro']['value'])} {_ci(m['macro'])}"
    if "rewardbench_v1" in m:
        sections = ", ".join(f"{_e(k)} {_num(v['score'])}" for k, v in m["rewardbench_v1"]["sections"].items())
        line += f" &middot; sections: {sections}"
    return line + "</p>" + table


def _stats_line(stats: dict[str, Any], what: str) -> str:
    if not stats.get("n"):
        return ""
    c, r, mg = stats["chosen"], stats["rejected"], stats["margin"]
    q = mg["quantiles"]
    first, second = what.split(" vs ")
    return (f"<p class='note'>Rewards: {first} mean {_num(c['mean'])} (std {_num(c['std'])}), {second} mean "
            f"{_num(r['mean'])} (std {_num(r['std'])}); margin mean {_num(mg['mean'])}, quantiles 5/25/50/75/95%: "
            f"{', '.join(_num(q[k]) for k in ('p5', 'p25', 'p50', 'p75', 'p95'))}.</p>")


def _bon_table(m: dict[str, Any]) -> str:
    overall = m["overall"]
    rows = [[str(r["n"]), _num(r["gold"]), _num(r["proxy"]), _num(r["kl_bon"])] for r in m["curve"]]
    base = (f"<p>Best-of-N accuracy {_num(overall['accuracy']['value'])} {_ci(overall['accuracy'])}; random pick "
            f"{_num(overall['random'])}; oracle (any correct) {_num(overall['oracle'])}.</p>")
    if "rewardbench2" in m:
        base += f"<p>RewardBench 2 score (Ties composite for the Ties subset): {_num(m['rewardbench2']['score'])}</p>"
    for name, block in m["subsets"].items():
        if "ties" in block:
            t = block["ties"]
            keys = ["score", "accuracy_ref", "accuracy_tied", "correctness_preferred", "correctness_preferred_hard",
                    "correctness_margin"]
            base += f"<p>Ties composite ({_e(name)}):</p>" + _table(
                keys + ["paired prompts", "failed groups"],
                [[_num(t.get(k)) for k in keys] + [str(t.get("prompts_paired", "")), str(t.get("failed_groups", ""))]])
    return "<h3>Best-of-N</h3>" + base + _table(["N", "gold (expected accuracy)", "proxy reward", "KL_BoN"], rows)


def _rm_bench_table(m: dict[str, Any]) -> str:
    rows = [[_e(d), _num(b["easy"]), _num(b["normal"]), _num(b["hard"]), _num(b["average"])]
            for d, b in m["domains"].items()]
    diff = m["difficulty"]
    rows.append(["<b>mean over domains</b>", _num(diff["easy"]), _num(diff["normal"]), _num(diff["hard"]),
                 _num(m["primary"]["value"])])
    return "<h3>RM-Bench difficulty</h3>" + _table(["domain", "easy", "normal", "hard", "average"], rows)


def _position(p: dict[str, Any] | None) -> str:
    if not p:
        return ("<p class='note'>Position bias: not applicable (the reward scores each response alone, so the "
                "order of a pair cannot matter).</p>")
    keys = ["agreement", "first_slot_win_rate", "accuracy_first", "accuracy_second", "accuracy_both",
            "accuracy_mean_prob"]
    return "<h3>Position bias (both orders)</h3>" + _table(keys + ["n"], [[_num(p.get(k)) for k in keys]
                                                                          + [str(p.get("n"))]])


def _failures(f: dict[str, Any]) -> str:
    if not f["failed"]:
        return "<p class='note'>Failures: none.</p>"
    ranked = sorted(f["reasons"].items(), key=lambda kv: -kv[1])
    reasons = "".join(f"<li>{_e(k)}: {v}</li>" for k, v in ranked[:MAX_REASONS])
    if len(ranked) > MAX_REASONS:
        rest = sum(v for _, v in ranked[MAX_REASONS:])
        reasons += f"<li>... {len(ranked) - MAX_REASONS} more distinct reasons ({rest} records); see results.json</li>"
    return (f"<p class='warn'>{f['failed']} of {f['records']} records failed and are excluded from every metric "
            f"(never scored as ties):</p><ul class='note'>{reasons}</ul>")


def _provenance(results: dict[str, Any]) -> str:
    reward = _table(["field", "value"], [[_e(k), _e(_short(v))] for k, v in results.get("reward", {}).items()])
    settings = _table(["field", "value"], [[_e(k), _e(_short(v))] for k, v in results.get("settings", {}).items()])
    env = _table(["field", "value"], [[_e(k), _e(_short(v))] for k, v in results.get("environment", {}).items()])
    files = [[_e(name), _e(f["path"]), f"<code>{_e(f['sha256'])}</code>", str(f["bytes"])]
             for name, b in results.get("benchmarks", {}).items() for f in b.get("files", [])]
    timings = _table(["stage", "seconds"], [[_e(k), _num(v, 2)] for k, v in results.get("timings_s", {}).items()])
    return ("<h2>Provenance</h2><h3>Reward</h3>" + reward + "<h3>Settings</h3>" + settings + "<h3>Data files</h3>"
            + _table(["benchmark", "path", "sha256", "bytes"], files) + "<h3>Stages</h3>" + timings
            + "<h3>Environment</h3>" + env)


def _table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{h}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td class='num'>{c}</td>" if _numeric(c) else f"<td>{c}</td>" for c in row)
                   + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _img(b64: str, alt: str) -> str:
    return f"<img alt='{_e(alt)}' src='data:image/png;base64,{b64}'>"


def _numeric(cell: str) -> bool:
    return cell.replace(".", "", 1).replace("-", "", 1).isdigit()


def _num(x: Any, digits: int = 4) -> str:
    return "n/a" if x is None else f"{x:.{digits}f}"


def _ci(block: dict[str, Any]) -> str:
    lo, hi = block.get("ci_low"), block.get("ci_high")
    return "" if lo is None or hi is None else f"[{lo:.3f}, {hi:.3f}]"


def _failed(n: int) -> str:
    return f"<span class='warn'>{n}</span>" if n else "0"


def _short(v: Any) -> str:
    text = v if isinstance(v, str) else json.dumps(v)
    return text if len(text) <= 300 else text[:297] + "..."


def _e(x: Any) -> str:
    return html.escape("" if x is None else str(x), quote=True)
