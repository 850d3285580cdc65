"""Measured sweep of the server's batching knobs: ``max_batch_samples`` x ``max_queue_delay_ms`` under load.

The dynamic batcher (`rewardlab.serve.batcher`) closes a batch when it holds ``max_batch_samples`` or when
its oldest request has waited ``max_queue_delay_ms``. A large batch raises throughput and tail latency
together; the delay trades a little latency at low load for fuller batches. The defaults in
`rewardlab.serve.config.ServeConfig` should come from this sweep, not from a guess: for each cell it
starts ``rewardlab serve`` with those two flags, drives it with the load of ``bench/serve_load.py`` (N
clients, one sample per request, a fresh connection each), and reports throughput, p50/p99, errors,
mean samples per model call, and p99 over one full batch (one offline ``score`` call on ``clients``
samples: the issue's target is p99 <= 2x that at 64 clients, with no loss of throughput).

Cells meeting the p99 target are marked; among them the one with the highest throughput is printed as
the suggested default. The figures depend on the machine and its load (the cells run one after another,
so a burst of load elsewhere lands on some cells only): compare cells from one run on a quiet machine.

    python bench/serve_sweep.py --quick                 # a 2 x 2 grid, 3 s per cell (smoke run, no record)
    python bench/serve_sweep.py                         # 4 x 4 grid, 30 s per cell: docs/benchmarks/serve_sweep.json
    python bench/serve_sweep.py --batches 32,64 --delays 0,5,20 --reward 'classifier:minilm,backend=onnx'
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
from pathlib import Path

from _record import default_out, write_record  # on import it notes the load average before the run
from serve_load import DEFAULT_DATA, REPO, batch_stats, drive, free_port, full_batch_seconds, load_items, wait_ready


def run_cell(args: argparse.Namespace, items, batch: int, delay: float, log_dir: Path) -> dict:
    import httpx

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-c", "from rewardlab.cli import main; main()", "serve",
               "--reward", f"{args.reward},max_length={args.max_len}", "--port", str(port),
               "--log-level", "warning", "--max-batch-samples", str(batch), "--max-queue-delay-ms", f"{delay:g}"]
    log_path = log_dir / f"serve-{batch}-{delay:g}.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
        try:
            try:
                wait_ready(process, url)
            except RuntimeError:
                print(log_path.read_text()[-3000:], file=sys.stderr)
                raise
            asyncio.run(drive(url, items, args.clients, args.warmup, "rewardlab"))  # warm-up, discarded
            result = asyncio.run(drive(url, items, args.clients, args.duration, "rewardlab")).summary()
            result["server_metrics"] = batch_stats(httpx.get(url + "/metrics").text)
        finally:
            process.terminate()
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
    result.update(max_batch_samples=batch, max_queue_delay_ms=delay)
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--batches", default="16,32,64,256", help="max_batch_samples values (comma list)")
    p.add_argument("--delays", default="0,5,20,50", help="max_queue_delay_ms values (comma list)")
    p.add_argument("--duration", type=float, default=30.0, help="Seconds of measured load per cell.")
    p.add_argument("--warmup", type=float, default=3.0, help="Seconds of unmeasured load per cell first.")
    p.add_argument("--clients", type=int, default=64, help="Concurrent clients.")
    p.add_argument("--quick", action="store_true", help="2 x 2 grid, 3 s per cell (smoke run, no record).")
    p.add_argument("--reward", default="classifier:minilm", help="Reward spec served.")
    p.add_argument("--max-len", type=int, default=512, help="Token limit.")
    p.add_argument("--data", default=str(DEFAULT_DATA), help="hh-rlhf style jsonl.gz.")
    p.add_argument("--limit", type=int, default=4624, help="Samples to cycle through.")
    p.add_argument("--out", default=None, help="Record path (default docs/benchmarks/serve_sweep.json).")
    args = p.parse_args(argv)
    batches = [int(x) for x in args.batches.split(",")]
    delays = [float(x) for x in args.delays.split(",")]
    if args.quick:
        batches, delays = batches[1:3] or batches, delays[:2]
        args.duration, args.warmup = min(args.duration, 3.0), min(args.warmup, 1.0)
    items, source = load_items(Path(args.data), args.limit)
    full_batch = full_batch_seconds(args, items)
    print(f"serve_sweep: {args.clients} clients, {args.duration:g} s per cell, data: {source}; reward "
          f"{args.reward}; one full batch ({args.clients} samples, offline): {full_batch:.3f} s")
    print(f"{'batch':>6}{'delay ms':>10}{'req/s':>9}{'p50 s':>8}{'p99 s':>8}{'errors':>8}{'per call':>10}"
          f"{'p99/full':>10}")
    cells = []
    with tempfile.TemporaryDirectory(prefix="serve_sweep_") as logs:
        for batch in batches:
            for delay in delays:
                cell = run_cell(args, items, batch, delay, Path(logs))
                cell["p99_over_full_batch"] = cell["p99_s"] / full_batch
                cell["meets_p99"] = cell["p99_over_full_batch"] <= 2 and cell["errors"] == 0
                cells.append(cell)
                print(f"{batch:>6}{delay:>10g}{cell['throughput_per_s']:>9.2f}{cell['p50_s']:>8.3f}"
                      f"{cell['p99_s']:>8.3f}{cell['errors']:>8}{cell['server_metrics']['mean_samples_per_call']:>10.1f}"
                      f"{cell['p99_over_full_batch']:>9.2f}x{' *' if cell['meets_p99'] else ''}")
    short = [c for c in cells if c["ok_in_window"] < 2 * args.clients]
    if short:
        print(f"NOTE: {len(short)} of {len(cells)} cells got fewer than {2 * args.clients} answers inside the window:"
              " their throughput is not a stable measure; use a longer --duration (and a quiet machine)")
    good = [c for c in cells if c["meets_p99"] and c not in short]  # a cell without a throughput cannot win
    best_any = max(cells, key=lambda c: c["throughput_per_s"])
    best = max(good, key=lambda c: c["throughput_per_s"]) if good else None
    print("* = p99 <= 2x one full batch and no errors")
    if best:
        loss = 1 - best["throughput_per_s"] / best_any["throughput_per_s"] if best_any["throughput_per_s"] else 0.0
        print(f"suggested: max_batch_samples={best['max_batch_samples']}, max_queue_delay_ms="
              f"{best['max_queue_delay_ms']:g} ({best['throughput_per_s']:.2f} req/s, p99 "
              f"{best['p99_over_full_batch']:.2f}x; {loss:.0%} below the fastest cell)")
    else:
        print("no cell with a measured throughput met p99 <= 2x one full batch")
    write_record(args.out or default_out("serve_sweep", args.quick), "serve_sweep",
                 {"clients": args.clients, "duration": args.duration, "data": source, "reward": args.reward,
                  "full_batch_s": full_batch, "cells": cells,
                  "suggested": None if best is None else {k: best[k] for k in ("max_batch_samples",
                                                                               "max_queue_delay_ms")}})
    return 0


if __name__ == "__main__":
    sys.exit(main())
