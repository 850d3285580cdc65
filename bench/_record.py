"""Where benchmark figures are kept: ``docs/benchmarks/<name>.json``, committed beside docs/benchmarks.md, so
every figure the doc quotes can be checked against the run that produced it (bench/results/ is ignored by
git and holds scratch runs only).

A record is the script's figures plus how they were made: the command line, the time, the machine (CPU
count, load average before the run, torch threads) and the versions that matter. ``--quick`` smoke runs
write no record unless ``--out`` is given, so a check never overwrites a recorded figure.
"""

from __future__ import annotations

import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
RECORDS = REPO / "docs" / "benchmarks"
LOAD_BEFORE = os.getloadavg()


def default_out(name: str, quick: bool) -> Path | None:
    """``docs/benchmarks/<name>.json`` for a full run; nothing for a ``--quick`` smoke run."""
    return None if quick else RECORDS / f"{name}.json"


def write_record(path: str | Path | None, name: str, figures: dict[str, Any]) -> Path | None:
    """Write ``figures`` with their provenance to ``path`` atomically (nothing when ``path`` is None)."""
    if path is None:
        return None
    from rewardlab.evaluate.runner import clean
    from rewardlab.io import write_json

    record = {"script": f"bench/{name}.py", "command": " ".join(["python", *sys.argv]),
              "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "machine": machine(), "figures": figures}
    write_json(path, clean(record))
    print(f"record written to {path}")
    return Path(path)


def machine() -> dict[str, Any]:
    import importlib.metadata as md

    versions = {}
    for package in ("torch", "transformers", "trl", "onnxruntime", "rewardlab"):
        try:
            versions[package] = md.version(package)
        except md.PackageNotFoundError:
            versions[package] = None
    threads = sys.modules["torch"].get_num_threads() if "torch" in sys.modules else None
    return {"cpus": os.cpu_count(), "load_avg_before": [round(x, 2) for x in LOAD_BEFORE],
            "load_avg_after": [round(x, 2) for x in os.getloadavg()], "torch_threads": threads,
            "python": platform.python_version(), "platform": platform.platform(), **versions}
