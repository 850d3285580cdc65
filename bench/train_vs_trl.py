"""Reward-model training, side by side: TRL's ``RewardTrainer`` and ``rewardlab train bt``.

Same data, backbone, seed, learning rate, effective batch (pairs per optimiser step), epochs, max length,
schedule (linear, no warm-up), gradient clipping (1.0), dropout off, fp32, no gradient checkpointing.
Each trainer runs in its own subprocess so its peak RSS is its own; both run in one invocation so they
see the same machine state. Reported per trainer: training pairs/s (the optimiser loop only, and end to
end: the whole worker process, imports, loading, tokenisation and evaluation included), held-out pairwise
accuracy (strict: ties are wrong), and peak RSS.

Fairness notes. Pairs are pre-filtered so that no pair exceeds ``--max-length`` under either tool's
tokenisation (TRL drops longer pairs, rewardlab would truncate them: with the filter neither happens).
rewardlab is run with ``inputs=concat`` (``[CLS] prompt+response [SEP]``) which matches TRL's text
(prompt + response + eos) up to TRL's one extra eos token. TRL is configured as PEERS.md says it must be
on a CPU: ``use_cpu=True, bf16=False, gradient_checkpointing=False, eos_token="[SEP]"`` for MiniLM.

    python bench/train_vs_trl.py --quick          # tiny model, 64 pairs: checks both pipelines run
    python bench/train_vs_trl.py                  # MiniLM, 2,048 hh-rlhf (or generated) pairs, 1 epoch
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _record import default_out, write_record  # on import it notes the load average before the run

REPO = Path(__file__).resolve().parents[1]
HH = "hh-rlhf/harmless-base/test.jsonl.gz"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny BERT and 64 pairs (a smoke run, not a result)")
    parser.add_argument("--model", default="minilm")
    parser.add_argument("--data", default=None, help="pairs file (default: hh-rlhf harmless test, else generated)")
    parser.add_argument("--pairs", type=int, default=2048, help="training pairs")
    parser.add_argument("--eval-pairs", type=int, default=256)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=16, help="pairs per optimiser step (both tools)")
    parser.add_argument("--learning-rate", type=float, default=5e-5)
    parser.add_argument("--max-length", type=int, default=512, help="MiniLM's own limit: the recipe default")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="record path (default docs/benchmarks/train_vs_trl.json; "
                                                    "none with --quick)")
    parser.add_argument("--worker", choices=["trl", "rewardlab"], help=argparse.SUPPRESS)
    parser.add_argument("--spec", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        spec = json.loads(Path(args.spec).read_text())
        result = run_trl(spec) if args.worker == "trl" else run_rewardlab(spec)
        result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        Path(spec["result"]).write_text(json.dumps(result))
        return
    if args.quick:
        args.pairs, args.eval_pairs, args.max_length = 64, 32, 128
    with tempfile.TemporaryDirectory(prefix="train_vs_trl.") as tmp:
        spec = prepare(args, Path(tmp))
        results = {name: run_worker(name, spec, Path(tmp)) for name in ("trl", "rewardlab")}
        compute = training_compute(spec)
    report = summarize(spec, results, compute)
    print_report(report)
    write_record(args.out or default_out("train_vs_trl", args.quick), "train_vs_trl", report)


def prepare(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    """Write the train/eval pairs both tools read, filtered to fit max_length under both tokenisations."""
    from rewardlab.engine.loading import load_tokenizer, resolve_model_path
    from rewardlab.types import prompt_to_text

    model = args.model
    if args.quick and model == "minilm":
        from rewardlab.testing import tiny_bert_classifier

        model = str(tiny_bert_classifier(tmp / "tiny_bert"))
    tokenizer = load_tokenizer(resolve_model_path(model))
    pairs, source = load_bench_pairs(args.data, args.pairs + args.eval_pairs)
    rows, unusable = [], 0
    for pair in pairs:
        if not pair.chosen.strip() or not pair.rejected.strip() or pair.chosen.strip() == pair.rejected.strip():
            unusable += 1  # empty or identical sides teach nothing (rewardlab refuses them; TRL would not)
            continue
        prompt = prompt_to_text(pair.prompt)
        lengths = [len(tokenizer(prompt + side)["input_ids"]) + 1 for side in (pair.chosen, pair.rejected)]
        if max(lengths) <= args.max_length:
            rows.append({"prompt": prompt, "chosen": pair.chosen, "rejected": pair.rejected})
    if len(rows) < args.pairs + args.eval_pairs:
        print(f"note: {len(rows)} pairs fit max_length={args.max_length} (asked for "
              f"{args.pairs} + {args.eval_pairs})", file=sys.stderr)
    if unusable:
        print(f"note: {unusable} pairs with an empty or identical side left out for both tools", file=sys.stderr)
    n_eval = min(args.eval_pairs, len(rows) // 5)
    train, held = rows[: len(rows) - n_eval][: args.pairs], rows[len(rows) - n_eval:]
    for name, part in (("train", train), ("eval", held)):
        (tmp / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in part))
    return {"model": model, "train": str(tmp / "train.jsonl"), "eval": str(tmp / "eval.jsonl"),
            "train_pairs": len(train), "eval_pairs": len(held), "source": source, "epochs": args.epochs,
            "batch_size": args.batch_size, "learning_rate": args.learning_rate, "max_length": args.max_length,
            "seed": args.seed, "quick": args.quick, "torch_threads": _threads(), "unusable_pairs_left_out": unusable}


def load_bench_pairs(data: str | None, limit: int):
    from rewardlab.data import load_pairs

    if data is None:
        root = Path(os.environ.get("REWARDLAB_DATA", REPO.parent / "shared" / "data"))
        if (root / HH).exists():
            data = str(root / HH)
    if data is not None:
        return load_pairs(data)[:limit], data
    from rewardlab.cli.score import generated_pairs

    return generated_pairs(limit), "generated arithmetic pairs"


def run_worker(name: str, spec: dict[str, Any], tmp: Path) -> dict[str, Any]:
    spec = {**spec, "out": str(tmp / f"out_{name}"), "result": str(tmp / f"result_{name}.json")}
    spec_path = tmp / f"spec_{name}.json"
    spec_path.write_text(json.dumps(spec))
    start = time.perf_counter()
    run = subprocess.run([sys.executable, __file__, "--worker", name, "--spec", str(spec_path)],
                         capture_output=True, text=True)
    if run.returncode != 0:
        raise SystemExit(f"{name} worker failed:\n{run.stderr[-4000:]}")
    result = json.loads(Path(spec["result"]).read_text())
    result["process_seconds"] = time.perf_counter() - start
    return result


def run_trl(spec: dict[str, Any]) -> dict[str, Any]:
    """TRL RewardTrainer, configured for a fair fp32 CPU run (see PEERS.md)."""
    import torch
    from datasets import Dataset
    from transformers import AutoModelForSequenceClassification
    from trl import RewardConfig, RewardTrainer

    from rewardlab.engine.loading import load_tokenizer, resolve_model_path

    path = resolve_model_path(spec["model"])
    tokenizer = load_tokenizer(path)
    torch.manual_seed(spec["seed"])
    model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=1, dtype=torch.float32)
    model.config.pad_token_id = tokenizer.pad_token_id
    train = Dataset.from_list(_rows(spec["train"]))
    config = RewardConfig(
        output_dir=spec["out"], per_device_train_batch_size=spec["batch_size"], gradient_accumulation_steps=1,
        num_train_epochs=spec["epochs"], learning_rate=spec["learning_rate"], seed=spec["seed"],
        lr_scheduler_type="linear", warmup_steps=0, weight_decay=0.0, max_grad_norm=1.0,
        max_length=spec["max_length"], bf16=False, use_cpu=True, gradient_checkpointing=False,
        disable_dropout=True, report_to="none", save_strategy="no", eval_strategy="no", logging_steps=50,
        dataloader_num_workers=0, disable_tqdm=True,
        **({"eos_token": "[SEP]"} if tokenizer.eos_token is None else {}),
    )
    trainer = RewardTrainer(model=model, args=config, train_dataset=train, processing_class=tokenizer)
    loop_start = time.perf_counter()
    trainer.train()
    loop = time.perf_counter() - loop_start
    eos = config.eos_token or tokenizer.eos_token or ""
    accuracy = held_out_accuracy(trainer.model, tokenizer, _rows(spec["eval"]), eos)
    return {"loop_seconds": loop, "accuracy": accuracy,
            "pairs_trained": spec["train_pairs"] * spec["epochs"], "trl_version": _version("trl")}


def held_out_accuracy(model: Any, tokenizer: Any, rows: list[dict[str, str]], eos: str) -> float:
    """Strict accuracy of a TRL-trained model, reading text exactly as TRL trained it (prompt+response+eos)."""
    import torch

    from rewardlab.engine.forward import pad_batch
    from rewardlab.train.records import pairwise_accuracy

    model.eval()
    scores = []
    texts = [r["prompt"] + r[side] + eos for r in rows for side in ("chosen", "rejected")]
    with torch.no_grad():
        for k in range(0, len(texts), 16):
            ids = tokenizer(texts[k:k + 16])["input_ids"]
            input_ids, mask = pad_batch(ids, tokenizer.pad_token_id, next(model.parameters()).device)
            scores += model(input_ids=input_ids, attention_mask=mask).logits[:, 0].tolist()
    return pairwise_accuracy(scores[0::2], scores[1::2])["accuracy"]


def run_rewardlab(spec: dict[str, Any]) -> dict[str, Any]:
    from rewardlab.train import bt
    from rewardlab.train.config import BTConfig

    record = bt.main(BTConfig(
        data=spec["train"], eval=spec["eval"], out=spec["out"], model=spec["model"], epochs=spec["epochs"],
        batch_size=spec["batch_size"], learning_rate=spec["learning_rate"], max_length=spec["max_length"],
        seed=spec["seed"], inputs="concat", scheduler="linear", warmup_ratio=0.0, max_grad_norm=1.0,
        disable_dropout=True, progress=False, overwrite=True))
    return {"loop_seconds": record["train_seconds"], "accuracy": record["eval"]["accuracy"],
            "pairs_trained": spec["train_pairs"] * spec["epochs"],
            "truncated": record["truncated"], "dropped": record["dropped_too_long"]}


def training_compute(spec: dict[str, Any]) -> dict[str, float]:
    """FLOPs the training loop needs (real tokens of both sides, forward + backward, every epoch) and the
    machine's fp32 ceiling, measured now, after both trainers (bench/_ceiling.py)."""
    from transformers import AutoConfig

    from _ceiling import TRAINING_FACTOR, forward_flops, measure_ceiling
    from rewardlab.engine.loading import load_tokenizer, resolve_model_path

    path = resolve_model_path(spec["model"])
    tokenizer, config = load_tokenizer(path), AutoConfig.from_pretrained(path)
    rows = _rows(spec["train"])
    texts = [r["prompt"] + side for r in rows for side in (r["chosen"], r["rejected"])]
    lengths = [len(ids) for ids in tokenizer(texts, truncation=True, max_length=spec["max_length"])["input_ids"]]
    flops = TRAINING_FACTOR * forward_flops(lengths, config) * spec["epochs"]
    return {"training_flops": flops, "real_tokens_per_epoch": sum(lengths), "ceiling_gflops": measure_ceiling()}


def summarize(spec: dict[str, Any], results: dict[str, dict[str, Any]],
              compute: dict[str, float] | None = None) -> dict[str, Any]:
    for result in results.values():
        result["pairs_per_s_loop"] = result["pairs_trained"] / result["loop_seconds"]
        result["pairs_per_s_end_to_end"] = result["pairs_trained"] / result["process_seconds"]
        if compute:
            result["share_of_ceiling_loop"] = (compute["training_flops"] / result["loop_seconds"]
                                               / (compute["ceiling_gflops"] * 1e9))
    ours, trl = results["rewardlab"], results["trl"]
    return {
        "settings": {k: v for k, v in spec.items() if k not in ("train", "eval")},
        "compute": compute or {},
        "results": results,
        "ratio_pairs_per_s_loop": ours["pairs_per_s_loop"] / trl["pairs_per_s_loop"],
        "ratio_pairs_per_s_end_to_end": ours["pairs_per_s_end_to_end"] / trl["pairs_per_s_end_to_end"],
        "accuracy_difference_points": 100 * (ours["accuracy"] - trl["accuracy"]),
        "rss_ratio": ours["peak_rss_mb"] / trl["peak_rss_mb"],
        "targets": {"pairs_per_s_ratio": ">= 1.5", "accuracy_within_points": 1.0, "rss": "<= TRL's"},
    }


def print_report(report: dict[str, Any]) -> None:
    s = report["settings"]
    print(f"model {s['model']} | {s['train_pairs']} train / {s['eval_pairs']} eval pairs from {s['source']} | "
          f"{s['epochs']} epoch(s), {s['batch_size']} pairs/step, lr {s['learning_rate']}, "
          f"max_length {s['max_length']}, torch threads {s['torch_threads']}" + (" | QUICK" if s["quick"] else ""))
    ceiling = report.get("compute", {}).get("ceiling_gflops")
    print(f"machine fp32 ceiling {ceiling:.1f} GFLOP/s; training needs 3x forward FLOPs of the real tokens"
          if ceiling else "machine ceiling not measured")
    print("| trainer | pairs/s (loop) | pairs/s (end to end) | share of ceiling (loop) | held-out accuracy "
          "| peak RSS (MB) |")
    print("|---|---|---|---|---|---|")
    for name, r in report["results"].items():
        share = f"{r['share_of_ceiling_loop']:.1%}" if "share_of_ceiling_loop" in r else "n/a"
        print(f"| {name} | {r['pairs_per_s_loop']:.2f} | {r['pairs_per_s_end_to_end']:.2f} | {share} | "
              f"{r['accuracy']:.4f} | {r['peak_rss_mb']:.0f} |")
    print(f"rewardlab / TRL pairs/s: {report['ratio_pairs_per_s_loop']:.2f}x (loop), "
          f"{report['ratio_pairs_per_s_end_to_end']:.2f}x (end to end); accuracy difference "
          f"{report['accuracy_difference_points']:+.1f} points; RSS ratio {report['rss_ratio']:.2f}")


def _rows(path: str) -> list[dict[str, str]]:
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def _threads() -> int:
    import torch

    return torch.get_num_threads()


def _version(name: str) -> str:
    from importlib.metadata import version

    return version(name)


if __name__ == "__main__":
    main()
