"""The demo's numbers (``results.json``) and its self-contained page (``report.html``).

Metrics come from `rewardlab.evaluate` (pairwise accuracy, calibration, exact best-of-N curves); the
majority-vote curve from `rewardlab.search.voting`. The page embeds its figures as base64 PNGs.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import numpy as np

from rewardlab.demo.compare import reward_of, vote_rule
from rewardlab.io import atomic_writer, write_json
from rewardlab.search.answers import answer_ids
from rewardlab.search.voting import majority_vote_curve, vote_curve, vote_weights

BASELINES = ("oracle (verifier)", "majority vote", "random")
"""Selection rules that are not learned rewards, drawn after the rewards in every table and figure."""


def _read(path: Path) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def held_out_pairs(scores: np.ndarray, correct: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Scores of every (correct, wrong) candidate pair within each evaluation problem: (chosen, rejected)."""
    chosen, rejected = [], []
    for s, c in zip(scores, correct):
        good, bad = s[c], s[~c]
        chosen.append(np.repeat(good, len(bad)))
        rejected.append(np.tile(bad, len(good)))
    return np.concatenate(chosen), np.concatenate(rejected)


def never_picked(scores: np.ndarray) -> np.ndarray:
    """Scores with each failure (NaN) replaced by a value below every real score: a candidate a reward
    cannot score is never its pick, and the problem still counts (the report counts the failures)."""
    finite = scores[np.isfinite(scores)]
    floor = (finite.min() if finite.size else 0.0) - 1.0
    return np.where(np.isfinite(scores), scores, floor)


def curves(scores: dict[str, np.ndarray], correct: np.ndarray, answers: list[list[Any]],
           votes: dict[str, np.ndarray] | None = None) -> dict[str, list[dict[str, Any]]]:
    """Best-of-N accuracy for N = 1, 2, 4, ... up to the pool size, for each reward's pick, each reward-
    weighted vote (``votes``: the weights) and each baseline; the rewards', the weighted votes' and the
    oracle's rows carry a bootstrap CI over problems (``gold_ci_low``/``gold_ci_high``)."""
    from rewardlab.evaluate.metrics import best_of_n_curve

    m = correct.shape[1]
    ns = [n for n in (1, 2, 4, 8, 16, 32, 64) if n <= m]
    gold = correct.astype(np.float64)
    rand = float(gold.mean())
    out = {name: best_of_n_curve(s, gold, ns, ci=True) for name, s in scores.items()}
    for name, weights in (votes or {}).items():
        out[vote_rule(name)] = vote_curve(answer_ids(answers), correct, ns, weights, ci=True)
    out["oracle (verifier)"] = best_of_n_curve(gold, gold, ns, ci=True)
    out["majority vote"] = majority_vote_curve(answer_ids(answers), correct, ns)
    out["random"] = [{"n": n, "gold": rand} for n in ns]
    return out


def reward_block(name: str, path: Path, scores: np.ndarray, correct: np.ndarray, probe: list[dict[str, Any]],
                 build_seconds: float | None, score_seconds: float | None) -> dict[str, Any]:
    """What one learned reward is, what it cost and how it ranks held-out candidate pairs and probe pairs."""
    from rewardlab.evaluate.diagnostics import calibration, calibration_from_probs
    from rewardlab.evaluate.metrics import pairwise_accuracy

    record = json.loads((path / "rewardlab_train.json").read_text(encoding="utf-8"))
    chosen, rejected = held_out_pairs(scores, correct)
    acc = pairwise_accuracy(chosen, rejected)
    prm = record.get("recipe") == "prm"
    finite = np.isfinite(scores)
    if prm:  # min over steps of P(step right): read directly as P(solution right)
        cal = calibration_from_probs(scores[finite], correct[finite].astype(np.float64))
    else:
        cal = calibration(chosen, rejected) if len(chosen) else None
    train = {"seconds": record.get("train_seconds"), "steps": record.get("steps"), "eval": record.get("eval")}
    if prm:
        train["solutions"] = record.get("train_solutions")
    return {"name": name, "path": str(path), "recipe": record.get("recipe", "bt"),
            "backbone": (record.get("config") or {}).get("model"), "train": train,
            "stage_seconds": build_seconds, "score_seconds": score_seconds, "failed_scores": int((~finite).sum()),
            "held_out": {"pairs": int(len(chosen)), "accuracy": {k: v.to_dict() for k, v in acc.items()},
                         "calibration": cal, "calibration_of": "P(solution right)" if prm else "sigmoid(r_c - r_r)"},
            "probe": probe_accuracy(probe, name)}


def count_by(rows: list[dict[str, Any]], *keys: str) -> dict[str, int]:
    """How many rows have each value of ``keys`` joined by ``/`` (e.g. ``world/slip``)."""
    out: dict[str, int] = {}
    for r in rows:
        name = "/".join(str(r[k]) for k in keys)
        out[name] = out.get(name, 0) + 1
    return dict(sorted(out.items()))


def as_votes(values: np.ndarray, weighting: str) -> np.ndarray:
    """A reward's values (problems, M) as vote weights, one problem at a time (`vote_weights`)."""
    return np.stack([vote_weights(row, weighting) for row in values]) if len(values) else values


def build_results(out: Path, cfg: Any, eval_problems: list[Any], files: dict[str, Path], policy_dir: Path,
                  reward_dirs: dict[str, Path], weighting: dict[str, str] | None = None,
                  stages: dict[str, str] | None = None) -> dict[str, Any]:
    """Every number of the report, JSON-ready. ``weighting``: for each reward with a weighted vote, how its
    values become votes (`rewardlab.search.voting.vote_weights`); ``stages``: each reward's training stage
    (for its cost)."""
    from dataclasses import asdict

    from rewardlab.demo.compare import comparison, per_problem
    from rewardlab.synth.policy import policy_card

    rows, score_rows = _read(files["candidates_eval"]), _read(files["scores"])
    correct = np.array([r["correct"] for r in rows], dtype=bool)
    answers = [r["answers"] for r in rows]
    raw = {name: np.array([r["scores"][name] for r in score_rows], dtype=np.float64) for name in reward_dirs}
    scores = {name: never_picked(s) for name, s in raw.items()}
    cache = out / "demo_cache.json"
    built = json.loads(cache.read_text(encoding="utf-8")).get("build_seconds", {}) if cache.exists() else {}
    seconds = json.loads(files["score_seconds"].read_text(encoding="utf-8"))["seconds"]
    stage_of = stages or {}
    probe = _read(files["probe"])
    rewards = {name: reward_block(name, path, raw[name], correct, probe, built.get(stage_of.get(name, "")),
                                  seconds.get(name)) for name, path in reward_dirs.items()}
    for block in rewards.values():
        if block["recipe"] == "bt" and files["pairs"].exists():
            pairs = _read(files["pairs"])
            block["train"].update(pairs=len(pairs), pairs_by_subset=count_by(pairs, "subset"))
    if "verifier_steps" in files and files["verifier_steps"].exists():
        steps = _read(files["verifier_steps"])
        for block in rewards.values():
            if block["recipe"] == "prm":
                block["train"].update(step_rows=len(steps), step_rows_by_source=count_by(steps, "origin", "kind"))
    votes = {name: as_votes(raw[name], how) for name, how in (weighting or {}).items()}
    curve = curves(scores, correct, answers, votes)
    values = per_problem(scores, correct, answers, votes)
    results: dict[str, Any] = {
        "size": asdict(cfg),
        "policy": policy_card(policy_dir),
        "candidates": {"problems": len(rows), "per_problem": int(correct.shape[1]),
                       "accuracy": float(correct.mean()), "pass_at_m": float(correct.any(axis=1).mean()),
                       "verifier": json.loads(files["verifier"].read_text(encoding="utf-8"))["candidates_eval"]},
        "comparison": comparison(values, [*reward_dirs, *map(vote_rule, votes)]),
        "vote_weighting": dict(weighting or {}),
        "rewards": rewards,
        "best_of_n": curve,
    }
    results["mistakes"] = policy_mistakes(eval_problems, rows)
    results["note"] = verdict(results["comparison"], rewards, results["candidates"], results["mistakes"])
    return results


def policy_mistakes(problems: list[Any], rows: list[dict[str, Any]]) -> dict[str, Any]:
    """What the first wrong step of each evaluation candidate gets wrong (`world.mistake_kind`), counted
    separately for candidates with a wrong and with a right final answer (a right answer can still carry
    a flawed step)."""
    from rewardlab.synth.world import MISTAKES, mistake_kind, split_steps

    by_id = {p.id: p for p in problems}
    wrong = dict.fromkeys(MISTAKES, 0)
    right = {"clean": 0, **dict.fromkeys(MISTAKES, 0)}
    for row in rows:
        for text, ok in zip(row["responses"], row["correct"]):
            kind = mistake_kind(by_id[row["id"]], split_steps(text))
            if ok:
                right[kind or "clean"] += 1
            elif kind is not None:
                wrong[kind] += 1
    return {"wrong_answer": wrong, "right_answer": right}


def probe_accuracy(rows: list[dict[str, Any]], reward: str) -> dict[str, Any]:
    """One reward on gold-vs-corruption pairs: strict accuracy per corruption kind and overall."""
    from rewardlab.evaluate.metrics import pairwise_accuracy

    def block(mine: list[dict[str, Any]]) -> dict[str, Any]:
        acc = pairwise_accuracy(np.array([r["chosen"][reward] for r in mine], dtype=np.float64),
                                np.array([r["rejected"][reward] for r in mine], dtype=np.float64))
        return {"accuracy": acc["strict"].value, "ci_low": acc["strict"].ci_low, "ci_high": acc["strict"].ci_high,
                "pairs": len(mine)}

    kinds = {kind: block([r for r in rows if r["subset"] == kind]) for kind in sorted({r["subset"] for r in rows})}
    return {"by_kind": kinds, "all": block(rows)}


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _pts(d: dict[str, Any]) -> str:
    return f"{100 * d['diff']:+.1f} points [{100 * d['ci_low']:+.1f}, {100 * d['ci_high']:+.1f}]"


def _rule_words(name: str) -> str:
    reward = reward_of(name)
    return name if name == reward else f"a majority vote weighted by {reward}"


def _cost_words(block: dict[str, Any]) -> str:
    train, score = block["stage_seconds"], block["score_seconds"]
    return "" if train is None else f"{train:.0f} s to train, {score:.1f} s to score"


def verdict(comp: dict[str, Any], rewards: dict[str, Any], candidates: dict[str, Any],
            mistakes: dict[str, Any] | None = None) -> str:
    """The answer first: which learned rule (a reward's pick, or a vote it weights) helps this policy at
    best-of-M, by how much (with the CIs of the differences from random and majority vote), at what cost;
    then the other rules in one clause each; then, for a reward that does not help, what it cannot see."""
    rules, m = comp["rules"], candidates["per_problem"]
    rand, major, oracle = rules["random"], rules["majority vote"], rules["oracle (verifier)"]
    learned = sorted(comp["learned"], key=lambda k: -rules[k]["accuracy"])
    winners = [k for k in learned if rules[k]["beats_baselines"]]
    setting = (f"best-of-{m} on {rand['problems']} held-out problems (random {_pct(rand['accuracy'])}, majority vote "
               f"{_pct(major['accuracy'])}, oracle verifier {_pct(oracle['accuracy'])})")

    def clause(name: str, subject: bool = True) -> str:
        r = rules[name]
        cost = _cost_words(rewards[reward_of(name)])
        body = (f"picks a correct solution {_pct(r['accuracy'])} [{_pct(r['ci_low'])}, {_pct(r['ci_high'])}] of "
                f"the time, {_pts(r['vs']['random'])} over random and {_pts(r['vs']['majority vote'])} over "
                "majority vote" + (f" ({cost})" if cost else ""))
        return f"{_rule_words(name)} {body}" if subject else body

    if winners:
        best = winners[0]
        words = _rule_words(best)
        text = f"{words[0].upper()}{words[1:]} helps this policy: at {setting} it {clause(best, subject=False)}"
        text += ". Both differences have 95% CIs above 0 (paired bootstrap over problems)."
        others = [k for k in learned if k != best]
        if others:
            text += " The other rules: " + "; ".join(clause(k) for k in others) + "."
    else:
        text = (f"No learned reward beats both random and majority vote with a CI above 0. At {setting}: "
                + "; ".join(clause(k) for k in learned) + ".")
    helped = {reward_of(k) for k in winners}  # a reward whose pick or vote clears both baselines
    losers = [k for k in learned if k in rewards and k not in helped]
    if losers:
        kinds = rewards[losers[-1]]["probe"]["by_kind"]
        if kinds:
            worst = min(kinds, key=lambda k: kinds[k]["accuracy"])
            text += (f" {losers[-1]} does not separate this policy's right and wrong answers: on gold-vs-corrupted "
                     f"probe pairs it is weakest on '{worst}' mistakes ({kinds[worst]['accuracy']:.0%})")
            wrong = (mistakes or {}).get("wrong_answer", {})
            if sum(wrong.values()):
                top = max(wrong, key=wrong.__getitem__)
                text += (f", and the first mistake of {wrong[top] / sum(wrong.values()):.0%} of the policy's "
                         f"wrong answers is '{top}'")
            text += "."
    return text


def bon_figure(curve: dict[str, list[dict[str, Any]]]) -> str:
    """Best-of-N accuracy against N, with the bootstrap CI of each reward shaded."""
    import matplotlib.pyplot as plt

    from rewardlab.evaluate.figures import to_png

    fig, ax = plt.subplots(figsize=(5.6, 3.6))
    styles = {"oracle (verifier)": ("#31a354", "s", "--"), "majority vote": ("#e6550d", "^", "-."),
              "random": ("#888888", "", ":")}
    palette = iter(("#2b8cbe", "#756bb1", "#e7298a", "#a6761d"))
    colors: dict[str, str] = {}
    for name, rows in curve.items():
        if name in styles:
            color, marker, line = styles[name]
        else:  # a reward and the vote it weights share a colour: solid circles for its pick, dashed diamonds
            color = colors.setdefault(reward_of(name), next(palette))
            marker, line = ("o", "-") if name == reward_of(name) else ("D", "--")
        ns = [r["n"] for r in rows]
        ax.plot(ns, [r["gold"] for r in rows], color=color, marker=marker or None, linestyle=line, label=name)
        if name not in BASELINES and "gold_ci_low" in rows[0]:
            ax.fill_between(ns, [r["gold_ci_low"] for r in rows], [r["gold_ci_high"] for r in rows], color=color,
                            alpha=0.15, linewidth=0)
    ax.set_xscale("log", base=2)
    ax.set_xticks([r["n"] for r in curve["random"]], [str(r["n"]) for r in curve["random"]])
    ax.set_ylim(0, 1)
    ax.set_xlabel("N candidates")
    ax.set_ylabel("accuracy of the pick")
    ax.set_title("Best-of-N on held-out problems (shaded: 95% CI)")
    ax.legend(fontsize=8, loc="upper left")
    return to_png(fig)


def write_report(out: Path, results: dict[str, Any]) -> Path:
    """``results.json`` and ``report.html`` in ``out`` (atomically); returns the report's path."""
    write_json(out / "results.json", results)
    path = out / "report.html"
    with atomic_writer(path) as fh:
        fh.write(render(results))
    return path


def answer_table(results: dict[str, Any]) -> str:
    """The report's lead: one row per selection rule at N = M, with CIs, differences and cost."""
    comp, rewards = results["comparison"], results["rewards"]
    rows = []
    for name in [*comp["learned"], *BASELINES]:
        r = comp["rules"][name]
        vs = r.get("vs", {})
        block = rewards.get(reward_of(name))
        if block:
            train = block["train"]
            data = (f"{train['pairs']} pairs" if "pairs" in train else
                    f"{train.get('step_rows')} step-labelled rows")
            data += f", {train.get('steps')} optimiser steps"
            cost = f"{_n(block['stage_seconds'], 0)} s train, {_n(block['score_seconds'], 1)} s score"
            what = f"{_e(block['recipe'])} on {_e(Path(str(block['backbone'])).name)}, {data}"
            if name != block["name"]:
                how = results.get("vote_weighting", {}).get(block["name"], "raw")
                what = f"majority vote, each candidate's vote its reward ({_e(how)}); the reward: {what}"
        else:
            cost, what = "", {"oracle (verifier)": "rule:math checks the answer (pass@M)",
                              "majority vote": "most frequent stated answer",
                              "random": "any candidate"}[name]
        mark = " &#10004;" if r.get("beats_baselines") else ""
        rows.append([f"{_e(name)}{mark}", f"{_n(r['accuracy'])} [{_n(r['ci_low'])}, {_n(r['ci_high'])}]",
                     _diff(vs.get("random")), _diff(vs.get("majority vote")), cost, what])
    m = results["candidates"]["per_problem"]
    return _table(["rule", f"best-of-{m} accuracy [95% CI]", "vs random", "vs majority vote", "cost", "what it is"],
                  rows)


def _diff(d: dict[str, Any] | None) -> str:
    return "" if not d else f"{d['diff']:+.3f} [{d['ci_low']:+.3f}, {d['ci_high']:+.3f}]"


def render(results: dict[str, Any]) -> str:
    from rewardlab.evaluate.figures import reliability
    from rewardlab.evaluate.report import CSS

    policy, cand, rewards = results["policy"], results["candidates"], results["rewards"]
    acc = policy.get("accuracy", {})
    n_values = [r["n"] for r in results["best_of_n"]["random"]]
    bon_rows = [[_e(name)] + [f"{r['gold']:.3f}" for r in rows] for name, rows in results["best_of_n"].items()]
    built = results.get("build_seconds", {})
    timing_rows = [[k, f"{v:.1f}", "cached" if k in results.get("cached_stages", []) else "built",
                    _n(built.get(k), 1)] for k, v in results.get("timings_s", {}).items()]
    figs = [_figure(bon_figure(results["best_of_n"]), "best-of-N on held-out problems")]
    for name, block in rewards.items():
        if block["held_out"].get("calibration"):
            figs.append(_figure(reliability(block["held_out"]["calibration"]),
                                f"{name}: calibration of {block['held_out']['calibration_of']}"))
    parts = [
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>rewardlab demo</title>"
        f"<style>{CSS}</style></head><body><h1>rewardlab demo ({_e(results['size']['name'])})</h1>",
        f"<p><b>{_e(results['note'])}</b></p>",
        "<h2>Which reward helps this policy</h2>", answer_table(results),
        f"<p class='note'>{_e(results['comparison']['ci'])}. Each problem's value is the exact expected "
        "correctness of the rule's pick from its whole pool (ties split evenly); &#10004;: both differences "
        "have CIs above 0. Cost: seconds of this run's stage (loaded machines inflate them).</p>",
        f"<div class='figs'>{figs[0]}</div>",
        "<h2>Best-of-N (accuracy of the picked solution)</h2>",
        _table(["rule"] + [f"N={n}" for n in n_values], bon_rows),
        "<p class='note'>Rewards and oracle: exact expectation over all N-subsets of each pool; majority "
        "vote: mean over random N-subsets (ties broken at random, answerless candidates abstain); random: "
        "mean correctness of one candidate.</p>",
        "<h2>Policy</h2>", _table(["parameters", "SFT steps", "SFT seconds", "greedy acc", "sampled acc",
                                   "candidate acc (eval)", f"pass@{cand['per_problem']}"],
                                  [[str(policy["parameters"]), str(policy["training"]["steps_done"]),
                                    str(policy["training"]["train_seconds"]), _n(acc.get("greedy")),
                                    _n(acc.get("sampled")), _n(cand["accuracy"]), _n(cand["pass_at_m"])]]),
        _verifier_note(cand["verifier"]),
        "<h2>The learned rewards</h2>", _reward_table(rewards),
        "<p class='note'>Held-out pairs: every (correct, wrong) pair of candidates of each evaluation problem. "
        "The step verifier trains on solutions' equations (phrases and question dropped), each step labelled by "
        "whether its own equation holds: the gold equations of extra world problems with randomly slipped "
        "copies, and the equations of the policy's own samples of other problems; a solution scores the min "
        "over its equations of P(equation right), and one without an equation is not scored. MiniLM BT (with "
        "--outcome-rm) trains on (correct, wrong) candidate pairs of other problems, where the gold solution "
        "or a world corruption stands in when the policy gave no correct (or no wrong) sample.</p>",
        "<h2>What each reward can tell apart</h2>", _probe_table(rewards),
        "<p class='note'>Probe pairs from the world, with exact labels: the gold solution against one corrupted "
        "copy (arithmetic slip, wrong operand, skipped step, wrong final answer, or a flawed step with the "
        "right answer).</p>",
        "<h2>The policy's mistakes (first wrong step of each held-out candidate)</h2>",
        _mistake_table(results["mistakes"]),
        "<p class='note'>Labelled exactly by the world: <i>arithmetic</i> a false equation, <i>phrase</i> a "
        "right equation under the wrong name, <i>operand</i> a true equation that is not part of the "
        "solution, <i>answer</i> a wrong stated answer, <i>format</i> no equation or no answer; "
        "<i>clean</i> every step right.</p>",
        f"<div class='figs'>{''.join(figs[1:])}</div>",
        "<h2>Stages</h2>", _table(["stage", "seconds (this run)", "", "seconds to build"], timing_rows),
        f"<h2>Settings</h2><pre>{_e(json.dumps(results['size'], indent=1))}</pre></body></html>",
    ]
    return "\n".join(parts)


def _reward_table(rewards: dict[str, Any]) -> str:
    rows = []
    for name, b in rewards.items():
        held, train = b["held_out"], b["train"]
        strict = held["accuracy"]["strict"]
        cal = held.get("calibration") or {}
        data = (f"{train['pairs']} pairs {_e(json.dumps(train.get('pairs_by_subset')))}" if "pairs" in train else
                f"{train.get('step_rows')} solutions {_e(json.dumps(train.get('step_rows_by_source')))}")
        rows.append([_e(name), _e(b["recipe"]), data, str(train.get("steps")), _n(train.get("seconds"), 1),
                     str(held["pairs"]), f"{_n(strict['value'])} [{_n(strict['ci_low'])}, {_n(strict['ci_high'])}]",
                     _n(cal.get("ece")), str(b["failed_scores"])])
    return _table(["reward", "recipe", "training data", "optimiser steps", "train seconds", "held-out pairs",
                   "pair accuracy (strict) [95% CI]", "ECE", "failed scores"], rows)


def _probe_table(rewards: dict[str, Any]) -> str:
    names = list(rewards)
    first = rewards[names[0]]["probe"]
    kinds = [*first["by_kind"], "all"]
    rows = []
    for kind in kinds:
        cells = [_e(kind), str((first["by_kind"].get(kind) or first["all"])["pairs"])]
        for name in names:
            v = rewards[name]["probe"]["by_kind"].get(kind) or rewards[name]["probe"]["all"]
            cells.append(f"{_n(v['accuracy'])} [{_n(v['ci_low'])}, {_n(v['ci_high'])}]")
        rows.append(cells)
    return _table(["mistake (gold vs one corruption)", "pairs", *[f"{n}: accuracy [95% CI]" for n in names]], rows)


def _verifier_note(verifier: dict[str, Any] | None) -> str:
    if not verifier:
        return ""
    return (f"<p class='note'>Candidates labelled by <code>{_e(verifier['name'])}</code>: "
            f"{verifier['no_stated_answer']} stated no answer (wrong), {verifier['failed']} could not be checked "
            f"(wrong), {verifier['disagree_with_is_correct']} labels differ from the world's exact "
            "<code>is_correct</code>.</p>")


def _mistake_table(mistakes: dict[str, Any]) -> str:
    columns = list(mistakes["right_answer"])
    return _table(["final answer"] + columns,
                  [["wrong"] + [str(mistakes["wrong_answer"].get(k, "")) for k in columns],
                   ["right"] + [str(mistakes["right_answer"][k]) for k in columns]])


def _figure(png: str, caption: str) -> str:
    return (f"<figure><img alt='{_e(caption)}' src='data:image/png;base64,{png}'>"
            f"<figcaption class='note'>{_e(caption)}</figcaption></figure>")


def _table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _n(x: Any, digits: int = 3) -> str:
    return "n/a" if x is None or (isinstance(x, float) and x != x) else f"{x:.{digits}f}"


def _e(x: Any) -> str:
    return html.escape(str(x))
