"""RM-Bench (Liu et al., 2024, "RM-Bench: Benchmarking Reward Models of Language Models with Subtlety
and Style"): each prompt has 3 chosen and 3 rejected responses in 3 styles, and the benchmark compares
every chosen style with every rejected style (a 3x3 matrix).

The efficient way to score it is one group of 6 responses per prompt (`load_rmbench`: a
`CandidatesRecord` with the 3 chosen first, in style order, then the 3 rejected), then fill the matrix
``M[i][j] = score(chosen i) > score(rejected j)``; `rmbench_pairs` spells the 9 comparisons out as
`PairRecord`s for pairwise judges. Difficulty follows the RM-Bench scoring code: ``i < j`` (a plainer
chosen against a fancier rejected, upper-right of the matrix) is *hard*, ``i == j`` *normal*, ``i > j``
*easy*.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from rewardlab.data.errors import DataError
from rewardlab.data.groups import rewardbench2
from rewardlab.data.keys import FieldKeys
from rewardlab.data.readers import read_rows
from rewardlab.types import CandidatesRecord, PairRecord

STYLES = ("concise", "detailed_plain", "detailed_markdown")
PAIR_ORDER = tuple((i, j) for i in range(len(STYLES)) for j in range(len(STYLES)))
"""(chosen style, rejected style) of the 9 pairs `rmbench_pairs` returns, in that order."""


def rmbench_difficulty(chosen_style: int, rejected_style: int) -> str:
    """``hard`` (chosen plainer than rejected), ``normal`` (same style) or ``easy``."""
    if chosen_style == rejected_style:
        return "normal"
    return "hard" if chosen_style < rejected_style else "easy"


def rmbench_domain(path: str | Path) -> str:
    """``chat_filtered.json`` -> ``chat``; ``safety-refuse_filtered.json`` -> ``safety-refuse``."""
    return Path(path).name.split(".")[0].removesuffix("_filtered")


def load_rmbench(path: str | Path, keys: FieldKeys | None = None) -> list[CandidatesRecord]:
    """One 6-response group per prompt from an RM-Bench ``*_filtered.json`` file, or every such file in a
    folder (sorted by name).

    ``subset`` is the file's domain (`rmbench_domain`: chat, code, safety-refuse, safety-response, math),
    which is what RM-Bench reports by; the rows' own fine-grained ``subset`` field is not kept. A row
    without exactly 3 chosen and 3 rejected responses is a `DataError`.
    """
    root = Path(path)
    files = sorted(root.glob("*_filtered.json")) if root.is_dir() else [root]
    if not files:
        raise DataError("expected RM-Bench *_filtered.json files in this folder, found none", path=str(path))
    keys = keys or FieldKeys()
    records: list[CandidatesRecord] = []
    for file in files:
        domain = rmbench_domain(file)
        for row in read_rows(file):
            for name in (keys.chosen_key, keys.rejected_key):
                value = row.data.get(name)
                if isinstance(value, list) and len(value) != len(STYLES):
                    raise row.error(f"expected {len(STYLES)} responses (one per style), found {len(value)}", name)
            record = rewardbench2(row, keys)
            n_chosen = sum(record.correct or ())
            if (n_chosen, len(record.responses) - n_chosen) != (len(STYLES), len(STYLES)):
                raise row.error(f"expected lists of {len(STYLES)} chosen and {len(STYLES)} rejected responses, "
                                f"found {n_chosen} and {len(record.responses) - n_chosen}", keys.chosen_key)
            records.append(replace(record, subset=domain))
    if not records:
        raise DataError("no rows found (the input is empty)", path=str(path))
    return records


def rmbench_pairs(record: CandidatesRecord) -> list[PairRecord]:
    """The 9 chosen-vs-rejected pairs of one RM-Bench group, in `PAIR_ORDER`; ids end ``:c{i}r{j}``."""
    n = len(STYLES)
    chosen, rejected = record.responses[:n], record.responses[n:]
    return [PairRecord(prompt=record.prompt, chosen=chosen[i], rejected=rejected[j], subset=record.subset,
                       id=f"{record.id}:c{i}r{j}", source=record.source) for i, j in PAIR_ORDER]


def load_rmbench_pairs(path: str | Path, keys: FieldKeys | None = None) -> list[PairRecord]:
    """All 3x3 pairs of `load_rmbench`, 9 per prompt in `PAIR_ORDER` (for pairwise judges)."""
    return [pair for record in load_rmbench(path, keys) for pair in rmbench_pairs(record)]
