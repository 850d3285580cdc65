"""Wall time of ``rewardlab demo`` per stage, cold (``--fresh``) and warm (every stage cached).

The issue's budget: the full demo under 10 minutes on a 2-core CPU, the policy's SFT under ~5 of them.
Run it on an otherwise idle machine; other processes on the same cores inflate every figure.

    python bench/demo_timing.py --quick          # a smoke run: the small size
    python bench/demo_timing.py                   # the recorded run: the full size
    python bench/demo_timing.py --threads 2       # pin torch's intra-op threads

Prints the stage timings and the headline numbers (policy accuracy, each rule's best-of-M with its CI, each
reward's pair accuracy) and writes them to docs/benchmarks/demo_timing.json (bench/_record.py; not with
--quick). Not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from _record import default_out, write_record  # on import it notes the load average before the run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="the small size instead of the full one")
    parser.add_argument("--out", type=Path, help="record path (default docs/benchmarks/demo_timing.json; none "
                                                 "with --quick)")
    parser.add_argument("--workdir", type=Path, help="demo folder (default: a temp folder)")
    parser.add_argument("--threads", type=int, help="torch.set_num_threads before anything runs")
    args = parser.parse_args()
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    from rewardlab.demo.pipeline import run_demo

    size = "small" if args.quick else "full"
    work = args.workdir or Path(tempfile.mkdtemp(prefix="rewardlab-demo-bench-"))
    record: dict = {"size": size, "threads": torch.get_num_threads(), "cpus": os.cpu_count(),
                    "load_avg_before": os.getloadavg()}
    for label, fresh in (("cold", True), ("warm", False)):
        start = time.perf_counter()
        run_demo(work, size=size, fresh=fresh, progress=False, echo=lambda s: None)
        results = json.loads((work / "results.json").read_text())
        record[label] = {"wall_s": round(time.perf_counter() - start, 1), "stages_s": results["timings_s"]}
        print(f"{label}: {record[label]['wall_s']} s  {results['timings_s']}")
    rules = results["comparison"]["rules"]
    record["headline"] = {
        "policy_accuracy": results["policy"].get("accuracy"), "sft_seconds": results["policy"]["training"],
        "best_of_m": {name: {k: rule.get(k) for k in ("accuracy", "ci_low", "ci_high", "beats_baselines")}
                      for name, rule in rules.items()},
        "held_out_pair_accuracy": {name: block["held_out"]["accuracy"]["strict"]["value"]
                                   for name, block in results["rewards"].items()},
        "note": results["note"],
    }
    record["load_avg_after"] = os.getloadavg()
    print(json.dumps(record["headline"], indent=1))
    write_record(args.out or default_out("demo_timing", args.quick), "demo_timing", record)


if __name__ == "__main__":
    main()
