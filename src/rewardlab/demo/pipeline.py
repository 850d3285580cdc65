"""``rewardlab demo``: a whole reward-modeling lifecycle on the embedded world, offline, in minutes.

Stages, in order (each writes its output under OUT and is skipped on the next run when its inputs are
unchanged; ``fresh`` rebuilds all):

1. policy: the tiny causal LM, SFT on gold solutions (`rewardlab.synth.policy`);
2. candidates: N sampled solutions per problem (reward-model problems and evaluation problems, different
   seeds), labelled by the rule verifier (``rule:math``, checked against the world's exact `is_correct`);
3. verifier_steps: equations labelled exactly by the world: the gold equations of extra world problems with
   randomly slipped copies, and the equations of the policy's own samples (`rewardlab.demo.verifier`);
4. verifier: the step verifier, a process reward model on the policy's own backbone over a solution's
   equations (`rewardlab.train.prm`, kind ``plusminus``: the next-token choice between ``+`` and ``-``
   after each equation), a solution scored by the min over its equations;
5. pairs and reward_model (with ``DemoSize.outcome_rm``): (correct, wrong) candidates of the same problem,
   where a problem has no correct (or no wrong) sample the gold solution (or a world corruption) stands
   in and the pair's subset says so; then the outcome reward model, MiniLM trained with the
   Bradley-Terry recipe (`rewardlab.train.bt`) on those pairs;
6. scores: every reward scores every evaluation candidate (and the probe pairs);
7. report: which rule helps (each reward's pick and its weighted majority vote, best-of-M with CIs against
   random and majority vote, `rewardlab.demo.compare`), best-of-N curves, pairwise accuracy and
   calibration; ``results.json`` and ``report.html``.
"""

from __future__ import annotations

import hashlib
import json
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rewardlab.demo.verifier import StepVerifier, verifier_rows
from rewardlab.io import write_json, write_jsonl
from rewardlab.synth.export import WRONG_ANSWER_KINDS, pair_rows
from rewardlab.synth.world import WORLD_VERSION, Problem, extract_answer, generate_problems, is_correct

RM_SEED, EVAL_SEED, PROBE_SEED, VERIFIER_WORLD_SEED = 3_000_003, 4_000_003, 5_000_003, 6_000_003
STEP_VERIFIER, OUTCOME_RM = "step verifier (min)", "MiniLM BT (outcome)"
REWARDS = (STEP_VERIFIER, OUTCOME_RM)
"""The learned rewards the demo can train and compare, in report order (the outcome RM only with
``DemoSize.outcome_rm``)."""
VOTE_WEIGHTING = {STEP_VERIFIER: "raw", OUTCOME_RM: "sigmoid"}
"""How each reward's values become votes in its weighted majority vote (`rewardlab.search.voting`): the
BT model's logits through a sigmoid, the verifier's probabilities as they are."""


@dataclass(frozen=True)
class DemoSize:
    """How big each stage is. ``eval_samples`` is the pool size M of the best-of-N curves; ``outcome_rm``
    adds the MiniLM BT outcome model (the pairs and reward_model stages, and its scoring: about 105 s on an
    idle machine at the full size)."""

    name: str
    policy: str
    difficulty: str | None
    rm_problems: int
    rm_samples: int
    pairs_per_problem: int
    eval_problems: int
    eval_samples: int
    temperature: float
    max_new_tokens: int
    rm_epochs: int
    rm_batch_size: int
    rm_learning_rate: float
    outcome_rm: bool = True
    policy_eval_problems: int = 100
    probe_problems: int = 40
    verifier_world_problems: int = 6000
    verifier_copies: int = 2
    verifier_epochs: int = 4
    verifier_max_steps: int | None = None
    verifier_batch_size: int = 64
    verifier_learning_rate: float = 2e-3


SIZES = {
    "full": DemoSize("full", "full", "easy", rm_problems=300, rm_samples=8, pairs_per_problem=3,
                     eval_problems=150, eval_samples=16, temperature=0.8, max_new_tokens=80, rm_epochs=1,
                     rm_batch_size=16, rm_learning_rate=5e-5, outcome_rm=False),
    "small": DemoSize("small", "small", "easy", rm_problems=40, rm_samples=4, pairs_per_problem=2,
                      eval_problems=24, eval_samples=8, temperature=1.0, max_new_tokens=80, rm_epochs=1,
                      rm_batch_size=8, rm_learning_rate=5e-5, policy_eval_problems=20, probe_problems=10,
                      verifier_world_problems=300, verifier_epochs=2, verifier_batch_size=16),
}
"""``full`` is the demo (the outcome RM off: its ~105 s do not fit the 10-minute budget beside the step
verifier's ~245 s; ``--outcome-rm`` adds it, docs/demo.md has its figures); ``small`` checks the pipeline in a
couple of minutes (its policy rarely solves a problem, so most pairs use the gold solution as the chosen
side)."""


class StageCache:
    """Runs the stages in order and remembers, in OUT/demo_cache.json, the key each stage's outputs were
    built from. A stage is skipped when its key matches and its outputs exist; once one stage runs, every
    later stage runs too (its inputs may have changed)."""

    def __init__(self, out: Path, fresh: bool, key: str, echo: Callable[[str], None]):
        self.path, self.key, self.echo = out / "demo_cache.json", key, echo
        saved = json.loads(self.path.read_text(encoding="utf-8")) if self.path.exists() and not fresh else {}
        self.keys: dict[str, str] = saved.get("keys", {})
        self.build_seconds: dict[str, float] = saved.get("build_seconds", {})
        self.dirty = False
        self.timings: dict[str, float] = {}
        self.cached: list[str] = []

    def run(self, name: str, outputs: tuple[Path, ...], build: Callable[[], Any], inputs: Any = None) -> None:
        """Build stage ``name`` unless cached. Its key chains the previous stage's key with ``inputs`` (the
        settings this stage reads), so changing, say, the PRM's learning rate keeps the policy."""
        self.key = key_of(self.key, name, inputs)
        start = time.perf_counter()
        if not self.dirty and self.keys.get(name) == self.key and all(p.exists() for p in outputs):
            self.cached.append(name)
            self.echo(f"[{name}] cached")
        else:
            self.echo(f"[{name}] running")
            build()
            self.dirty = True
            self.keys[name] = self.key
            self.build_seconds[name] = round(time.perf_counter() - start, 1)
            write_json(self.path, {"keys": self.keys, "build_seconds": self.build_seconds})
        self.timings[name] = round(time.perf_counter() - start, 1)


def key_of(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def run_demo(out: str | Path = "rewardlab-demo", size: str | DemoSize = "full", fresh: bool = False,
             progress: bool | None = None, echo: Callable[[str], None] = print) -> Path:
    """Run every stage (reusing cached outputs) and return the path of ``report.html``.

    ``size`` is a name in `SIZES` or a `DemoSize` (tests use a smaller one).
    """
    from rewardlab.demo.report import build_results, write_report
    from rewardlab.synth.policy import train_policy

    if isinstance(size, str) and size not in SIZES:
        raise ValueError(f"unknown demo size {size!r}; expected one of {', '.join(SIZES)}")
    cfg, out = (SIZES[size] if isinstance(size, str) else size), Path(out)
    progress = sys.stderr.isatty() if progress is None else progress
    out.mkdir(parents=True, exist_ok=True)
    stages = StageCache(out, fresh, key_of(WORLD_VERSION, cfg.difficulty), echo)
    used = lambda *names: {n: getattr(cfg, n) for n in names}  # noqa: E731  (a stage's settings, for its key)
    rm_problems = generate_problems(cfg.rm_problems, RM_SEED, cfg.difficulty)
    eval_problems = generate_problems(cfg.eval_problems, EVAL_SEED, cfg.difficulty)
    files = {name: out / f"{name}.jsonl" for name in ("candidates_rm", "candidates_eval", "pairs", "scores", "probe",
                                                       "verifier_steps")}
    files["verifier"], files["score_seconds"] = out / "verifier.json", out / "scores_seconds.json"
    policy_dir, rm_dir, verifier_dir = out / "policy", out / "rm", out / "verifier"

    stages.run("policy", (policy_dir / "policy.json",), lambda: train_policy(
        policy_dir, cfg.policy, eval_problems=cfg.policy_eval_problems, progress=progress),
        used("policy", "policy_eval_problems"))
    stages.run("candidates", (files["candidates_rm"], files["candidates_eval"], files["verifier"]),
               lambda: sample_candidates(policy_dir, rm_problems, eval_problems, cfg, files),
               used("rm_problems", "rm_samples", "eval_problems", "eval_samples", "temperature", "max_new_tokens"))
    stages.run("verifier_steps", (files["verifier_steps"],), lambda: write_jsonl(files["verifier_steps"], verifier_rows(
        generate_problems(cfg.verifier_world_problems, VERIFIER_WORLD_SEED, cfg.difficulty),
        read_jsonl(files["candidates_rm"]), seed=0, copies=cfg.verifier_copies)),
        used("verifier_world_problems", "verifier_copies"))
    stages.run("verifier", (verifier_dir / "rewardlab_train.json",),
               lambda: train_verifier(files["verifier_steps"], verifier_dir, policy_dir, cfg, progress),
               used("verifier_epochs", "verifier_max_steps", "verifier_batch_size", "verifier_learning_rate"))
    reward_dirs, stage_of = {STEP_VERIFIER: verifier_dir}, {STEP_VERIFIER: "verifier"}
    if cfg.outcome_rm:
        stages.run("pairs", (files["pairs"],), lambda: write_jsonl(files["pairs"], build_pairs(
            rm_problems, read_jsonl(files["candidates_rm"]), cfg.pairs_per_problem, seed=0)),
            used("pairs_per_problem"))
        stages.run("reward_model", (rm_dir / "rewardlab_train.json",),
                   lambda: train_reward_model(files["pairs"], rm_dir, cfg, progress),
                   used("rm_epochs", "rm_batch_size", "rm_learning_rate"))
        reward_dirs[OUTCOME_RM], stage_of[OUTCOME_RM] = rm_dir, "reward_model"
    scorers = {STEP_VERIFIER: lambda: StepVerifier(verifier_dir), OUTCOME_RM: lambda: classifier_reward(rm_dir)}
    stages.run("scores", (files["scores"], files["probe"], files["score_seconds"]), lambda: score_candidates(
        {name: scorers[name]() for name in reward_dirs}, read_jsonl(files["candidates_eval"]),
        pair_rows(generate_problems(cfg.probe_problems, PROBE_SEED, cfg.difficulty)), files),
        {**used("probe_problems"), "rewards": list(reward_dirs)})

    start = time.perf_counter()
    results = build_results(out, cfg, eval_problems, files, policy_dir, reward_dirs,
                            {name: VOTE_WEIGHTING[name] for name in reward_dirs}, stage_of)
    results.update({"timings_s": {**stages.timings, "results": round(time.perf_counter() - start, 1)},
                    "build_seconds": stages.build_seconds, "cached_stages": stages.cached})
    report = write_report(out, results)
    echo(results["note"])
    echo(f"report: {report.resolve()}")
    return report


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def sample_candidates(policy_dir: Path, rm_problems: list[Problem], eval_problems: list[Problem],
                      cfg: DemoSize, files: dict[str, Path]) -> None:
    """Sample, verify and write the candidate pools (best-of-N format plus each candidate's stated
    answer); the verifier's summary per pool goes to ``verifier.json`` beside them."""
    from rewardlab.synth.policy import generate, load_policy

    model, tokenizer = load_policy(policy_dir)
    summaries = {}
    for name, problems, n, seed in (("candidates_rm", rm_problems, cfg.rm_samples, 1),
                                    ("candidates_eval", eval_problems, cfg.eval_samples, 2)):
        texts = generate(model, tokenizer, [p.prompt for p in problems], n=n, temperature=cfg.temperature,
                         max_new_tokens=cfg.max_new_tokens, seed=seed)
        labels, summaries[name] = verify(problems, texts)
        write_jsonl(files[name], ({"id": p.id, "prompt": p.prompt, "responses": ts, "correct": ls,
                                   "answers": [extract_answer(t) for t in ts], "reference": str(p.answer),
                                   "subset": p.difficulty, "verifier": summaries[name]["name"]}
                                  for p, ts, ls in zip(problems, texts, labels)))
    write_json(files["verifier"], summaries)


def verify(problems: list[Problem], texts: list[list[str]]) -> tuple[list[list[bool]], dict[str, Any]]:
    """Labels from ``rule:math`` (the world's `is_correct` where that reward is not installed).

    A candidate that never states ``The answer is N`` (the world's answer format; usually a generation cut
    off by the token limit) is wrong whatever its last number: ``rule:math`` would otherwise fall back to
    the last number and credit a half-written solution. The summary counts those, the rule's failures
    (counted as wrong) and any disagreement with `is_correct`.
    """
    from rewardlab.types import Sample

    flat = [(p, t) for p, ts in zip(problems, texts) for t in ts]
    exact = [is_correct(t, p.answer) for p, t in flat]
    stated = [extract_answer(t) is not None for _, t in flat]
    try:
        from rewardlab.rewards.base import load_reward

        rule = load_reward("rule:math")
    except (ImportError, KeyError, ValueError):
        rule = None
    if rule is None:
        labels, name, failed = exact, "world:is_correct", 0
    else:
        scores = rule.score([Sample(p.prompt, t, reference=str(p.answer)) for p, t in flat])
        labels = [s.ok and s.value >= 0.5 and ok for s, ok in zip(scores, stated)]
        name, failed = rule.name, sum(not s.ok for s in scores)
    summary = {"name": name, "failed": failed, "no_stated_answer": stated.count(False),
               "disagree_with_is_correct": sum(a != b for a, b in zip(labels, exact))}
    it = iter(labels)
    return [[next(it) for _ in ts] for ts in texts], summary


def build_pairs(problems: list[Problem], rows: list[dict[str, Any]], per_problem: int,
                seed: int = 0) -> list[dict[str, Any]]:
    """Up to ``per_problem`` distinct (correct, wrong) pairs per problem; subset names the sources."""
    from rewardlab.synth.corrupt import corrupt_any

    rng = random.Random(seed)
    pairs = []
    for p, row in zip(problems, rows):
        good = sorted({r for r, c in zip(row["responses"], row["correct"]) if c})
        bad = sorted({r for r, c in zip(row["responses"], row["correct"]) if not c})
        chosen, c_src = (good, "policy") if good else ([p.solution], "gold")
        if bad:
            rejected, r_src = bad, "policy"
        else:
            rejected, r_src = [corrupt_any(p, rng, WRONG_ANSWER_KINDS).solution], "corrupt"
        combos = [(c, r) for c in chosen for r in rejected]
        for j, (c, r) in enumerate(rng.sample(combos, min(per_problem, len(combos)))):
            pairs.append({"id": f"{p.id}-{j}", "prompt": p.prompt, "chosen": c, "rejected": r,
                          "subset": f"{c_src}-vs-{r_src}"})
    return pairs


def train_reward_model(pairs: Path, rm_dir: Path, cfg: DemoSize, progress: bool) -> dict[str, Any]:
    """The one call into the training recipe: MiniLM, Bradley-Terry, 10% of prompts held out."""
    from rewardlab.train.bt import BTConfig, main

    config = BTConfig(data=str(pairs), out=str(rm_dir), model="minilm", epochs=cfg.rm_epochs,
                      batch_size=cfg.rm_batch_size, learning_rate=cfg.rm_learning_rate, warmup_ratio=0.1,
                      eval_fraction=0.1, overwrite=True, seed=0, progress=progress)
    return main(config)


def train_verifier(steps: Path, verifier_dir: Path, policy_dir: Path, cfg: DemoSize,
                   progress: bool) -> dict[str, Any]:
    """The PRM recipe on the policy's own backbone (it already reads the world's digits) on equation rows
    (`rewardlab.demo.verifier`): the verifier prompt, then the equations each ending in a newline, so the
    prompt separator is empty. Nothing is held out here (every row has the same prompt, and the recipe
    holds out by prompt): the report measures the verifier on the evaluation problems' candidates."""
    from rewardlab.train.prm import PRMConfig, main

    config = PRMConfig(data=str(steps), out=str(verifier_dir), model=str(policy_dir), kind="plusminus",
                       epochs=cfg.verifier_epochs, max_steps=cfg.verifier_max_steps,
                       batch_size=cfg.verifier_batch_size, learning_rate=cfg.verifier_learning_rate,
                       warmup_ratio=0.05, eval_fraction=0.0, step_tag="\n", prompt_sep="", overwrite=True,
                       seed=0, progress=progress)
    return main(config)


def classifier_reward(rm_dir: Path) -> Callable[[list[Any]], list[float]]:
    from rewardlab.rewards.base import load_reward

    reward = load_reward(f"classifier:{rm_dir}")
    return lambda samples: [s.value for s in reward.score(samples)]


def score_candidates(rewards: dict[str, Callable[[list[Any]], list[float]]], rows: list[dict[str, Any]],
                     probe: list[dict[str, Any]], files: dict[str, Path]) -> None:
    """Each reward's value of every evaluation candidate (``{"id", "scores": {reward: [...]}}`` per problem)
    and of both sides of the probe pairs (gold vs one world corruption per kind: what each reward can
    tell apart; ``{"id", "subset", "chosen": {reward: x}, "rejected": {reward: x}}``) and the seconds each
    reward took (``scores_seconds.json``)."""
    from rewardlab.types import Sample

    samples = [Sample(row["prompt"], r) for row in rows for r in row["responses"]]
    samples += [Sample(p["prompt"], side) for p in probe for side in (p["chosen"], p["rejected"])]
    values, seconds = {}, {}
    for name, score in rewards.items():
        start = time.perf_counter()
        values[name] = score(samples)
        seconds[name] = round(time.perf_counter() - start, 2)
    its = {name: iter(v) for name, v in values.items()}

    def take(k: int) -> dict[str, list[float]]:
        return {name: [next(it) for _ in range(k)] for name, it in its.items()}

    write_jsonl(files["scores"], [{"id": row["id"], "scores": take(len(row["responses"]))} for row in rows])
    probe_rows = []
    for p in probe:
        sides = take(2)
        probe_rows.append({"id": p["id"], "subset": p["subset"], "chosen": {k: v[0] for k, v in sides.items()},
                           "rejected": {k: v[1] for k, v in sides.items()}})
    write_jsonl(files["probe"], probe_rows)
    write_json(files["score_seconds"], {"seconds": seconds, "samples": len(samples)})
