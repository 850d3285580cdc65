"""Scoring throughput: rewardlab vs TRL's evaluation path vs reward-bench's pipeline, one run, same inputs.

Same model (all-MiniLM-L6-v2 with a 1-label head initialised under seed 0, saved once to a temp folder that
every system loads), same texts (hh-rlhf harmless-base test: 2,312 pairs = 4,624 sequences; RM-Bench chat:
129 prompts x 3 chosen + 3 rejected = 774 sequences), every text rendered as one string and truncated on
the left at 512 tokens by every system (as reward-bench's --force_truncation does), so all three see
identical token ids. reward-bench pads on the LEFT, which changes CLS-pooled encoder scores (PEERS.md):
its score difference is reported as found, not hidden.

- TRL: its own ``DataCollatorForPreference`` (chosen and rejected of 32 pairs in one forward, padded to the
  longest, dataset order) and the forward ``RewardTrainer.compute_loss`` makes, under ``torch.no_grad`` as
  its ``prediction_step`` does.
- reward-bench: its ``RewardBenchPipeline`` run in a side venv (it pins transformers 4.51), through the
  launcher ``bench/_rewardbench_runner.py``, with the batch size and pipeline kwargs of its ``run_rm.py``.
  Skipped (and said so) when no such interpreter is given.
- rewardlab: ``classifier:DIR,inputs=concat,truncation=truncate-left`` through ``rewardlab.scoring``, with the
  default torch backend and (where onnxruntime is installed) ``backend=onnx``.

Prints real (unpadded) tokens/s, ratios, the fraction of the machine's compute ceiling (fp32 matmul
GFLOP/s measured in the same run; FLOPs counted exactly per sequence), and the max score difference to
rewardlab. Usage: ``python bench/score_vs_peers.py [--quick] [--rewardbench-python PATH]``.
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


def run_trl(folder: Path, texts: list[str], device: str = "cpu", dtype: str = "float32") -> tuple[np.ndarray, float]:
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
        for lo in range(0, len(examples), 32):
            batch = collator(examples[lo : lo + 32])
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


def run_rewardbench(python: str, folder: Path, texts: list[str], device: str = "cpu",
                    dtype: str = "float32") -> tuple[np.ndarray, float] | str:
    with tempfile.TemporaryDirectory() as tmp:
        inp, out = Path(tmp) / "texts.json", Path(tmp) / "scores.json"
        inp.write_text(json.dumps(texts))
        runner = REPO / "bench" / "_rewardbench_runner.py"
        proc = subprocess.run([python, str(runner), str(folder), str(inp), str(out), device, dtype],
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
    args = parser.parse_args()
    args.dtype = args.dtype or ("bfloat16" if args.device.startswith("cuda") else "float32")
    backends = args.backends.split(",") if args.backends else ["torch"] + (["onnx"] if _has_ort() else [])
    torch.manual_seed(0)
    from rewardlab.engine.loading import quiet_transformers

    quiet_transformers()
    sets = load_texts(args.quick)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "minilm-rm"
        save_model(folder, args.model)
        from transformers import AutoConfig, AutoTokenizer

        config, tok = AutoConfig.from_pretrained(folder), AutoTokenizer.from_pretrained(folder)
        ceiling = measure_ceiling(device=args.device, dtype=getattr(torch, args.dtype))
        print(f"machine: {args.device} ({torch.get_num_threads()} threads), {args.dtype} matmul ceiling "
              f"{ceiling:.1f} GFLOP/s")
        for name, texts in sets.items():
            tok.truncation_side = "left"
            lengths = [len(x) for x in tok(texts, truncation=True, max_length=MAX_LENGTH)["input_ids"]]
            total_flops, real = flops(lengths, config), sum(lengths)
            print(f"\n== {name}: {len(texts)} sequences, {real:,} real tokens, "
                  f"{total_flops / real / 1e6:.1f} MFLOP/token, ceiling {ceiling * 1e9 / (total_flops / real):,.0f}"
                  " tokens/s")
            results = {}
            for backend in backends:
                if backend == "onnx" and args.device != "cpu":
                    continue  # the ONNX backend is the CPU engine
                scores, seconds, prov = run_rewardlab(folder, texts, backend, args.device, args.dtype)
                results["rewardlab" if backend == "torch" else f"rewardlab-{backend}"] = (scores, seconds)
            ours, t_ours = results["rewardlab"] if "rewardlab" in results else next(iter(results.values()))
            results["trl"] = run_trl(folder, texts, args.device, args.dtype)
            if args.rewardbench_python:
                rb = run_rewardbench(args.rewardbench_python, folder, texts, args.device, args.dtype)
                if isinstance(rb, str):
                    print(f"reward-bench: {rb}")
                else:
                    results["reward-bench"] = rb
            else:
                print("reward-bench: skipped (no --rewardbench-python / REWARDBENCH_PYTHON)")
            print(f"{'system':<16}{'seconds':>9}{'tokens/s':>10}{'vs TRL':>8}{'ceiling':>9}{'max|d| to rewardlab':>21}")
            for system, (scores, seconds) in results.items():
                share = total_flops / seconds / (ceiling * 1e9)
                diff = float(np.max(np.abs(scores - ours)))
                ratio = results["trl"][1] / seconds
                print(f"{system:<16}{seconds:>9.2f}{real / seconds:>10,.0f}{ratio:>7.2f}x{share:>8.1%}{diff:>21.2e}")
            for ours_name in [k for k in results if k.startswith("rewardlab")]:
                for peer in ("trl", "reward-bench"):
                    if peer in results:
                        print(f"{ours_name} speed-up over {peer}: {results[peer][1] / results[ours_name][1]:.2f}x")
            print(f"rewardlab batches: batch_tokens={prov['batch_tokens']} max_batch_size={prov['max_batch_size']}")


def _has_ort() -> bool:
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


if __name__ == "__main__":
    main()
