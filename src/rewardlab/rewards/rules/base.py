"""What every rule shares: the `RuleReward` wrapper, typed option parsing, and the two kinds of "no".

A rule is a function ``check(sample) -> Score``. Two outcomes are kept apart on purpose (RESEARCH 1.1):
- the response is wrong or has nothing to grade (no answer, bad format): value 0 with the reason in
  ``rationale``, because for RL that is a legitimate, learnable zero;
- the check itself cannot run (no reference to compare with, a broken test harness): ``Score.failure``,
  NaN plus ``error``, so it is counted as a failure and never averaged in as a zero.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from rewardlab.types import Sample, Score

Check = Callable[[Sample], Score]


def wrong(reason: str, **components: float) -> Score:
    """A graded zero: the response was judged and fails (``reason`` says why)."""
    return Score(value=0.0, components=dict(components), rationale=reason)


def reference_of(sample: Sample, rule: str) -> str | Score:
    """The sample's gold reference, or a failure Score when there is none (the check cannot run)."""
    if sample.reference is None or not str(sample.reference).strip():
        return Score.failure(f"{rule}: the sample has no reference to compare with (Sample.reference is empty)")
    return str(sample.reference)


@dataclass
class Options:
    """Typed access to ``key=value`` options; `finish()` rejects any key nobody read (typos fail loudly)."""

    rule: str
    raw: dict[str, str]
    used: set[str] = field(default_factory=set)

    def text(self, key: str, default: str | None = None) -> str | None:
        self.used.add(key)
        return self.raw.get(key, default)

    def integer(self, key: str, default: int) -> int:
        return int(self.number(key, default))

    def number(self, key: str, default: float) -> float:
        text = self.text(key)
        if text is None:
            return default
        try:
            return float(text)
        except ValueError:
            raise ValueError(f"rule:{self.rule}: option {key}={text!r} is not a number") from None

    def flag(self, key: str, default: bool) -> bool:
        text = self.text(key)
        if text is None:
            return default
        if text.lower() in {"1", "true", "yes", "on"}:
            return True
        if text.lower() in {"0", "false", "no", "off"}:
            return False
        raise ValueError(f"rule:{self.rule}: option {key}={text!r} is not a boolean (true/false)")

    def finish(self) -> None:
        unknown = sorted(set(self.raw) - self.used)
        if unknown:
            raise ValueError(f"rule:{self.rule}: unknown option(s) {unknown}; known: {sorted(self.used)}")


class RuleReward:
    """A `Reward` made of a per-sample check; ``score`` maps it over samples in order.

    ``batch_check`` (optional) scores a whole list at once, for rules that parallelise (code execution).
    ``executes_code`` marks a rule that runs the sample's code (``rule:code``): a server must opt in to it.
    """

    def __init__(self, name: str, check: Check | None = None,
                 batch_check: Callable[[Sequence[Sample]], list[Score]] | None = None, executes_code: bool = False):
        if check is None and batch_check is None:
            raise ValueError("a rule needs check or batch_check")
        self.name = name
        self.executes_code = executes_code
        self._check = check
        self._batch_check = batch_check

    def score(self, samples: Sequence[Sample]) -> list[Score]:
        if self._batch_check is not None:
            return self._batch_check(samples)
        assert self._check is not None
        return [self._check(s) for s in samples]

    def __repr__(self) -> str:
        return f"RuleReward({self.name!r})"
