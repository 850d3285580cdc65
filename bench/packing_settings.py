"""Padded vs packed rows, attention kernel and thread count, measured on real text (not guessed).

For a causal classifier RM (a Llama with random weights from a config and the embedded MiniLM tokenizer:
speed does not depend on what the weights learned) over hh-rlhf harmless-base and RM-Bench chat, every
combination of: ``packing`` false/true (`rewardlab.engine.packing`), attention ``sdpa``/``eager``, and
torch intra-op threads 1..N. Reports wall and process CPU seconds (medians; the settings take turns repeat
by repeat), real tokens/s, the share of the fp32 ceiling (FLOPs the real tokens need,
`_ceiling.decoder_flops`, over the fp32 matmul peak measured in the same run), and the max score difference
to the padded sdpa path at the same thread count (packing must stay within 1e-5 relative to the largest
score, exit status 1 if not: this random model's scores reach ~10, where fp32 rounding alone, e.g. eager vs
sdpa on the padded path, moves them by ~2e-5; the tests hold 1e-5 absolute on tiny models).

    python bench/packing_settings.py --quick      # 64 sequences per set, 1 repeat (smoke run, no record)
    python bench/packing_settings.py              # 512 per set, 3 repeats: docs/benchmarks/packing_settings.json

Not a test: timings are printed and recorded, never asserted.
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from _ceiling import decoder_flops, measure_ceiling
from _record import default_out, write_record  # on import it notes the load average before the run
from score_vs_peers import load_texts
from shared_prefix import random_llama


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="64 sequences per set, 1 repeat (no record)")
    parser.add_argument("--limit", type=int, default=512, help="sequences per data set")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--threads", default=",".join(str(t) for t in range(1, (os.cpu_count() or 1) + 1)),
                        help="torch thread counts to try (comma list)")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    if args.quick:
        args.limit, args.repeats = min(args.limit, 64), 1
    from rewardlab import Sample
    from rewardlab.engine.encoding import encode_samples
    from rewardlab.engine.loading import load_sequence_classifier
    from rewardlab.rewards.classifier import ClassifierOptions, ClassifierReward

    sets = {k: [Sample("", t) for t in v[: args.limit]] for k, v in load_texts(quick=False).items()}
    threads = [int(t) for t in args.threads.split(",")]
    peak = measure_ceiling(0.5 if args.quick else 2.0)
    print(f"ceiling: {peak:.1f} GFLOP/s fp32 matmul (all threads); Llama hidden {args.hidden} x {args.layers}")
    results = []
    bad = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = random_llama(Path(tmp) / "rm", "seq", args.hidden, args.layers)
        settings = list(itertools.product((False, True), ("sdpa", "eager"), threads))
        rewards = {}
        for packing, attn, _ in settings:
            if (packing, attn) not in rewards:
                loaded = load_sequence_classifier(str(folder), device="cpu", dtype="float32")
                loaded.model.set_attn_implementation(attn)
                rewards[packing, attn] = ClassifierReward(loaded, ClassifierOptions(
                    max_length=512, concat=True, share_prompt="false", packing=packing))
        for name, samples in sets.items():
            any_reward = rewards[False, "sdpa"]
            rows = encode_samples(any_reward.loaded.tokenizer, samples, 512, any_reward.options.truncation,
                                  True).input_ids
            flops = sum(decoder_flops(len(r), 0, any_reward.loaded.model.config) for r in rows)
            tokens = sum(len(r) for r in rows)
            wall: dict = {s: [] for s in settings}
            cpu: dict = {s: [] for s in settings}
            values: dict = {}
            for _ in range(args.repeats):
                for s in settings:
                    packing, attn, n = s
                    torch.set_num_threads(n)
                    reward = rewards[packing, attn]
                    reward.score(samples[:8])  # warm-up at this thread count
                    t, c = time.perf_counter(), time.process_time()
                    values[s] = np.array([x.value for x in reward.score(samples)])
                    wall[s].append(time.perf_counter() - t)
                    cpu[s].append(time.process_time() - c)
            floor = max(float(np.max(np.abs(values[False, "sdpa", n] - values[False, "sdpa", threads[0]])))
                        for n in threads)
            scale = float(np.max(np.abs(values[False, "sdpa", threads[0]])))
            print(f"\n{name}: {len(samples)} sequences, {tokens} real tokens; scores up to {scale:.2f} in size; "
                  f"the padded sdpa path itself moves by {floor:.1e} between thread counts")
            print(f"{'packing':>8}{'attn':>7}{'threads':>8}{'wall s':>9}{'cpu s':>9}{'tok/s':>9}{'ceiling':>9}"
                  f"{'max|diff|':>11}")
            for s in settings:
                w = statistics.median(wall[s])
                diff = float(np.max(np.abs(values[s] - values[False, "sdpa", s[2]])))  # same thread count
                row = {"set": name, "packing": s[0], "attn": s[1], "threads": s[2], "wall_s": w,
                       "cpu_s": statistics.median(cpu[s]), "tokens_per_s": tokens / w,
                       "share_of_ceiling": flops / w / 1e9 / peak, "max_abs_diff": diff, "walls": wall[s],
                       "thread_floor": floor, "score_scale": scale}
                results.append(row)
                if s[0] and diff > 1e-5 * max(1.0, scale):
                    bad.append(row)
                print(f"{str(s[0]):>8}{s[1]:>7}{s[2]:>8}{w:>9.2f}{row['cpu_s']:>9.2f}{row['tokens_per_s']:>9.0f}"
                      f"{row['share_of_ceiling']:>9.1%}{diff:>11.1e}")
    torch.set_num_threads(threads[-1])
    if bad:
        print(f"FAIL: {len(bad)} packed settings differ from the padded scores by more than 1e-5 x the score scale")
    write_record(args.out or default_out("packing_settings", args.quick), "packing_settings",
                 {"ceiling_gflops": peak, "hidden": args.hidden, "layers": args.layers, "limit": args.limit,
                  "repeats": args.repeats, "results": results})
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
