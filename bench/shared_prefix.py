"""Best-of-8 groups with long prompts: scoring each response whole vs the prompt once (shared prefix).

A best-of-N group scored by a causal reward model or PRM re-encodes its prompt N times on the naive path;
``share_prompt=true`` (`rewardlab.engine.prefix`) runs it once and continues each response from its KV
cache. Both paths below are the same reward object type, model, tokens and batching, differing only in
``share_prompt``; the script checks their scores agree within 1e-4 (exit status 1 if not).

Groups (8 responses to one prompt, all real text):
- ``hh-rlhf``: the multi-turn dialogues of harmless-base test with the longest prompts (the shared prefix
  before the last ``Assistant:`` turn); 8 final turns = the dialogue's own chosen and rejected, and the
  final turns of the next 6 selected dialogues (hh-rlhf has only 2 responses per prompt).
  Scored by a causal classifier RM (``classifier:``, Llama sequence classifier).
- ``gsm8k``: a GSM8K test problem after a 4-shot chain-of-thought prompt (4 train problems with their
  solutions, the usual few-shot setting for a base policy); 8 solutions = the 4 model solutions from
  ``example_model_solutions.jsonl``, the gold solution, and the gold solutions of the next 3 problems.
  Scored by the classifier RM, and by a causal PRM (``process:``, Llama token classifier, a step per line).

The models are Llamas with random weights from a config (the embedded MiniLM tokenizer's 30k vocabulary):
speed and equality do not depend on what the weights learned. The share of the machine's ceiling is the
FLOPs the *shared* work needs (each prompt once: `_ceiling.decoder_flops`) over the time, over the fp32
matmul peak measured in the same run; for the naive path it is also printed over the FLOPs it ran.

    python bench/shared_prefix.py --quick     # a smoke run (4 groups per set, 2 repeats, no record)
    python bench/shared_prefix.py             # the recorded run (32 groups per set, median of 3)

The two paths take turns repeat by repeat; the ratio of median wall times, of the fastest runs, and of
median process CPU time are all recorded (on a loaded machine wall time mostly measures the other jobs: the
CPU-time ratio counts the work this process did).

Writes docs/benchmarks/shared_prefix.json (bench/_record.py) unless ``--quick``. Not a test: timings are
printed and recorded, never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from _ceiling import decoder_flops, measure_ceiling
from _record import default_out, write_record  # on import it notes the load average before the run

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("REWARDLAB_DATA", REPO.parent / "shared" / "data"))
GSM = DATA / "grade-school-math/grade_school_math/data"
GROUP = 8
SHOTS = 4


def hh_groups(n_groups: int):
    from rewardlab.data import load_pairs

    path = DATA / "hh-rlhf/harmless-base/test.jsonl.gz"
    if not path.exists():
        return None
    pairs = load_pairs(path, format="hh-rlhf")
    pairs.sort(key=lambda p: -len(str(p.prompt)))  # the longest dialogues: the case sharing is for
    chosen = pairs[:n_groups + GROUP]
    from rewardlab import Sample

    samples = []
    for g in range(n_groups):
        own = [chosen[g].chosen, chosen[g].rejected]
        others = [chosen[g + 1 + k].chosen for k in range(GROUP - 2)]
        samples += [Sample(chosen[g].prompt, r) for r in own + others]
    return samples


def gsm_groups(n_groups: int):
    from rewardlab import Sample

    if not (GSM / "example_model_solutions.jsonl").exists():
        return None
    train = [json.loads(line) for line in (GSM / "train.jsonl").open()][:SHOTS]
    shots = "".join(f"Question: {t['question']}\nAnswer: {t['answer']}\n\n" for t in train)
    rows = [json.loads(line) for line in (GSM / "example_model_solutions.jsonl").open()][: n_groups + 3]
    samples = []
    for g in range(n_groups):
        row = rows[g]
        solutions = [row[k]["solution"] for k in ("6b_finetuning", "6b_verification", "175b_finetuning",
                                                  "175b_verification")]
        solutions += [row["ground_truth"]] + [rows[g + 1 + k]["ground_truth"] for k in range(3)]
        prompt = f"{shots}Question: {row['question']}\nAnswer:"
        for s in solutions:
            steps = tuple(line for line in s.strip().split("\n") if line.strip())
            samples.append(Sample(prompt, " " + s.strip(), steps=steps))
    return samples


def random_llama(path: Path, head: str, hidden: int, layers: int, seed: int = 0) -> Path:
    """A randomly initialised Llama (sequence or token classifier) with the embedded MiniLM tokenizer."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForSequenceClassification, LlamaForTokenClassification

    from rewardlab.engine.loading import embedded_model_path

    tokenizer = AutoTokenizer.from_pretrained(embedded_model_path())
    config = LlamaConfig(vocab_size=tokenizer.vocab_size, hidden_size=hidden, intermediate_size=4 * hidden,
                         num_hidden_layers=layers, num_attention_heads=max(hidden // 64, 1),
                         num_key_value_heads=max(hidden // 64, 1), max_position_embeddings=8192,
                         pad_token_id=tokenizer.pad_token_id, num_labels=1 if head == "seq" else 2,
                         initializer_range=0.2)
    torch.manual_seed(seed)
    cls = LlamaForSequenceClassification if head == "seq" else LlamaForTokenClassification
    cls(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def needed_flops(rows: list[list[int]], keys: list, config, shared: bool) -> float:
    """Forward FLOPs of the rows' work: each distinct common prefix once when ``shared``."""
    from rewardlab.engine.prefix import find_groups

    if not shared:
        return sum(decoder_flops(len(r), 0, config) for r in rows)
    groups, singles = find_groups(rows, keys, [len(r) - 1 for r in rows], min_prefix=1)
    total = sum(decoder_flops(len(rows[i]), 0, config) for i in singles)
    for g in groups:
        total += decoder_flops(g.prefix_len, 0, config)
        total += sum(decoder_flops(len(rows[i]) - g.prefix_len, g.prefix_len, config) for i in g.members)
    return total


def encoded_rows(reward, samples) -> list[list[int]]:
    """The token rows each reward family runs (for the FLOP count)."""
    if hasattr(reward, "layout"):
        return [reward.encode(s, reward.steps_of(s))[0] for s in samples]
    from rewardlab.engine.encoding import encode_samples

    enc = encode_samples(reward.loaded.tokenizer, samples, reward.max_length, reward.options.truncation,
                         reward.options.concat)
    return enc.input_ids


def run_case(name: str, spec: str, samples, repeats: int, peak: float) -> dict:
    from rewardlab.engine.prefix import prompt_key
    from rewardlab.rewards.base import load_reward

    rewards = {mode: load_reward(f"{spec},share_prompt={mode}") for mode in ("false", "true")}
    for r in rewards.values():
        r.score(samples[:GROUP])  # warm-up
    times: dict[str, list[float]] = {mode: [] for mode in rewards}
    cpu: dict[str, list[float]] = {mode: [] for mode in rewards}
    values: dict[str, list] = {}
    for _ in range(repeats):  # the paths take turns, so a burst of load elsewhere hits both alike
        for mode, reward in rewards.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            scores = reward.score(samples)
            times[mode].append(time.perf_counter() - start)
            cpu[mode].append(time.process_time() - start_cpu)
            values[mode] = [s.steps if s.steps is not None else [s.value] for s in scores]
    diff = max(float(np.max(np.abs(np.subtract(a, b)))) for a, b in zip(values["false"], values["true"]))
    reward = rewards["true"]
    config = reward.model.config if hasattr(reward, "model") else reward.loaded.model.config
    rows = encoded_rows(reward, samples)
    keys = [prompt_key(s.prompt) for s in samples]
    naive_s, shared_s = statistics.median(times["false"]), statistics.median(times["true"])
    minimal = needed_flops(rows, keys, config, shared=True)
    naive_work = needed_flops(rows, keys, config, shared=False)
    tokens = sum(len(r) for r in rows)
    out = {"case": name, "spec": spec, "sequences": len(samples), "tokens": tokens,
           "prompt_share_of_tokens": round(1 - minimal / naive_work, 3),
           "naive_s": naive_s, "shared_s": shared_s, "speedup": naive_s / shared_s,
           "speedup_of_fastest": min(times["false"]) / min(times["true"]),
           "speedup_cpu_time": statistics.median(cpu["false"]) / statistics.median(cpu["true"]), "cpu_s": cpu,
           "shared_share_of_ceiling": minimal / shared_s / 1e9 / peak,
           "naive_share_of_ceiling_over_work_run": naive_work / naive_s / 1e9 / peak,
           "naive_share_of_ceiling_over_needed": minimal / naive_s / 1e9 / peak,
           "max_abs_diff": diff, "times": times}
    print(f"{name:<26} {len(samples):>5} seq {tokens:>7} tok  naive {naive_s:7.2f}s  shared {shared_s:7.2f}s  "
          f"x{out['speedup']:5.2f} (fastest x{out['speedup_of_fastest']:5.2f}, CPU time "
          f"x{out['speedup_cpu_time']:5.2f})\n"
          f"{'':<28}ceiling: shared {out['shared_share_of_ceiling']:.1%}, naive "
          f"{out['naive_share_of_ceiling_over_work_run']:.1%} of its work  max|diff| {diff:.1e}")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="4 groups per set, 2 repeats (smoke run, no record)")
    parser.add_argument("--groups", type=int, default=32, help="best-of-8 groups per data set")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats per path (median reported)")
    parser.add_argument("--hidden", type=int, default=256, help="Llama hidden size")
    parser.add_argument("--layers", type=int, default=4, help="Llama layers")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--options", default="", help="extra reward options, e.g. batch_tokens=8192")
    parser.add_argument("--out", default=None, help="record path (default docs/benchmarks/shared_prefix.json)")
    args = parser.parse_args()
    if args.quick:
        args.groups, args.repeats = min(args.groups, 4), 2
    sets = {"hh-rlhf": hh_groups(args.groups), "gsm8k 4-shot": gsm_groups(args.groups)}
    sets = {k: v for k, v in sets.items() if v}
    if not sets:
        print(f"skipped: no hh-rlhf or GSM8K data under {DATA} (set REWARDLAB_DATA)")
        return 0
    peak = measure_ceiling(0.5 if args.quick else 2.0, device=args.device)
    print(f"ceiling: {peak:.1f} GFLOP/s fp32 matmul; model: Llama hidden {args.hidden} x {args.layers} layers")
    results = []
    extra = "".join(f",{o}" for o in args.options.split(",") if o) + f",device={args.device},dtype=float32"
    with tempfile.TemporaryDirectory() as tmp:
        rm = random_llama(Path(tmp) / "rm", "seq", args.hidden, args.layers)
        prm = random_llama(Path(tmp) / "prm", "token", args.hidden, args.layers)
        for name, samples in sets.items():
            results.append(run_case(f"classifier, {name}", f"classifier:{rm},inputs=concat,max_length=8192{extra}",
                                    samples, args.repeats, peak))
        if "gsm8k 4-shot" in sets:
            results.append(run_case("process, gsm8k 4-shot", f"process:{prm},max_length=8192{extra}",
                                    sets["gsm8k 4-shot"], args.repeats, peak))
    bad = [r["case"] for r in results if r["max_abs_diff"] > 1e-4]
    if bad:
        print(f"FAIL: shared and naive scores differ by more than 1e-4 in {bad}")
    write_record(args.out or default_out("shared_prefix", args.quick), "shared_prefix",
                 {"ceiling_gflops": peak, "hidden": args.hidden, "layers": args.layers, "groups": args.groups,
                  "group_size": GROUP, "repeats": args.repeats, "results": results})
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
