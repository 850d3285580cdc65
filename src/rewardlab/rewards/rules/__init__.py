"""The ``rule:`` reward family: verifiable checks that need no model.

``from_spec("math")`` (the text after ``rule:``) builds one rule. Rules and their options:

| spec | reward |
|---|---|
| ``rule:math`` | 1 when the final answer (boxed, ``####``, "The answer is", last number) equals the reference |
| ``rule:exact[,normalize=true]`` | exact (or SQuAD-normalised) match with the reference |
| ``rule:regex[,flags=i][,full=true],pattern=RE`` | the pattern is found (``pattern`` last: it may contain commas) |
| ``rule:choice[,choices=ABCD]`` | the chosen option letter equals the reference's |
| ``rule:format[,tags=think+answer][,strict=true]`` | the response is ``<think>..</think><answer>..</answer>`` |
| ``rule:json_schema[,schema=FILE]`` | the response is JSON, valid against the schema |
| ``rule:bleu`` / ``rule:chrf`` | sentence BLEU / chrF against the reference(s), in [0, 1] |
| ``rule:tool_call[,scale=unit\\|toolrl]`` | ToolRL partial credit for tool name, parameter names and values |
| ``rule:code[,timeout=..,cpu=..,memory_mb=..,unsafe=false]`` | share of unit tests passed in the bwrap sandbox |
| ``rule:overlong,max=L,cache=C`` | DAPO soft overlong penalty in [-1, 0] |

A response with nothing to grade scores 0 with the reason in ``rationale``; a sample the rule cannot check
at all (no reference, no tests) is a failure (NaN with ``error``). See docs/rules.md.
"""

from __future__ import annotations

from collections.abc import Callable

from rewardlab.rewards.base import parse_options
from rewardlab.rewards.rules.base import Check, Options, RuleReward, reference_of, wrong
from rewardlab.rewards.rules.math_answer import equivalent, extract_answer, gold_answer
from rewardlab.types import Sample, Score

__all__ = ["RULES", "RuleReward", "from_spec", "make_math"]


def make_math(opts: Options) -> Check:
    """``rule:math[,timeout=5]``: final-answer equivalence with the reference."""
    timeout = opts.integer("timeout", 5)

    def check(sample: Sample) -> Score:
        ref = reference_of(sample, "math")
        if isinstance(ref, Score):
            return ref
        got = extract_answer(sample.response)
        if got is None:
            return wrong("no answer found: no \\boxed{}, '####', 'The answer is' or number in the response",
                         extracted=0.0)
        gold = gold_answer(ref)
        same, how = equivalent(got.text, gold.text, timeout)
        verdict = "equals" if same else "does not equal"
        why = f"answer {got.text!r} (from {got.method}) {verdict} reference {gold.text!r} ({how})"
        return Score(float(same), components={"extracted": 1.0}, rationale=why)

    return check


def _make_code(opts: Options) -> RuleReward:
    from rewardlab.rewards.rules.code_exec import CodeRule

    rule = CodeRule(opts)
    return RuleReward("rule:code", batch_check=rule.score, executes_code=True)


def _lazy(module: str, name: str) -> Callable[[Options], Check]:
    """Import a rule's module only when that rule is built (sacrebleu, jsonschema load on demand)."""

    def factory(opts: Options) -> Check:
        import importlib

        return getattr(importlib.import_module(f"rewardlab.rewards.rules.{module}"), name)(opts)

    return factory


RULES: dict[str, Callable[[Options], Check]] = {
    "math": make_math,
    "exact": _lazy("text", "make_exact"),
    "regex": _lazy("text", "make_regex"),
    "choice": _lazy("text", "make_choice"),
    "format": _lazy("text", "make_format"),
    "json_schema": _lazy("structured", "make_json_schema"),
    "tool_call": _lazy("structured", "make_tool_call"),
    "bleu": _lazy("overlap", "make_bleu"),
    "chrf": _lazy("overlap", "make_chrf"),
    "overlong": _lazy("overlap", "make_overlong"),
}


def split_spec(argument: str) -> tuple[str, dict[str, str]]:
    """``"regex,flags=i,pattern=a,b"`` -> ``("regex", {"flags": "i", "pattern": "a,b"})``.

    Everything after ``pattern=`` is the pattern, commas included, so it must come last.
    """
    head, sep, pattern = argument.partition("pattern=")
    if sep and head and not head.endswith(","):
        raise ValueError(f"rule spec {argument!r}: write pattern= as its own option, after a comma")
    name, options = parse_options(head.rstrip(","))
    if sep:
        options["pattern"] = pattern
    return name, options


def from_spec(argument: str) -> RuleReward:
    """Build the rule named by the text after ``rule:`` (entry point of the ``rule`` family)."""
    name, raw = split_spec(argument.strip())
    if name == "code":
        opts = Options("code", raw)
        reward = _make_code(opts)
        opts.finish()
        return reward
    if name not in RULES:
        import difflib

        hint = difflib.get_close_matches(name, [*RULES, "code"], n=1)
        suggestion = f"; did you mean {hint[0]!r}?" if hint else ""
        raise ValueError(f"unknown rule {name!r}{suggestion} Rules: {', '.join(sorted([*RULES, 'code']))}")
    opts = Options(name, raw)
    check = RULES[name](opts)
    opts.finish()
    return RuleReward(f"rule:{argument.strip()}", check)
