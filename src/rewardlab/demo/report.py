"""The demo's numbers (``results.json``) and its self-contained page (``report.html``).

Metrics come from `rewardlab.evaluate` (pairwise accuracy, calibration, exact best-of-N curves); the
majority-vote curve from `rewardlab.synth.bon`. The page embeds its figures as base64 PNGs.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import numpy as np

from rewardlab.io import atomic_writer, write_json
from rewardlab.synth.bon import answer_ids, majority_vote_curve

CURVES = ("reward model", "oracle (verifier)", "majority vote", "random")


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


def curves(scores: np.ndarray, correct: np.ndarray, answers: list[list[Any]]) -> dict[str, list[dict[str, Any]]]:
    """Best-of-N accuracy for N = 1, 2, 4, ... up to the pool size, for each selection rule."""
    from rewardlab.evaluate.metrics import best_of_n_curve

    m = correct.shape[1]
    ns = [n for n in (1, 2, 4, 8, 16, 32, 64) if n <= m]
    gold = correct.astype(np.float64)
    rand = float(gold.mean())
    return {
        "reward model": best_of_n_curve(scores, gold, ns),
        "oracle (verifier)": best_of_n_curve(gold, gold, ns),
        "majority vote": majority_vote_curve(answer_ids(answers), correct, ns),
        "random": [{"n": n, "gold": rand} for n in ns],
    }


def build_results(out: Path, cfg: Any, eval_problems: list[Any], files: dict[str, Path], policy_dir: Path,
                  rm_dir: Path) -> dict[str, Any]:
    """Every number of the report, JSON-ready."""
    from dataclasses import asdict

    from rewardlab.evaluate.diagnostics import calibration
    from rewardlab.evaluate.metrics import pairwise_accuracy
    from rewardlab.synth.policy import policy_card

    rows, score_rows = _read(files["candidates_eval"]), _read(files["scores"])
    correct = np.array([r["correct"] for r in rows], dtype=bool)
    scores = np.array([r["scores"] for r in score_rows], dtype=np.float64)
    chosen, rejected = held_out_pairs(scores, correct)
    pairs = _read(files["pairs"])
    subsets: dict[str, int] = {}
    for p in pairs:
        subsets[p["subset"]] = subsets.get(p["subset"], 0) + 1
    acc = pairwise_accuracy(chosen, rejected)
    curve = curves(scores, correct, [r["answers"] for r in rows])
    train_record = json.loads((rm_dir / "rewardlab_train.json").read_text(encoding="utf-8"))
    results: dict[str, Any] = {
        "size": asdict(cfg),
        "policy": policy_card(policy_dir),
        "candidates": {"problems": len(rows), "per_problem": int(correct.shape[1]),
                       "accuracy": float(correct.mean()), "pass_at_m": float(correct.any(axis=1).mean()),
                       "verifier": json.loads(files["verifier"].read_text(encoding="utf-8"))["candidates_eval"],
                       "failed_scores": int(np.isnan(scores).sum())},
        "reward_model": {"path": str(rm_dir), "train_pairs": len(pairs), "train_pairs_by_subset": subsets,
                         "steps": train_record.get("steps"), "train_seconds": train_record.get("train_seconds"),
                         "train_eval": train_record.get("eval")},
        "held_out": {"pairs": int(len(chosen)), "accuracy": {k: v.to_dict() for k, v in acc.items()},
                     "calibration": calibration(chosen, rejected) if len(chosen) else None},
        "best_of_n": curve,
    }
    results["probe"] = probe_accuracy(_read(files["probe"]))
    results["mistakes"] = policy_mistakes(eval_problems, rows)
    results["note"] = verdict(curve, results["held_out"]["pairs"], acc["strict"].value, results["probe"],
                              results["mistakes"])
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


def probe_accuracy(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The reward model on gold-vs-corruption pairs: strict accuracy per corruption kind and overall, and
    the calibration of sigmoid(r_gold - r_corrupt) over all of them."""
    from rewardlab.evaluate.diagnostics import calibration
    from rewardlab.evaluate.metrics import pairwise_accuracy

    def block(mine: list[dict[str, Any]]) -> dict[str, Any]:
        acc = pairwise_accuracy(np.array([r["chosen"] for r in mine]), np.array([r["rejected"] for r in mine]))
        return {"accuracy": acc["strict"].value, "ci_low": acc["strict"].ci_low, "ci_high": acc["strict"].ci_high,
                "pairs": len(mine)}

    kinds = {kind: block([r for r in rows if r["subset"] == kind]) for kind in sorted({r["subset"] for r in rows})}
    chosen, rejected = np.array([r["chosen"] for r in rows]), np.array([r["rejected"] for r in rows])
    return {"by_kind": kinds, "all": block(rows), "calibration": calibration(chosen, rejected)}


def verdict(curve: dict[str, list[dict[str, Any]]], n_pairs: int, pair_acc: float,
            probe: dict[str, Any] | None = None, mistakes: dict[str, Any] | None = None) -> str:
    """Honest sentences: where the reward model's best-of-N sits between random and the oracle, and, when
    it is not above random, what the probe pairs and the policy's mistakes say it cannot see."""
    n = curve["random"][-1]["n"]
    rm, rand = curve["reward model"][-1]["gold"], curve["random"][-1]["gold"]
    oracle, major = curve["oracle (verifier)"][-1]["gold"], curve["majority vote"][-1]["gold"]
    place = ("above random and below the oracle" if rand < rm < oracle else
             "not above random choice" if rm <= rand else "level with the oracle")
    text = (f"Best-of-{n}: the reward model picks a correct solution {rm:.1%} of the time, {place} "
            f"(random {rand:.1%}, oracle verifier {oracle:.1%}, majority vote {major:.1%}); "
            f"held-out pairwise accuracy {pair_acc:.1%} on {n_pairs} pairs.")
    if rm > rand:
        return text
    text += " The reward model has not learned what separates this policy's right and wrong answers"
    if probe:
        kinds = probe["by_kind"]
        worst = min(kinds, key=lambda k: kinds[k]["accuracy"])
        text += (f": on gold-vs-corrupted probe pairs it is weakest on '{worst}' mistakes "
                 f"({kinds[worst]['accuracy']:.0%})")
    wrong = (mistakes or {}).get("wrong_answer", {})
    if sum(wrong.values()):
        top = max(wrong, key=wrong.__getitem__)
        share = wrong[top] / sum(wrong.values())
        text += f"; the first mistake of {share:.0%} of the policy's wrong answers is '{top}'"
    return text + ". The verifier checks the answer itself, which is why it does so much better."


def bon_figure(curve: dict[str, list[dict[str, Any]]]) -> str:
    import matplotlib.pyplot as plt

    from rewardlab.evaluate.figures import to_png

    fig, ax = plt.subplots(figsize=(5.6, 3.6))
    styles = {"reward model": ("#2b8cbe", "o", "-"), "oracle (verifier)": ("#31a354", "s", "--"),
              "majority vote": ("#e6550d", "^", "-."), "random": ("#888888", "", ":")}
    for name in CURVES:
        color, marker, line = styles[name]
        rows = curve[name]
        ax.plot([r["n"] for r in rows], [r["gold"] for r in rows], color=color, marker=marker or None,
                linestyle=line, label=name)
    ax.set_xscale("log", base=2)
    ax.set_xticks([r["n"] for r in curve["random"]], [str(r["n"]) for r in curve["random"]])
    ax.set_ylim(0, 1)
    ax.set_xlabel("N candidates")
    ax.set_ylabel("accuracy of the pick")
    ax.set_title("Best-of-N on held-out problems")
    ax.legend(fontsize=8, loc="upper left")
    return to_png(fig)


def write_report(out: Path, results: dict[str, Any]) -> Path:
    """``results.json`` and ``report.html`` in ``out`` (atomically); returns the report's path."""
    write_json(out / "results.json", results)
    path = out / "report.html"
    with atomic_writer(path) as fh:
        fh.write(render(results))
    return path


def render(results: dict[str, Any]) -> str:
    from rewardlab.evaluate.figures import reliability
    from rewardlab.evaluate.report import CSS

    policy, cand, rm, held = results["policy"], results["candidates"], results["reward_model"], results["held_out"]
    acc = policy.get("accuracy", {})
    strict, half = held["accuracy"]["strict"], held["accuracy"]["half"]
    n_values = [r["n"] for r in results["best_of_n"]["random"]]
    bon_rows = [[name] + [f"{r['gold']:.3f}" for r in results["best_of_n"][name]] for name in CURVES]
    built = results.get("build_seconds", {})
    timing_rows = [[k, f"{v:.1f}", "cached" if k in results.get("cached_stages", []) else "built",
                    _n(built.get(k), 1)] for k, v in results.get("timings_s", {}).items()]
    probe = results["probe"]
    figs = [_figure(bon_figure(results["best_of_n"]), "best-of-N on held-out problems")]
    if held.get("calibration"):
        figs.append(_figure(reliability(held["calibration"]), "calibration on held-out candidate pairs"))
    figs.append(_figure(reliability(probe["calibration"]), "calibration on gold-vs-corrupted probe pairs"))
    cal = held.get("calibration") or {}
    parts = [
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>rewardlab demo</title>"
        f"<style>{CSS}</style></head><body><h1>rewardlab demo ({_e(results['size']['name'])})</h1>",
        f"<p><b>{_e(results['note'])}</b></p><div class='figs'>{''.join(figs)}</div>",
        "<h2>Best-of-N (accuracy of the picked solution)</h2>", _table(["rule"] + [f"N={n}" for n in n_values],
                                                                        bon_rows),
        "<p class='note'>Reward model and oracle: exact expectation over all N-subsets of each pool; majority "
        "vote: mean over random N-subsets (ties broken at random, answerless candidates abstain); random: "
        "mean correctness of one candidate.</p>",
        "<h2>Policy</h2>", _table(["parameters", "SFT steps", "SFT seconds", "greedy acc", "sampled acc",
                                   "candidate acc (eval)", f"pass@{cand['per_problem']}"],
                                  [[str(policy["parameters"]), str(policy["training"]["steps_done"]),
                                    str(policy["training"]["train_seconds"]), _n(acc.get("greedy")),
                                    _n(acc.get("sampled")), _n(cand["accuracy"]), _n(cand["pass_at_m"])]]),
        _verifier_note(cand["verifier"]),
        "<h2>Reward model (MiniLM, Bradley-Terry)</h2>",
        _table(["train pairs", "by source", "steps", "train seconds", "acc. on 10% split of train pairs",
                "held-out pairs", "accuracy (strict)", "accuracy (ties 1/2)", "ECE", "Brier"],
               [[str(rm["train_pairs"]), _e(json.dumps(rm["train_pairs_by_subset"])), str(rm["steps"]),
                 _n(rm["train_seconds"], 1), _n((rm.get("train_eval") or {}).get("accuracy")), str(held["pairs"]),
                 f"{_n(strict['value'])} [{_n(strict['ci_low'])}, {_n(strict['ci_high'])}]", _n(half["value"]),
                 _n(cal.get("ece")), _n(cal.get("brier"))]]),
        "<p class='note'>The 10% split holds out whole prompts of the training pairs (same mix of sources); "
        "held-out pairs: every (correct, wrong) pair of candidates of each evaluation problem. "
        "Training pairs whose source is <i>gold</i> or <i>corrupt</i> stand in where the policy gave no correct "
        "(or no wrong) sample.</p>",
        "<h2>What the reward model can tell apart</h2>",
        _table(["mistake (gold vs one corruption)", "pairs", "accuracy", "95% CI"],
               [[_e(k), str(v["pairs"]), _n(v["accuracy"]), f"[{_n(v['ci_low'])}, {_n(v['ci_high'])}]"]
                for k, v in [*probe["by_kind"].items(), ("all", probe["all"])]]),
        f"<p class='note'>Probe calibration: ECE {_n(probe['calibration']['ece'])}, "
        f"Brier {_n(probe['calibration']['brier'])}.</p>",
        "<p class='note'>Probe pairs from the world, with exact labels: the gold solution against one corrupted "
        "copy (arithmetic slip, wrong operand, skipped step, wrong final answer, or a flawed step with the "
        "right answer).</p>",
        "<h2>The policy's mistakes (first wrong step of each held-out candidate)</h2>",
        _mistake_table(results["mistakes"]),
        "<p class='note'>Labelled exactly by the world: <i>arithmetic</i> a false equation, <i>phrase</i> a "
        "right equation under the wrong name, <i>operand</i> a true equation that is not part of the "
        "solution, <i>answer</i> a wrong stated answer, <i>format</i> no equation or no answer; "
        "<i>clean</i> every step right.</p>",
        "<h2>Stages</h2>", _table(["stage", "seconds (this run)", "", "seconds to build"], timing_rows),
        f"<h2>Settings</h2><pre>{_e(json.dumps(results['size'], indent=1))}</pre></body></html>",
    ]
    return "\n".join(parts)


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
