"""``rule:code``: run the response's code against unit tests in the sandbox; reward = share of tests passed.

Tests come from the sample, first found wins:
- ``metadata["tests"]``: a list of Python snippets (usually ``assert``s) run after the solution, each in
  a copy of its namespace, so one failing test does not stop the others;
- ``metadata["inputs"]`` and ``metadata["outputs"]``: stdin/stdout cases (APPS / CodeContests style),
  the program run once per case, outputs compared token by token;
- ``Sample.reference``: either a JSON ``{"inputs": [...], "outputs": [...]}`` or test code (one snippet).

Spec: ``rule:code[,partial=true][,timeout=10][,cpu=5][,memory_mb=1024][,processes=32][,disk_mb=64]
[,workers=2][,unsafe=false]``.

The code runs in a bubblewrap sandbox (`rewardlab.rewards.rules.bwrap`). Where bwrap is missing or
cannot start, the spec refuses to load and says how to install it; ``unsafe=true`` lets it fall back to
a plain subprocess with rlimits and an audit hook, which contains accidents but not attacks, and logs a
warning saying so. Rationales carry the first failing test's message, cut to 200 characters: never the
program's output or anything it read.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from rewardlab.rewards.rules.base import Options, wrong
from rewardlab.rewards.rules.sandbox import RunOutcome, SandboxLimits, bwrap_problem, cap_message, run_python
from rewardlab.types import Sample, Score

log = logging.getLogger("rewardlab.rules.code")


class SandboxUnavailable(RuntimeError):
    """rule:code cannot run untrusted code safely here (no working bwrap) and unsafe=true was not given."""

_FENCE = re.compile(r"```[ \t]*(?:python|py|python3)?[ \t]*\n(.*?)```", re.DOTALL | re.IGNORECASE)


def extract_code(response: str) -> str | None:
    """The last fenced code block, or the whole response when it is itself valid Python; else None."""
    blocks = [b for b in _FENCE.findall(response) if b.strip()]
    if blocks:
        return blocks[-1]
    try:
        compile(response, "<response>", "exec")
    except (SyntaxError, ValueError):
        return None
    return response if response.strip() else None


def tests_of(sample: Sample) -> tuple[list[str], list[dict]] | str:
    """(assert snippets, stdin/stdout cases) for a sample, or a reason string when it has none."""
    meta = sample.metadata
    if meta.get("tests"):
        tests = meta["tests"]
        return ([tests] if isinstance(tests, str) else [str(t) for t in tests]), []
    if meta.get("inputs") is not None and meta.get("outputs") is not None:
        return [], _io_cases(meta["inputs"], meta["outputs"])
    ref = (sample.reference or "").strip()
    if not ref:
        return "no tests: give metadata['tests'], metadata['inputs'/'outputs'] or a reference"
    if ref.startswith("{"):
        try:
            spec = json.loads(ref)
            return [], _io_cases(spec["inputs"], spec["outputs"])
        except (json.JSONDecodeError, KeyError, TypeError):
            pass
    return [ref], []


def _io_cases(inputs: Sequence, outputs: Sequence) -> list[dict]:
    if len(inputs) != len(outputs):
        raise ValueError(f"{len(inputs)} test inputs but {len(outputs)} outputs")
    return [{"input": str(i), "output": str(o)} for i, o in zip(inputs, outputs)]


class CodeRule:
    """Scores code responses by sandboxed test execution, several samples at once (threads wait on
    subprocesses, so ``workers`` bounds how many sandboxes run concurrently)."""

    def __init__(self, opts: Options):
        self.partial = opts.flag("partial", True)
        self.workers = max(1, opts.integer("workers", 2))
        self.limits = SandboxLimits(
            wall_seconds=opts.number("timeout", 10.0), cpu_seconds=opts.integer("cpu", 5),
            memory_mb=opts.integer("memory_mb", 1024), processes=opts.integer("processes", 32),
            disk_mb=opts.integer("disk_mb", 64),
        )
        self.backend = choose_backend(opts.flag("unsafe", False))

    def score(self, samples: Sequence[Sample]) -> list[Score]:
        if len(samples) <= 1 or self.workers == 1:
            return [self.check(s) for s in samples]
        with ThreadPoolExecutor(self.workers) as pool:
            return list(pool.map(self.check, samples))

    def check(self, sample: Sample) -> Score:
        code = extract_code(sample.response)
        if code is None:
            return wrong("no code found: no ``` block and the response is not valid Python", passed=0.0)
        try:
            found = tests_of(sample)
        except ValueError as exc:
            return Score.failure(f"code: bad tests: {exc}")
        if isinstance(found, str):
            return Score.failure(f"code: {found}")
        tests, cases = found
        return self.judge(run_python(code, tests, cases, self.limits, self.backend), len(tests) + len(cases))

    def judge(self, outcome: RunOutcome, total: int) -> Score:
        parts = {"passed": float(outcome.passed), "total": float(total)}
        reason = outcome.failure_reason()
        if reason is not None:
            return wrong(f"0/{total} tests: {reason}", **parts)
        failures = [(i, r) for i, r in enumerate(outcome.results) if r is not True]
        value = outcome.passed / total if self.partial else float(not failures)
        why = f"{outcome.passed}/{total} tests passed"
        if failures:
            why += f"; test {failures[0][0]} failed: {cap_message(failures[0][1])}"
        return Score(value, components=parts, rationale=why)


def choose_backend(unsafe: bool) -> str:
    """``bwrap`` where it works; otherwise refuse, unless the spec says ``unsafe=true`` (logged loudly)."""
    problem = bwrap_problem()
    if problem is None:
        return "bwrap"
    if not unsafe:
        raise SandboxUnavailable(
            f"rule:code runs untrusted code and needs an OS sandbox: {problem}. Only for code you trust, "
            "add unsafe=true to the spec (rule:code,unsafe=true) to run it in a plain subprocess instead.")
    log.warning("rule:code,unsafe=true: %s; running code WITHOUT the OS sandbox (rlimits and an audit hook "
                "only). Code written to escape can read and write this machine's files and run programs.",
                problem)
    return "process"
