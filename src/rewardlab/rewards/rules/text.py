"""Text-matching rules: exact / normalised match, regex, multiple choice, and output format.

Each ``make_*`` takes parsed `Options` and returns a check ``(Sample) -> Score``; options are read up
front so a typo fails when the spec is loaded, not on the first sample.
"""

from __future__ import annotations

import re
import string

from rewardlab.rewards.rules.base import Check, Options, reference_of, wrong
from rewardlab.rewards.rules.math_answer import last_boxed
from rewardlab.types import Sample, Score

_ARTICLES = re.compile(r"\b(a|an|the)\b")


def normalize_text(text: str) -> str:
    """SQuAD-style normalisation: lower case, no punctuation, no articles, single spaces."""
    text = text.lower()
    text = "".join(ch for ch in text if ch not in string.punctuation)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def make_exact(opts: Options) -> Check:
    """``rule:exact[,normalize=true]``: 1 when the response equals the reference (whitespace-trimmed)."""
    normalized = opts.flag("normalize", False)
    label = "normalised" if normalized else "exact"

    def check(sample: Sample) -> Score:
        ref = reference_of(sample, "exact")
        if isinstance(ref, Score):
            return ref
        a, b = sample.response.strip(), ref.strip()
        if normalized:
            a, b = normalize_text(a), normalize_text(b)
        if not a:
            return wrong("empty response: nothing to compare with the reference")
        if a == b:
            return Score(1.0, rationale=f"{label} match")
        return wrong(f"{label} mismatch: {a[:60]!r} != {b[:60]!r}")

    return check


def make_regex(opts: Options) -> Check:
    """``rule:regex[,flags=ims][,full=true],pattern=REGEX``: 1 when the pattern is found in the response.

    ``pattern`` may contain commas, so it must be the last option. With a named group ``answer`` and a
    reference, the group must also equal the reference (stripped).
    """
    pattern = opts.text("pattern")
    if not pattern:
        raise ValueError("rule:regex needs pattern=REGEX (as the last option)")
    flags = 0
    for letter in opts.text("flags", "") or "":
        if letter.lower() not in "imsx":
            raise ValueError(f"rule:regex: flag {letter!r} is not one of i, m, s, x")
        flags |= {"i": re.I, "m": re.M, "s": re.S, "x": re.X}[letter.lower()]
    try:
        compiled = re.compile(pattern, flags)
    except re.error as exc:
        raise ValueError(f"rule:regex: pattern {pattern!r} does not compile: {exc}") from None
    full = opts.flag("full", False)

    def check(sample: Sample) -> Score:
        match = compiled.fullmatch(sample.response.strip()) if full else compiled.search(sample.response)
        if match is None:
            return wrong(f"no match for /{pattern}/ in the response")
        if "answer" in compiled.groupindex and sample.reference is not None:
            got = (match.group("answer") or "").strip()
            if got != sample.reference.strip():
                return wrong(f"matched answer {got!r} != reference {sample.reference.strip()!r}")
        return Score(1.0, rationale=f"matched {match.group(0)[:60]!r}")

    return check


def find_choice(text: str, letters: str) -> str | None:
    """The option letter a response commits to, or None.

    Tried from most to least explicit: ``\\boxed{B}``, "answer is (B)" / "Answer: B", then a lone
    ``(B)`` or ``B)`` or ``B.`` at a word boundary (the last one wins), then a response that is one letter.
    """
    cls = f"[{re.escape(letters)}]"
    boxed = last_boxed(text)
    if boxed:
        inner = re.fullmatch(rf"\(?(?:\\text\{{)?\(?({cls})\)?\}}?\)?", boxed.strip())
        if inner:
            return inner.group(1)
    phrase = re.findall(rf"answer\s*(?:is|:)?\s*:?\s*\(?\**({cls})\b", text, re.IGNORECASE)
    phrase = [p for p in phrase if p in letters]
    if phrase:
        return phrase[-1]
    marked = re.findall(rf"\(({cls})\)|(?<![\w])({cls})[).:](?!\w)", text)
    if marked:
        a, b = marked[-1]
        return a or b
    bare = text.strip().strip("*.()[] ")
    return bare if len(bare) == 1 and bare in letters else None


def make_choice(opts: Options) -> Check:
    """``rule:choice[,choices=ABCD]``: 1 when the chosen option letter equals the reference's."""
    letters = (opts.text("choices", "ABCDEFGHIJ") or "").upper()
    if not letters.isalpha():
        raise ValueError(f"rule:choice: choices={letters!r} must be letters, e.g. ABCD")

    def check(sample: Sample) -> Score:
        ref = reference_of(sample, "choice")
        if isinstance(ref, Score):
            return ref
        gold = find_choice(ref, letters) or ref.strip().upper()
        got = find_choice(sample.response, letters)
        if got is None:
            return wrong(f"no option letter ({', '.join(letters)}) found in the response")
        if got == gold:
            return Score(1.0, rationale=f"chose {got}, which is correct")
        return wrong(f"chose {got}, the reference is {gold}")

    return check


def make_format(opts: Options) -> Check:
    """``rule:format[,tags=think+answer][,strict=true]``: 1 when the response is the tagged blocks, in order.

    The default is R1-style ``<think>...</think><answer>...</answer>``. With ``strict=true`` nothing may
    surround the blocks but whitespace; otherwise the blocks need only appear in order.
    """
    tags = [t for t in (opts.text("tags", "think+answer") or "").split("+") if t]
    if not tags or not all(re.fullmatch(r"[A-Za-z_][\w-]*", t) for t in tags):
        raise ValueError(f"rule:format: tags={'+'.join(tags)!r} must be tag names joined by '+'")
    strict = opts.flag("strict", True)
    body = r"\s*".join(rf"<{t}>(.*?)</{t}>" for t in tags)
    pattern = re.compile(rf"^\s*{body}\s*$" if strict else body, re.DOTALL)

    def check(sample: Sample) -> Score:
        match = pattern.fullmatch(sample.response) if strict else pattern.search(sample.response)
        if match is None:
            missing = [t for t in tags if f"<{t}>" not in sample.response or f"</{t}>" not in sample.response]
            why = f"missing <{missing[0]}>...</{missing[0]}>" if missing else "blocks out of order or text outside them"
            return wrong(f"format: expected {''.join(f'<{t}>...</{t}>' for t in tags)}; {why}")
        empty = [t for t, content in zip(tags, match.groups()) if not content.strip()]
        if empty:
            return wrong(f"format: <{empty[0]}> is empty")
        return Score(1.0, rationale="format ok")

    return check
