"""Runs reward-bench's own RewardBenchPipeline inside its side venv (transformers 4.51); see score_vs_peers.py.

Faithful to reward-bench 0.1.4's classifier path (``RewardBenchPipeline``, chosen batch then rejected batch,
raw logits, add_eos_token when the tokenizer has no chat template, left truncation), at the defaults of the
entry point named by ``--entry``:
- ``cli`` (``rewardbench``, ``rewardbench/rewardbench.py``): batch size 8, LEFT padding, max_length 512;
- ``run_rm`` (``scripts/run_rm.py``): batch size 64, the tokenizer's own padding side (right for MiniLM),
  max_length 2048, capped here at the model's 512 positions (longer inputs would not run at all).
Its pipeline hard-codes ``.to("cuda")``; on a CPU machine that call is redirected to the CPU (the only
change). Usage: python _rewardbench_runner.py MODEL_DIR TEXTS.json OUT.json [--entry cli|run_rm]
[--device cpu|cuda] [--dtype float32|bfloat16] (bench/gpu_checks.sh runs it on a GPU in bf16).
"""

import argparse
import json
import time

import torch
import transformers
from rewardbench.models.pipeline import RewardBenchPipeline

_to = transformers.tokenization_utils_base.BatchEncoding.to
transformers.tokenization_utils_base.BatchEncoding.to = lambda self, device: _to(
    self, "cpu" if str(device).startswith("cuda") and not torch.cuda.is_available() else device
)


ENTRY_DEFAULTS = {"cli": {"batch_size": 8, "padding_side": "left"},
                  "run_rm": {"batch_size": 64, "padding_side": None}}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("folder")
    parser.add_argument("texts_path")
    parser.add_argument("out_path")
    parser.add_argument("--entry", choices=sorted(ENTRY_DEFAULTS), default="cli")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32")
    args = parser.parse_args()
    folder, texts_path, out_path, entry = args.folder, args.texts_path, args.out_path, args.entry
    batch, padding_side = ENTRY_DEFAULTS[entry]["batch_size"], ENTRY_DEFAULTS[entry]["padding_side"]
    with open(texts_path) as fh:
        texts = json.load(fh)
    tokenizer = transformers.AutoTokenizer.from_pretrained(folder)
    model = transformers.AutoModelForSequenceClassification.from_pretrained(
        folder, torch_dtype=getattr(torch, args.dtype)).to(args.device)
    if padding_side:
        tokenizer.padding_side = padding_side
    tokenizer.truncation_side = "left"
    if not getattr(tokenizer, "chat_template", None):
        tokenizer.add_eos_token = True
    pipe = RewardBenchPipeline("text-classification", model=model, tokenizer=tokenizer)
    kwargs = {"batch_size": batch, "truncation": True, "padding": True, "max_length": 512,
              "function_to_apply": "none", "return_token_type_ids": False}
    chosen, rejected = texts[0::2], texts[1::2]
    scores = [0.0] * len(texts)
    start = time.perf_counter()
    for lo in range(0, len(chosen), batch):
        c = pipe(chosen[lo : lo + batch], **kwargs).float().cpu().numpy().reshape(-1).tolist()
        r = pipe(rejected[lo : lo + batch], **kwargs).float().cpu().numpy().reshape(-1).tolist()
        for j, (sc, sr) in enumerate(zip(c, r)):
            scores[2 * (lo + j)], scores[2 * (lo + j) + 1] = sc, sr
    seconds = time.perf_counter() - start
    with open(out_path, "w") as fh:
        json.dump({"scores": scores, "seconds": seconds, "transformers": transformers.__version__, "entry": entry,
                   "batch_size": batch, "padding_side": tokenizer.padding_side}, fh)


if __name__ == "__main__":
    main()
