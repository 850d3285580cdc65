"""Math answers: find the final answer in a free-text solution, and decide whether two answers are equal.

Extraction tries, in order, the markers a solution uses to say "this is my answer" (the last occurrence of
each wins, since models restate and correct themselves): ``\\boxed{...}``, GSM8K's ``#### x``, a phrase
("The answer is x", "Final answer: x", a line starting ``Answer:`` or ``A:``), and finally the last number.

Equivalence is cheapest first: normalised strings (units, ``$``, ``\\%``, ``\\left``, thousands commas,
trailing periods stripped), then exact rational arithmetic on plain numbers and fractions, then
``math-verify`` (LaTeX parsed into sympy: sets, tuples, intervals, symbolic expressions). math-verify's
own timeouts use ``signal.alarm``, which only works in the main thread, so elsewhere they are off.
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass
from fractions import Fraction

__all__ = ["Extracted", "extract_answer", "gold_answer", "normalize", "equivalent"]


@dataclass(frozen=True)
class Extracted:
    """An answer pulled out of a text, and which marker found it (for the rationale)."""

    text: str
    method: str


_PHRASE = re.compile(
    r"(?:final answer|the answer|answer)\s*(?:is|:|=)\s*[:]?\s*(.+)|^\s*(?:A|Answer)\s*:\s*(.+)$",
    re.IGNORECASE | re.MULTILINE,
)
_ANSWER_TAG = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)
_HASHES = re.compile(r"####\s*(.+)")
_NUMBER = re.compile(r"(?<![\w.])-?\d[\d,]*(?:\.\d+)?(?:\s*/\s*\d+)?|(?<![\w\d])-?\.\d+")
_THOUSANDS = re.compile(r"^-?\d{1,3}(,\d{3})+(\.\d+)?$")
_PLAIN_NUMBER = re.compile(r"^-?(\d+(\.\d*)?|\.\d+)$")
_FRACTION = re.compile(r"^(-?)\\frac\{(-?\d+)\}\{(-?\d+)\}$|^(-?\d+)/(\d+)$")
_LEADING_NUMBER = re.compile(r"^(-?[\d,]*\.?\d+)\s*(?:%|\\%)?\s*([A-Za-z][A-Za-z\s.\-]*)?$")


def _braced(text: str, start: int) -> tuple[str, int] | None:
    """The contents of the ``{...}`` group opening at ``text[start]``, honouring nesting."""
    if start >= len(text) or text[start] != "{":
        return None
    depth = 0
    for i in range(start, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return text[start + 1 : i], i + 1
    return None


def last_boxed(text: str) -> str | None:
    """The contents of the last ``\\boxed{...}`` (or ``\\fbox{...}``, or ``\\boxed 5``) in ``text``."""
    found = None
    for match in re.finditer(r"\\(?:boxed|fbox)\s*", text):
        group = _braced(text, match.end())
        if group is not None:
            found = group[0]
        elif match.group(0).endswith(" "):  # "\boxed 5": the next token is the answer
            token = re.match(r"[^\s$]+", text[match.end():])
            found = token.group(0) if token else found
    return found.strip() if found is not None else None


def _clean_phrase(answer: str) -> str:
    """Trim what follows an answer in running prose: a sentence end, a trailing period."""
    answer = answer.strip()
    inline = re.match(r"^\$([^$]+)\$", answer) or re.match(r"^\\\((.+?)\\\)", answer)
    if inline:
        return inline.group(1).strip()
    answer = re.split(r"\.\s|\.$|\s\(|;|</?[a-z]+>", answer, maxsplit=1)[0]
    return answer.strip().rstrip(".").strip()


def extract_answer(text: str) -> Extracted | None:
    """The final answer of a solution, or None when it states none (no marker and no number).

    An R1-style ``<answer>...</answer>`` block, when present, is searched first; if it holds no marker,
    its whole content is the answer.
    """
    blocks = _ANSWER_TAG.findall(text)
    if blocks and blocks[-1].strip():
        inner = _extract(blocks[-1])
        if inner is not None and inner.method != "last number":
            return inner
        return Extracted(_clean_phrase(blocks[-1]), "<answer>")
    return _extract(text)


def _extract(text: str) -> Extracted | None:
    boxed = last_boxed(text)
    if boxed:
        return Extracted(boxed, "\\boxed{}")
    hashes = _HASHES.findall(text)
    if hashes and hashes[-1].strip():
        return Extracted(hashes[-1].strip(), "####")
    phrases = [a or b for a, b in _PHRASE.findall(text)]
    for phrase in reversed(phrases):
        cleaned = _clean_phrase(phrase)
        if cleaned:
            return Extracted(cleaned, "answer phrase")
    numbers = _NUMBER.findall(text)
    if numbers:
        return Extracted(numbers[-1].replace(" ", ""), "last number")
    return None


def gold_answer(reference: str) -> Extracted:
    """The answer inside a gold reference: extracted when it is a whole solution, else taken as it is.

    A bare reference like ``x^2+3`` must not be cut down to its last number, so only explicit markers
    (boxed, ####, an answer phrase) extract; anything else is the answer itself.
    """
    found = extract_answer(reference)
    if found is not None and found.method != "last number":
        return found
    return Extracted(reference.strip(), "reference")


def normalize(answer: str) -> str:
    """Strip presentation that never changes a math answer's value (``$``, units, ``\\left``, spacing)."""
    s = answer.strip()
    s = re.sub(r"^\\\(|\\\)$|^\\\[|\\\]$", "", s).strip()
    s = s.strip("$").strip()
    s = re.sub(r"\\(?:left|right|big|Big|bigg|Bigg)(?![a-zA-Z])", "", s)
    s = re.sub(r"\\[!,;: ]|\\quad|\\qquad", "", s)
    s = re.sub(r"\\[dt]frac", r"\\frac", s)
    s = re.sub(r"\^\s*\{?\\circ\}?|°", "", s)
    s = s.replace("\\$", "").replace("$", "")
    s = re.sub(r"\\(?:text|textbf|mathrm|mbox)\{\s*\}", "", s)
    s = re.sub(r"^\\(?:text|textbf|mathrm|mbox)\{([^{}]*)\}$", r"\1", s)  # whole answer in \text{}
    s = re.sub(r"(\d)\s*\\(?:text|mbox|mathrm)\{\s*[A-Za-z][^{}]*\}", r"\1", s)  # 10\text{ cm} -> 10
    s = re.sub(r"\s+", " ", s).strip().rstrip(".").strip()
    if _THOUSANDS.match(s.replace(" ", "")):
        s = s.replace(",", "").replace(" ", "")
    lead = _LEADING_NUMBER.match(s)
    if lead and lead.group(2) and "%" not in s:  # "18 dollars" -> "18"
        candidate = lead.group(1)
        if _THOUSANDS.match(candidate):
            candidate = candidate.replace(",", "")
        if _PLAIN_NUMBER.match(candidate):
            s = candidate
    return s


def _as_number(s: str) -> tuple[Fraction, bool] | None:
    """``s`` as an exact rational, and whether it was a percentage; None when it is not a plain number."""
    percent = s.endswith("\\%") or s.endswith("%")
    core = s.removesuffix("\\%").removesuffix("%").strip().replace(" ", "")
    if _PLAIN_NUMBER.match(core):
        return Fraction(core), percent
    frac = _FRACTION.match(core)
    if frac:
        sign, num, den, num2, den2 = frac.groups()
        num, den = (num, den) if num is not None else (num2, den2)
        if int(den) == 0:
            return None
        value = Fraction(int(num), int(den))
        return (-value if sign else value), percent
    return None


def _numbers_equal(a: tuple[Fraction, bool], b: tuple[Fraction, bool]) -> bool:
    (x, xp), (y, yp) = a, b
    if x == y:
        return True
    # "50%" and "0.5" name the same quantity; math-verify accepts either reading, and so do we.
    return (xp and x / 100 == y) or (yp and y / 100 == x)


def equivalent(predicted: str, gold: str, timeout_s: int = 5) -> tuple[bool, str]:
    """Whether two answers are equal, and by which test (``string``, ``numeric``, ``math-verify``)."""
    p, g = normalize(predicted), normalize(gold)
    if p == g or p.replace(" ", "") == g.replace(" ", ""):
        return True, "string"
    pn, gn = _as_number(p), _as_number(g)
    if pn is not None and gn is not None:
        return _numbers_equal(pn, gn), "numeric"
    return _math_verify(p, g, timeout_s), "math-verify"


def _math_verify(predicted: str, gold: str, timeout_s: int) -> bool:
    from math_verify import parse, verify

    timeout = timeout_s if threading.current_thread() is threading.main_thread() else None
    if timeout is None:  # its "timeout disabled" warning would print once per thread; we know
        logging.getLogger("math_verify").setLevel(logging.ERROR)
    try:
        gold_parsed = parse(f"${gold}$", parsing_timeout=timeout)
        pred_parsed = parse(f"${predicted}$", parsing_timeout=timeout)
        if not gold_parsed or not pred_parsed:
            return False
        return bool(verify(gold_parsed, pred_parsed, timeout_seconds=timeout))
    except Exception:  # math-verify raises on pathological LaTeX and on timeouts: not equal
        return False
