"""Scoring throughput: rewardlab vs TRL's evaluation path vs reward-bench's pipeline, one run, same inputs.

Same model (all-MiniLM-L6-v2 with a 1-label head initialised under seed 0, saved once to a temp folder that
every system loads), same texts (hh-rlhf harmless-base test: 2,312 pairs = 4,624 sequences; RM-Bench chat:
129 prompts x 3 chosen + 3 rejected = 774 sequences), every text rendered as one string and truncated on
the left at 512 tokens by every system (as reward-bench's --force_truncation does), so all three see
identical token ids. reward-bench pads on the LEFT, which changes CLS-pooled encoder scores (PEERS.md):
its score difference is reported as found, not hidden.

Peers run at their own defaults, and at the other setting people use beside it:
- TRL: its own ``DataCollatorForPreference`` (chosen and rejected of each pair in one forward, padded to the
  longest, dataset order) and the forward ``RewardTrainer.compute_loss`` makes, under ``torch.no_grad`` as
  its ``prediction_step`` does, at ``RewardConfig``'s default ``per_device_eval_batch_size=8`` pairs per
  forward (TRL 1.16), and at 32 pairs (an earlier run of this script used only 32).
- reward-bench: its ``RewardBenchPipeline`` run in a side venv (it pins transformers 4.51), through the
  launcher ``bench/_rewardbench_runner.py``, at the defaults of each entry point: the ``rewardbench`` CLI
  (``rewardbench/rewardbench.py``: batch 8, left padding, max_length 512) and ``scripts/run_rm.py`` (batch
  64, the tokenizer's padding side, max_length 2048 capped at MiniLM's 512). Skipped (and said so) when no
  such interpreter is given.
- rewardlab: ``classifier:DIR,inputs=concat,truncation=truncate-left`` through ``rewardlab.scoring``, with the
  default torch backend and (where onnxruntime is installed) ``backend=onnx``.

Prints real (unpadded) tokens/s, ratios, the fraction of the machine's compute ceiling (fp32 matmul
GFLOP/s measured in the same run; FLOPs counted exactly per sequence), and the max score difference to
rewardlab; ratios are against each peer at its default (TRL 8 pairs, reward-bench's CLI). Writes
docs/benchmarks/score_vs_peers.json (bench/_record.py) unless ``--quick``.
Usage: ``python bench/score_vs_peers.py [--quick] [--rewardbench-python PATH] [--out PATH]``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from _ceiling import forward_flops as flops
from _ceiling import measure_ceiling
from _record import default_out, write_record  # on import it notes the load average before the run

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("REWARDLAB_DATA", REPO.parent / "shared" / "data"))
MAX_LENGTH = 512


def load_texts(quick: bool) -> dict[str, list[str]]:
    """Each dataset as a flat list [chosen_0, rejected_0, chosen_1, rejected_1, ...] of whole strings."""
    sets: dict[str, list[str]] = {}
    hh = DATA / "hh-rlhf/harmless-base/test.jsonl.gz"
    if hh.exists():
        with gzip.open(hh, "rt", encoding="utf-8") as fh:
            rows = [json.loads(line) for line in fh]
        sets["hh-rlhf"] = [t for r in rows for t in (r["chosen"], r["rejected"])]
    rm = DATA / "RM-Bench/data/chat_filtered.json"
    if rm.exists():
        texts = []
        for item in json.loads(rm.read_text()):
            for c, r in zip(item["chosen"], item["rejected"]):
                texts += [f"\n\nHuman: {item['prompt']}\n\nAssistant: {c}",
                          f"\n\nHuman: {item['prompt']}\n\nAssistant: {r}"]
        sets["rm-bench-chat"] = texts
    if not sets:
        sys.exit(f"no benchmark data under {DATA}; set REWARDLAB_DATA")
    if quick:
        sets = {k: v[:128] for k, v in sets.items()}
    return sets


def save_model(folder: Path, model: str = "minilm") -> None:
    from rewardlab.engine.loading import load_sequence_classifier

    loaded = load_sequence_classifier(model, device="cpu", dtype="float32")
    loaded.model.save_pretrained(folder)
    loaded.tokenizer.save_pretrained(folder)


TRL_DEFAULT_PAIRS = 8  # trl.RewardConfig().per_device_eval_batch_size (TrainingArguments' default), TRL 1.16
PEERS_AT_DEFAULT = {"trl": "trl (8 pairs, default)", "reward-bench": "reward-bench cli (default)"}


def run_trl(folder: Path, texts: list[str], pairs: int = TRL_DEFAULT_PAIRS, device: str = "cpu",
            dtype: str = "float32") -> tuple[np.ndarray, float]:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from trl.trainer.reward_trainer import DataCollatorForPreference

    tok = AutoTokenizer.from_pretrained(folder)
    tok.truncation_side = "left"
    model = AutoModelForSequenceClassification.from_pretrained(folder, dtype=getattr(torch, dtype)).to(device).eval()
    collator = DataCollatorForPreference(pad_token_id=tok.pad_token_id)
    start = time.perf_counter()
    ids = tok(texts, truncation=True, max_length=MAX_LENGTH)["input_ids"]
    examples = [{"chosen_ids": ids[i], "rejected_ids": ids[i + 1]} for i in range(0, len(ids), 2)]
    scores = np.zeros(len(texts))
    with torch.no_grad():
        for lo in range(0, len(examples), pairs):
            batch = collator(examples[lo : lo + pairs])
            logits = model(input_ids=batch["input_ids"].to(device),
                           attention_mask=batch["attention_mask"].to(device)).logits.float().cpu()
            chosen, rejected = torch.chunk(logits.squeeze(-1), chunks=2)
            n = len(chosen)
            scores[2 * lo : 2 * (lo + n) : 2] = chosen.numpy()
            scores[2 * lo + 1 : 2 * (lo + n) : 2] = rejected.numpy()
    return scores, time.perf_counter() - start


def run_rewardlab(folder: Path, texts: list[str], backend: str = "torch", device: str = "cpu",
                  dtype: str = "float32") -> tuple[np.ndarray, float, dict]:
    from rewardlab import Sample, load_reward
    from rewardlab.scoring import score_samples

    reward = load_reward(f"classifier:{folder},inputs=concat,truncation=truncate-left,max_length={MAX_LENGTH},"
                         f"backend={backend},device={device},dtype={dtype}")
    samples = [Sample("", t) for t in texts]
    start = time.perf_counter()
    scores, _ = score_samples(reward, samples, show_progress=False)
    return np.array([s.value for s in scores]), time.perf_counter() - start, reward.provenance()


def run_rewardbench(python: str, folder: Path, texts: list[str], entry: str = "cli", device: str = "cpu",
                    dtype: str = "float32") -> tuple[np.ndarray, float] | str:
    with tempfile.TemporaryDirectory() as tmp:
        inp, out = Path(tmp) / "texts.json", Path(tmp) / "scores.json"
        inp.write_text(json.dumps(texts))
        runner = REPO / "bench" / "_rewardbench_runner.py"
        proc = subprocess.run([python, str(runner), str(folder), str(inp), str(out), "--entry", entry,
                               "--device", device, "--dtype", dtype],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            return f"reward-bench runner failed: {proc.stderr.strip().splitlines()[-1:]}"
        result = json.loads(out.read_text())
    return np.array(result["scores"]), result["seconds"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="128 sequences per set: checks the script runs")
    parser.add_argument("--rewardbench-python", default=os.environ.get("REWARDBENCH_PYTHON"),
                        help="python of a venv with rewardbench 0.1.4 (see bench/setup_rewardbench_venv.sh)")
    parser.add_argument("--backends", default=None,
                        help="rewardlab backends to run, comma list (default: torch, plus onnx when onnxruntime "
                             "is installed)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda: where every system runs (GPU: bf16 + SDPA)")
    parser.add_argument("--dtype", default=None, help="float32 or bfloat16 (default: float32 on CPU, bfloat16 on cuda)")
    parser.add_argument("--model", default="minilm", help="sequence classifier every system loads (default: the "
                        "embedded MiniLM with a seeded 1-label head)")
    parser.add_argument("--out", default=None, help="record path (default docs/benchmarks/score_vs_peers.json)")
    args = parser.parse_args()
    args.dtype = args.dtype or ("bfloat16" if args.device.startswith("cuda") else "float32")
    backends = args.backends.split(",") if args.backends else ["torch"] + (["onnx"] if _has_ort() else [])
    torch.manual_seed(0)
    from rewardlab.engine.loading import quiet_transformers

    quiet_transformers()
    sets = load_texts(args.quick)
    record: dict = {"backends": backends, "trl_default_pairs_per_forward": TRL_DEFAULT_PAIRS, "sets": {}}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "minilm-rm"
        save_model(folder, args.model)
        from transformers import AutoConfig, AutoTokenizer

        config, tok = AutoConfig.from_pretrained(folder), AutoTokenizer.from_pretrained(folder)
        ceiling = measure_ceiling(device=args.device, dtype=getattr(torch, args.dtype))
        record.update(ceiling_gflops=ceiling, device=args.device, dtype=args.dtype, model=args.model)
        print(f"machine: {args.device} ({torch.get_num_threads()} threads), {args.dtype} matmul ceiling "
              f"{ceiling:.1f} GFLOP/s")
        for name, texts in sets.items():
            tok.truncation_side = "left"
            lengths = [len(x) for x in tok(texts, truncation=True, max_length=MAX_LENGTH)["input_ids"]]
            total_flops, real = flops(lengths, config), sum(lengths)
            print(f"\n== {name}: {len(texts)} sequences, {real:,} real tokens, "
                  f"{total_flops / real / 1e6:.1f} MFLOP/token, ceiling {ceiling * 1e9 / (total_flops / real):,.0f}"
                  " tokens/s")
            results = run_systems(args, backends, folder, texts)
            record["sets"][name] = summarize(results, real, total_flops, ceiling, len(texts))
    write_record(args.out or default_out("score_vs_peers", args.quick), "score_vs_peers", record)


def run_systems(args: argparse.Namespace, backends: list[str], folder: Path, texts: list[str]) -> dict:
    """Every system on the same texts: {name: (scores, seconds)}, rewardlab first."""
    results = {}
    for backend in backends:
        if backend == "onnx" and args.device != "cpu":
            continue  # the ONNX backend is the CPU engine
        scores, seconds, prov = run_rewardlab(folder, texts, backend, args.device, args.dtype)
        results["rewardlab" if backend == "torch" else f"rewardlab-{backend}"] = (scores, seconds)
    print(f"rewardlab batches: batch_tokens={prov['batch_tokens']} max_batch_size={prov['max_batch_size']}")
    results[PEERS_AT_DEFAULT["trl"]] = run_trl(folder, texts, TRL_DEFAULT_PAIRS, args.device, args.dtype)
    results["trl (32 pairs)"] = run_trl(folder, texts, 32, args.device, args.dtype)
    if not args.rewardbench_python:
        print("reward-bench: skipped (no --rewardbench-python / REWARDBENCH_PYTHON)")
        return results
    for entry, label in (("cli", PEERS_AT_DEFAULT["reward-bench"]), ("run_rm", "reward-bench run_rm.py (default)")):
        rb = run_rewardbench(args.rewardbench_python, folder, texts, entry, args.device, args.dtype)
        if isinstance(rb, str):
            print(f"{label}: {rb}")
        else:
            results[label] = rb
    return results


def summarize(results: dict, real: int, total_flops: float, ceiling: float, sequences: int) -> dict:
    """Print the table and return the set's record: per system seconds, tokens/s, share, ratios, max |d|."""
    ours = results["rewardlab"][0] if "rewardlab" in results else next(iter(results.values()))[0]
    defaults = {peer: results[label][1] for peer, label in PEERS_AT_DEFAULT.items() if label in results}
    print(f"{'system':<36}{'seconds':>9}{'tokens/s':>10}{'vs TRL':>8}{'ceiling':>9}{'max|d| to rewardlab':>21}")
    systems = {}
    for system, (scores, seconds) in results.items():
        share = total_flops / seconds / (ceiling * 1e9)
        diff = float(np.max(np.abs(scores - ours)))
        ratio = defaults["trl"] / seconds
        systems[system] = {"seconds": seconds, "tokens_per_s": real / seconds, "share_of_ceiling": share,
                           "max_abs_diff_to_rewardlab": diff,
                           **{f"speedup_over_{peer}_default": t / seconds for peer, t in defaults.items()}}
        print(f"{system:<36}{seconds:>9.2f}{real / seconds:>10,.0f}{ratio:>7.2f}x{share:>8.1%}{diff:>21.2e}")
    for ours_name in [k for k in results if k.startswith("rewardlab")]:
        for peer in [k for k in results if not k.startswith("rewardlab")]:
            print(f"{ours_name} speed-up over {peer}: {results[peer][1] / results[ours_name][1]:.2f}x")
    return {"sequences": sequences, "real_tokens": real, "systems": systems}


def _has_ort() -> bool:
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


if __name__ == "__main__":
    main()
