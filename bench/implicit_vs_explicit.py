"""Implicit (DPO) versus explicit (Bradley-Terry) reward on the embedded world, in and out of distribution.

Reproduces in kind *On the Limited Generalization Capability of the Implicit Reward Model Induced by
Direct Preference Optimization*: the same tiny policy is (a) DPO-tuned on synthetic pairs and read as an
implicit reward beta*log(pi/pi_ref), and (b) given a scalar head and trained as a BT reward model on the
same pairs. Both are scored on held-out pairs from the training distribution and on shifted splits:

- ``id``: new problems, same difficulties and templates as training;
- ``hard``: problems of the ``hard`` difficulty (more steps, bigger numbers) never seen in training;
- ``template``: problems from a word-problem template held out of training.

Pairs are (gold solution, one corruption) from `rewardlab.synth.export.pair_rows`. Accuracy is strict
(a tie counts as wrong). The drop is acc(id) - acc(shifted). A likelihood baseline (the SFT policy's mean
token log-prob, no preference training) shows what the preference data added. Last, the DPO policy is read
as an implicit PRM (*Free Process Rewards without Process Labels*) on step-labelled solutions of the same
problems: does its lowest step reward, or its first negative one, fall on the gold first wrong step?

    python bench/implicit_vs_explicit.py --quick            # minutes: tiny policy, few pairs
    python bench/implicit_vs_explicit.py --out runs/ive     # the recorded run (full policy)
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from rewardlab import load_reward
from rewardlab.io import write_json, write_jsonl
from rewardlab.synth.export import pair_rows, step_rows
from rewardlab.synth.policy import default_policy, policy_card
from rewardlab.synth.world import generate_problem
from rewardlab.types import PairRecord, Sample

SEEDS = {"train": 31_001, "id": 31_002, "hard": 31_003, "template": 31_004}


def problems_where(n: int, seed: int, difficulties: list[str], keep) -> list[Any]:
    """``n`` problems cycling through ``difficulties``, keeping those ``keep`` accepts (deterministic)."""
    found, index = [], 0
    while len(found) < n:
        problem = generate_problem(seed, index, difficulties[index % len(difficulties)])
        index += 1
        if keep(problem):
            found.append(problem)
        if index > 200 * n + 1000:
            raise RuntimeError(f"could not find {n} problems for seed {seed}")
    return found


def build_splits(args: argparse.Namespace) -> tuple[dict[str, list[PairRecord]], dict[str, list[Any]]]:
    held = args.heldout_template
    seen = args.train_difficulties.split(",")
    specs = {
        "train": (args.train_problems, seen, lambda p: p.template != held),
        "id": (args.test_problems, seen, lambda p: p.template != held),
        "hard": (args.test_problems, ["hard"], lambda p: p.template != held),
        "template": (args.test_problems, seen, lambda p: p.template == held),
    }
    splits, problems = {}, {}
    for name, (n, difficulties, keep) in specs.items():
        problems[name] = problems_where(n, SEEDS[name], difficulties, keep)
        rows = pair_rows(problems[name], seed=SEEDS[name])
        splits[name] = [PairRecord(r["prompt"], r["chosen"], r["rejected"], subset=r["subset"], id=r["id"])
                        for r in rows]
    return splits, problems


def step_scores(spec: str, problems: list[Any], seed: int) -> list[tuple[int, list[float]]]:
    """(gold first error or -1, step rewards) for the step-labelled solutions of ``problems``."""
    rows = step_rows(problems, seed=seed)
    reward = load_reward(f"{spec},steps=true,step_sep=\\n")
    scores = reward.score([Sample(r["prompt"], "\n".join(r["steps"]), steps=tuple(r["steps"])) for r in rows])
    failed = [r["id"] for r, s in zip(rows, scores) if not s.ok]
    if failed:
        raise RuntimeError(f"implicit PRM could not score {len(failed)} rows, e.g. {failed[:3]}")
    return [(r["first_error"], s.steps) for r, s in zip(rows, scores)]


def first_error_f1(items: list[tuple[int, list[float]]], tau: float) -> dict[str, float]:
    """ProcessBench: the first step below ``tau`` is the predicted error (-1 if none); accuracy on wrong and on
    right solutions and their harmonic mean."""
    predicted = [next((k for k, v in enumerate(steps) if v < tau), -1) for _, steps in items]
    wrong = [p == g for (g, _), p in zip(items, predicted) if g >= 0]
    right = [p == -1 for (g, _), p in zip(items, predicted) if g < 0]
    a, b = float(np.mean(wrong)), float(np.mean(right))
    return {"wrong": a, "right": b, "f1": 0.0 if a + b == 0 else 2 * a * b / (a + b)}


def implicit_prm_check(spec: str, problems: dict[str, list[Any]]) -> dict[str, Any]:
    """The DPO policy read as an implicit PRM (*Free Process Rewards without Process Labels*).

    ``argmin``: share of wrong solutions whose lowest step reward sits on the gold first wrong step (chance =
    mean 1/steps). The ProcessBench threshold tau is chosen on the ``id`` split (as a dev split) and applied
    unchanged to the shifted ones.
    """
    scored = {split: step_scores(spec, problems[split], SEEDS[split]) for split in ("id", "hard", "template")}
    pooled = np.concatenate([steps for _, steps in scored["id"]])
    candidates = np.unique(np.quantile(pooled, np.linspace(0, 1, 101)))
    tau = float(max(candidates, key=lambda t: first_error_f1(scored["id"], float(t))["f1"]))
    out: dict[str, Any] = {"tau": tau}
    for split, items in scored.items():
        wrong = [(g, steps) for g, steps in items if g >= 0]
        out[split] = {"argmin": float(np.mean([int(np.argmin(st)) == g for g, st in wrong])),
                      "argmin_chance": float(np.mean([1 / len(st) for _, st in wrong])),
                      "solutions": len(items), **first_error_f1(items, tau)}
    return out


def accuracy(reward: Any, pairs: list[PairRecord]) -> dict[str, float]:
    """Strict pairwise accuracy (ties wrong), tie count, and per-corruption-kind accuracy."""
    scores = reward.score([s for p in pairs for s in p.samples()])
    chosen = np.array([scores[2 * i].value for i in range(len(pairs))])
    rejected = np.array([scores[2 * i + 1].value for i in range(len(pairs))])
    win = chosen > rejected
    kinds = sorted({p.subset for p in pairs})
    return {"accuracy": float(win.mean()), "ties": int((chosen == rejected).sum()), "pairs": len(pairs),
            "failed": int(np.isnan(chosen).sum() + np.isnan(rejected).sum()),
            "by_kind": {k: float(win[[p.subset == k for p in pairs]].mean()) for k in kinds}}


def train_implicit(args, policy: Path, pairs: list[PairRecord], out: Path) -> str:
    from rewardlab.rewards.implicit import DPO_RECORD
    from rewardlab.train import dpo

    if args.reuse and (out / "dpo" / DPO_RECORD).is_file():
        return f"implicit:policy={out / 'dpo'},cache={out / 'ref_logprobs.sqlite'}"
    data = out / "dpo_pairs.jsonl"
    write_jsonl(data, ({"prompt": p.prompt, "chosen": p.chosen, "rejected": p.rejected} for p in pairs))
    dpo.main(dpo.DPOConfig(data=str(data), model=str(policy), out=str(out / "dpo"), beta=args.beta,
                           learning_rate=args.dpo_lr, epochs=args.epochs, batch_size=args.batch_size,
                           seed=args.seed, overwrite=True, progress=False))
    return f"implicit:policy={out / 'dpo'},cache={out / 'ref_logprobs.sqlite'}"


def train_explicit(args, policy: Path, pairs: list[PairRecord], out: Path) -> str:
    """BT on the same backbone (the policy plus a fresh scalar head) through ``rewardlab.train.bt``."""
    from rewardlab.train.bt import main as train_bt
    from rewardlab.train.config import BTConfig

    if args.reuse and (out / "bt" / "config.json").is_file():
        return f"classifier:{out / 'bt'}"
    data = out / "train_pairs.jsonl"
    write_jsonl(data, ({"prompt": p.prompt, "chosen": p.chosen, "rejected": p.rejected} for p in pairs))
    train_bt(BTConfig(data=str(data), out=str(out / "bt"), model=str(policy), epochs=args.epochs,
                      learning_rate=args.bt_lr, batch_size=args.batch_size, seed=args.seed,
                      overwrite=True, progress=False))
    return f"classifier:{out / 'bt'}"


def run(args: argparse.Namespace) -> dict[str, Any]:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    policy = Path(args.policy) if args.policy else default_policy(size=args.policy_size)
    splits, problems = build_splits(args)
    fit = splits["train"][: args.test_problems * 5]  # training-fit accuracy on a slice of the training pairs
    report: dict[str, Any] = {"command": args.command, "policy": str(policy), "splits": {
        k: len(v) for k, v in splits.items()}, "config": {k: v for k, v in vars(args).items() if k != "command"}}
    if (policy / "policy.json").is_file():
        report["policy_card"] = {k: policy_card(policy).get(k) for k in ("parameters", "accuracy")}
    models: dict[str, tuple[str, float]] = {}
    start = time.perf_counter()
    models["implicit (DPO)"] = (train_implicit(args, policy, splits["train"], out), time.perf_counter() - start)
    if not args.no_bt:
        start = time.perf_counter()
        models["explicit (BT)"] = (train_explicit(args, policy, splits["train"], out), time.perf_counter() - start)
    models["SFT likelihood (no preference training)"] = (
        f"implicit:policy={policy},mode=ref_free_avg,beta=1", 0.0)
    report["results"] = {}
    for name, (spec, seconds) in models.items():
        reward = load_reward(spec)
        row = {"spec": spec, "train_seconds": round(seconds, 1), "fit": accuracy(reward, fit)}
        for split in ("id", "hard", "template"):
            row[split] = accuracy(reward, splits[split])
        row["drop_hard"] = row["id"]["accuracy"] - row["hard"]["accuracy"]
        row["drop_template"] = row["id"]["accuracy"] - row["template"]["accuracy"]
        report["results"][name] = row
    dpo_spec = models["implicit (DPO)"][0]
    report["implicit_prm"] = implicit_prm_check(dpo_spec, problems)
    write_json(out / "results.json", report)
    return report


def table(report: dict[str, Any]) -> str:
    lines = ["| reward | train fit | id | hard | drop (hard) | template | drop (template) |",
             "|---|---|---|---|---|---|---|"]
    for name, row in report["results"].items():
        lines.append(f"| {name} | {row['fit']['accuracy']:.3f} | {row['id']['accuracy']:.3f} | "
                     f"{row['hard']['accuracy']:.3f} | {row['drop_hard']:+.3f} | "
                     f"{row['template']['accuracy']:.3f} | {row['drop_template']:+.3f} |")
    prm = report.get("implicit_prm")
    if prm:
        lines += ["", f"| implicit PRM (DPO policy), tau = {prm['tau']:.4f} from id | argmin = first error | "
                  "chance | acc. wrong | acc. right | F1 |", "|---|---|---|---|---|---|"]
        for split in ("id", "hard", "template"):
            row = prm[split]
            lines.append(f"| {split} | {row['argmin']:.3f} | {row['argmin_chance']:.3f} | {row['wrong']:.3f} | "
                         f"{row['right']:.3f} | {row['f1']:.3f} |")
    return "\n".join(lines)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="tiny policy and few pairs: checks the pipeline")
    ap.add_argument("--out", default="runs/implicit_vs_explicit")
    ap.add_argument("--policy", help="a causal LM folder (default: the embedded world's policy)")
    ap.add_argument("--policy-size", default="full", choices=["tiny", "small", "full"])
    ap.add_argument("--train-problems", type=int, default=400)
    ap.add_argument("--test-problems", type=int, default=120)
    ap.add_argument("--train-difficulties", default="easy,medium")
    ap.add_argument("--heldout-template", default="group")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--beta", type=float, default=0.1)
    ap.add_argument("--dpo-lr", type=float, default=5e-4)
    ap.add_argument("--bt-lr", type=float, default=5e-4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-bt", action="store_true", help="skip the explicit BT model")
    ap.add_argument("--reuse", action="store_true", help="score models already trained in --out, do not retrain")
    args = ap.parse_args(argv)
    if args.quick:
        args.policy_size, args.train_problems, args.test_problems, args.epochs = "tiny", 24, 8, 1
    return args


def main(argv: list[str] | None = None) -> None:
    import sys

    args = parse(argv)
    args.command = "python bench/implicit_vs_explicit.py " + " ".join(argv if argv is not None else sys.argv[1:])
    report = run(args)
    print(json.dumps(report["splits"]))
    print(table(report))
    print(f"results: {Path(args.out) / 'results.json'}")


if __name__ == "__main__":
    main()
