"""The built-in benchmarks: where each lives under the data root and how its rows become records.

Each constant is a `BenchmarkSource` named by an entry point in pyproject.toml. Generic layouts are read
by the data layer (hh-rlhf pairs, RM-Bench groups); the three benchmark-specific layouts (LLMBar,
JudgeBench, GSM8K model solutions) are read here from `read_rows`, with located errors for bad rows.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from rewardlab.data import fields, load_pairs, load_rmbench, read_rows
from rewardlab.data.readers import Row
from rewardlab.evaluate.benchmarks import BenchmarkSource
from rewardlab.types import CandidatesRecord, PairRecord

GSM8K_MODELS = ("6b_finetuning", "6b_verification", "175b_finetuning", "175b_verification")
JUDGEBENCH_CATEGORIES = {"mmlu-pro": "knowledge", "livebench-reasoning": "reasoning", "livebench-math": "math",
                         "livecodebench": "coding"}


def read_hh_rlhf(path: Path) -> tuple[list[Any], list[Path]]:
    """Anthropic hh-rlhf transcripts; the prompt is the shared prefix before the compared Assistant turn."""
    pairs = load_pairs(path, format="hh-rlhf", default_subset="harmless-base")
    return [replace(p, id=p.id or f"hh-{i}") for i, p in enumerate(pairs)], [path]


def read_rm_bench(path: Path) -> tuple[list[Any], list[Path]]:
    """RM-Bench: one group per prompt, 3 chosen then 3 rejected (concise, detailed, markdown)."""
    records = load_rmbench(path)
    return [replace(r, id=f"{r.subset}-{r.id}") for r in records], sorted(path.glob("*_filtered.json"))


def read_llmbar(path: Path) -> tuple[list[Any], list[Path]]:
    """LLMBar ``input, output_1, output_2, label`` (label 1 or 2 names the better output); the subset is
    the folder under ``Dataset`` (``LLMBar/Natural``, ``LLMBar/Adversarial/Neighbor``, ``Processed/...``)."""
    files = sorted(path.rglob("dataset.json"))
    if not files:
        raise FileNotFoundError(f"{path}: no LLMBar */dataset.json files found")
    pairs = []
    for file in files:
        subset = file.parent.relative_to(path).as_posix()
        for index, row in enumerate(read_rows(file)):
            label = str(fields.require(row, "label")[1]).strip()
            if label not in ("1", "2"):
                raise row.error(f"expected label 1 or 2, found {label!r}", "label")
            better, worse = ("output_1", "output_2") if label == "1" else ("output_2", "output_1")
            # allow_empty: one LLMEval^2 output is whitespace only; a model really gave it, so it is scored
            pairs.append(PairRecord(prompt=fields.text(row, "input"), chosen=fields.text(row, better, True),
                                    rejected=fields.text(row, worse, True), subset=subset, id=f"{subset}#{index}",
                                    source=row.source))
    return pairs, files


def read_judgebench(path: Path) -> tuple[list[Any], list[Path]]:
    """JudgeBench pairs: ``label`` "A>B" or "B>A" from objective correctness; the subset is the category
    of ``source`` (knowledge = MMLU-Pro, reasoning, math, coding), pooled over both response models."""
    files = sorted(path.glob("*.jsonl"))
    if not files:
        raise FileNotFoundError(f"{path}: no JudgeBench *.jsonl files found")
    pairs = []
    for file in files:
        for row in read_rows(file):
            label = fields.text(row, "label").strip()
            if label not in ("A>B", "B>A"):
                raise row.error(f"expected label 'A>B' or 'B>A', found {label!r}", "label")
            better, worse = ("response_A", "response_B") if label == "A>B" else ("response_B", "response_A")
            pairs.append(PairRecord(prompt=fields.text(row, "question"), chosen=fields.text(row, better),
                                    rejected=fields.text(row, worse), subset=_judgebench_category(row),
                                    id=fields.text(row, "pair_id"), source=row.source))
    return pairs, files


def _judgebench_category(row: Row) -> str:
    source = fields.text(row, "source")
    return next((name for prefix, name in JUDGEBENCH_CATEGORIES.items() if source.startswith(prefix)), source)


def read_gsm8k_bon(path: Path) -> tuple[list[Any], list[Path]]:
    """GSM8K ``example_model_solutions``: 4 model solutions per test question with gold ``is_correct``, a
    real best-of-4 set. The subset is how many of the 4 are correct (0-4 of 4 correct), so the per-subset
    bars show where selection can matter (1-3) and where it cannot (0 and 4)."""
    groups = []
    for index, row in enumerate(read_rows(path)):
        responses, correct = [], []
        for model in GSM8K_MODELS:
            entry = fields.require(row, model)[1]
            if not isinstance(entry, dict) or "solution" not in entry or "is_correct" not in entry:
                raise row.error("expected an object with 'solution' and 'is_correct'", model)
            responses.append(fields.check_text(row, f"{model}.solution", entry["solution"]))
            correct.append(fields.flag(row, f"{model}.is_correct", entry["is_correct"]))
        truth = fields.text(row, "ground_truth")
        groups.append(CandidatesRecord(
            prompt=fields.text(row, "question"), responses=tuple(responses), correct=tuple(correct),
            subset=f"{sum(correct)} of 4 correct", reference=truth.rsplit("####", 1)[-1].strip(),
            id=f"gsm8k-{index}", source=row.source,
        ))
    return groups, [path]


HH_RLHF = BenchmarkSource("hh-rlhf", "pairwise", "hh-rlhf/harmless-base/test.jsonl.gz", read_hh_rlhf,
                          "Anthropic hh-rlhf harmless-base test: 2,312 crowdworker preference pairs",
                          ("a harmlessness set: a helpfulness-trained reward may score near or below chance",))
RM_BENCH = BenchmarkSource("rm-bench", "rm-bench", "RM-Bench/data", read_rm_bench,
                           "RM-Bench (chat, code, safety-refuse, safety-response): 3x3 style matrix per prompt",
                           ("the math domain is absent from this copy; safety pools safety-refuse and "
                            "safety-response prompts",))
LLMBAR = BenchmarkSource("llmbar", "pairwise", "LLMBar/Dataset", read_llmbar,
                         "LLMBar, all subsets (Natural, Adversarial, Processed, CaseStudy)",
                         ("pairs come in a fixed order; pairwise judges are evaluated in both orders",))
JUDGEBENCH = BenchmarkSource("judgebench", "pairwise", "JudgeBench/data", read_judgebench,
                             "JudgeBench: GPT-4o and Claude-3.5 response pairs labelled by objective correctness")
GSM8K_BON = BenchmarkSource("gsm8k-bon", "best-of-n",
                            "grade-school-math/grade_school_math/data/example_model_solutions.jsonl", read_gsm8k_bon,
                            "GSM8K test: best-of-4 over 4 model solutions with gold correctness")
