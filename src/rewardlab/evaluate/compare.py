"""``rewardlab compare DIR_A DIR_B``: two evaluation runs side by side, with paired-bootstrap significance.

Items are matched by (benchmark, id) from each run's ``items.jsonl``; per-item credit is recomputed from
the raw scores with the same function the runner uses (`analysis.item_credit`), so the comparison is
exact and paired. Items present in only one run, or failed in either, are counted, not compared.
ProcessBench items compare the exact first-error hit at each run's frozen tau, on held-out items only.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from rewardlab.evaluate.analysis import item_credit
from rewardlab.evaluate.metrics import DEFAULT_RESAMPLES, DEFAULT_SEED, paired_bootstrap


def load_run(folder: str | Path) -> tuple[dict[str, Any], dict[str, dict[str, dict[str, Any]]]]:
    """``results.json`` and the items grouped ``{benchmark: {id: row}}`` of one run folder."""
    from rewardlab.data import read_rows

    folder = Path(folder)
    for name in ("results.json", "items.jsonl"):
        if not (folder / name).exists():
            raise FileNotFoundError(f"{folder / name}: not found; pass a folder written by `rewardlab eval --out`")
    results = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    items: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    for row in read_rows(folder / "items.jsonl"):
        for key in ("benchmark", "kind", "id", "scores", "correct"):
            if key not in row.data:
                raise row.error(f"missing key {key!r}", key)
        bench, key = row.data["benchmark"], str(row.data["id"])
        if key in items[bench]:
            raise row.error(f"duplicate id {key!r} in benchmark {bench!r}: items cannot be paired", "id")
        items[bench][key] = row.data
    return results, dict(items)


def compare_runs(dir_a: str | Path, dir_b: str | Path, resamples: int = DEFAULT_RESAMPLES,
                 seed: int = DEFAULT_SEED) -> dict[str, Any]:
    """Per benchmark and per subset: mean credit of A and B on shared items, A - B, its paired 95% CI
    and two-sided bootstrap p-value, plus the counts of unmatched items."""
    results_a, items_a = load_run(dir_a)
    results_b, items_b = load_run(dir_b)
    out: dict[str, Any] = {"a": _who(dir_a, results_a), "b": _who(dir_b, results_b), "benchmarks": {}}
    for bench in [b for b in items_a if b in items_b]:
        a, b = items_a[bench], items_b[bench]
        shared = [k for k in a if k in b]
        kinds = {a[k]["kind"] for k in shared} | {b[k]["kind"] for k in shared}
        if len(kinds) > 1:
            raise ValueError(f"benchmark {bench!r}: item kinds differ between runs: {sorted(kinds)}")
        matched = len(shared)
        if "processbench" in kinds:  # dev-split items chose tau: not scored, so not compared
            shared = [k for k in shared if "dev" not in (a[k].get("split"), b[k].get("split"))]
        rows = {"all": shared}
        for k in shared:
            rows.setdefault(f"subset:{a[k].get('subset')}", []).append(k)
        blocks = {}
        for label, keys in rows.items():
            credit_a = _credit([a[k] for k in keys])
            credit_b = _credit([b[k] for k in keys])
            blocks[label.removeprefix("subset:")] = paired_bootstrap(credit_a, credit_b, resamples, seed)
        out["benchmarks"][bench] = {"kind": next(iter(kinds)) if kinds else None, "shared": len(shared),
                                    "only_a": len(a) - matched, "only_b": len(b) - matched,
                                    "dev_split_excluded": matched - len(shared),
                                    "primary_a": _primary(results_a, bench), "primary_b": _primary(results_b, bench),
                                    "subsets": blocks}
    out["only_in_a"] = sorted(set(items_a) - set(items_b))
    out["only_in_b"] = sorted(set(items_b) - set(items_a))
    return out


def _credit(rows: list[dict[str, Any]]) -> np.ndarray:
    if not rows:
        return np.zeros(0)
    if rows[0]["kind"] == "processbench":  # exact first-error hit at each run's own frozen tau (NaN: failed)
        return np.array([math.nan if r.get("error") or r.get("hit") is None else float(r["hit"]) for r in rows])
    if rows[0]["kind"] == "master-keys":  # the share of keys a run rejected per question: higher = more robust
        from rewardlab.evaluate.masterkeys import row_credit

        return np.array([row_credit(r) for r in rows])
    values = [np.array([math.nan if x is None else x for x in r["scores"]], dtype=np.float64) for r in rows]
    correct = [np.asarray(r["correct"], dtype=bool) for r in rows]
    return item_credit(rows[0]["kind"], values, correct)


def _who(folder: str | Path, results: dict[str, Any]) -> dict[str, Any]:
    reward = results.get("reward", {})
    return {"dir": str(folder), "reward": reward.get("spec"), "weights_sha256": reward.get("weights_sha256"),
            "created": results.get("created")}


def _primary(results: dict[str, Any], bench: str) -> dict[str, Any] | None:
    block = results.get("benchmarks", {}).get(bench)
    return None if block is None else block["metrics"]["primary"]
