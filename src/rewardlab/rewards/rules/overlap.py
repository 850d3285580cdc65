"""Reference-overlap rules (BLEU, chrF through sacrebleu) and the DAPO soft overlong length penalty.

BLEU as a reward follows *BLEUBERI: BLEU is a surprisingly effective reward for instruction following*:
sentence BLEU against one or more references, scaled to [0, 1]. Several references come from
``metadata["references"]`` (a list), else ``Sample.reference``.
"""

from __future__ import annotations

from rewardlab.rewards.rules.base import Check, Options, wrong
from rewardlab.rewards.transforms import soft_overlong_penalty
from rewardlab.types import Sample, Score


def references_of(sample: Sample) -> list[str]:
    refs = sample.metadata.get("references")
    if isinstance(refs, (list, tuple)) and refs:
        return [str(r) for r in refs]
    return [sample.reference] if sample.reference else []


def _make_metric(opts: Options, metric: str) -> Check:
    import sacrebleu

    if metric == "bleu":
        scorer = sacrebleu.BLEU(effective_order=True, tokenize=opts.text("tokenize", "13a"))
    else:
        scorer = sacrebleu.CHRF(word_order=opts.integer("word_order", 0))

    def check(sample: Sample) -> Score:
        refs = references_of(sample)
        if not refs:
            return Score.failure(f"{metric}: the sample has no reference (Sample.reference or "
                                 "metadata['references'])")
        if not sample.response.strip():
            return wrong(f"{metric}: empty response")
        result = scorer.sentence_score(sample.response, refs)
        value = min(1.0, max(0.0, result.score / 100.0))  # float noise can give 1.0000000000000004
        return Score(value, rationale=f"{metric} {result.score:.2f} against {len(refs)} reference(s)")

    return check


def make_bleu(opts: Options) -> Check:
    """``rule:bleu[,tokenize=13a]``: sentence BLEU / 100 (effective order, so short texts are not zeroed)."""
    return _make_metric(opts, "bleu")


def make_chrf(opts: Options) -> Check:
    """``rule:chrf[,word_order=0]``: sentence chrF / 100 (``word_order=2`` gives chrF++)."""
    return _make_metric(opts, "chrf")


def make_overlong(opts: Options) -> Check:
    """``rule:overlong,max=L,cache=C[,unit=words|chars]``: DAPO's soft overlong penalty in [-1, 0].

    Token counts need the policy's tokenizer, which a rule does not have; whitespace words are the
    default proxy, ``unit=chars`` counts characters. TRL's ``get_soft_overlong_punishment`` is the
    token-exact version when ``completion_ids`` are at hand.
    """
    max_len = opts.integer("max", 0)
    cache = opts.integer("cache", 0)
    unit = opts.text("unit", "words")
    if max_len <= 0 or not 0 <= cache <= max_len:
        raise ValueError("rule:overlong needs max=L > 0 and 0 <= cache=C <= L")
    if unit not in {"words", "chars"}:
        raise ValueError(f"rule:overlong: unit={unit!r} must be words or chars")

    def check(sample: Sample) -> Score:
        length = len(sample.response.split()) if unit == "words" else len(sample.response)
        value = float(soft_overlong_penalty([length], max_len, cache)[0])
        return Score(value, components={"length": float(length)},
                     rationale=f"{length} {unit}; penalty starts after {max_len - cache}, -1 beyond {max_len}")

    return check
