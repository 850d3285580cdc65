"""``rewardlab score`` under torchrun with one process per GPU (NCCL), against one process, same file.

Prints one ``RESULT`` line: whether the two outputs are byte-identical (else the largest score difference),
and both wall times (process start and model load included, so small files favour one process). On a CPU
machine (``--device cpu``) it runs N gloo processes instead, like tests/test_scoring_distributed.py.

    python bench/gpu_distributed.py --model DIR [--device cuda] [--procs N] [--pairs 4000]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=1200)
    if done.returncode != 0:
        sys.exit(f"failed ({done.returncode}): {' '.join(command)}\n{done.stderr[-3000:]}")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="sequence-classifier folder")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--procs", type=int, default=None, help="processes (default: one per visible GPU, or 2)")
    parser.add_argument("--pairs", type=int, default=4000)
    args = parser.parse_args()
    import torch

    from rewardlab.cli.score import generated_pairs

    procs = args.procs or (torch.cuda.device_count() if args.device.startswith("cuda") else 2)
    env = {**os.environ}
    if args.device == "cpu":
        env.update(CUDA_VISIBLE_DEVICES="", OMP_NUM_THREADS="1")  # the condition for identical floats on CPU
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "pairs.jsonl"
        rows = [{"prompt": p.prompt, "chosen": p.chosen, "rejected": p.rejected, "id": p.id}
                for p in generated_pairs(args.pairs, seed=1)]
        data.write_text("".join(json.dumps(r) + "\n" for r in rows))
        score = ["score", "--reward", f"classifier:{args.model},device={args.device}", "--data", str(data),
                 "--no-progress", "--chunk-size", "256"]
        one = run([sys.executable, "-m", "rewardlab.cli", *score, "--out", f"{tmp}/one.jsonl"], env)
        many = run([sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", str(procs), "--master-addr",
                    "127.0.0.1", "--master-port", str(free_port()), "-m", "rewardlab.cli", *score,
                    "--out", f"{tmp}/many.jsonl"], env)
        a, b = Path(f"{tmp}/one.jsonl").read_bytes(), Path(f"{tmp}/many.jsonl").read_bytes()
        same = a == b
        diff = 0.0
        if not same:
            ra, rb = ([json.loads(x) for x in t.decode().splitlines()] for t in (a, b))
            diff = max(abs(x[k] - y[k]) for x, y in zip(ra, rb) for k in ("chosen_score", "rejected_score"))
    print(f"RESULT distributed device={args.device} processes={procs} sequences={2 * args.pairs} "
          f"identical={'yes' if same else 'no'} max_diff={diff:.2e} seconds_one={one:.1f} seconds_many={many:.1f}")
    if not same and diff > 1e-3:
        sys.exit(1)


if __name__ == "__main__":
    main()
