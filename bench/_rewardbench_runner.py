"""Runs reward-bench's own RewardBenchPipeline inside its side venv (transformers 4.51); see score_vs_peers.py.

Faithful to ``rewardbench/rewardbench.py`` (0.1.4) for classifier models: left padding, left truncation
(its --force_truncation), batch size 8, chosen batch then rejected batch, raw logits, add_eos_token when the
tokenizer has no chat template. Its pipeline hard-codes ``.to("cuda")``; on a CPU machine that call is
redirected to the CPU (the only change).
Usage: python _rewardbench_runner.py MODEL_DIR TEXTS.json OUT.json [DEVICE] [DTYPE]
"""

import json
import sys
import time

import torch
import transformers
from rewardbench.models.pipeline import RewardBenchPipeline

_to = transformers.tokenization_utils_base.BatchEncoding.to
transformers.tokenization_utils_base.BatchEncoding.to = lambda self, device: _to(
    self, "cpu" if str(device).startswith("cuda") and not torch.cuda.is_available() else device
)


def main() -> None:
    folder, texts_path, out_path = sys.argv[1:4]
    device, dtype = (sys.argv[4:6] + ["cpu", "float32"][len(sys.argv[4:6]):])[:2]
    with open(texts_path) as fh:
        texts = json.load(fh)
    tokenizer = transformers.AutoTokenizer.from_pretrained(folder)
    model = transformers.AutoModelForSequenceClassification.from_pretrained(
        folder, torch_dtype=getattr(torch, dtype)).to(device)
    tokenizer.padding_side = "left"
    tokenizer.truncation_side = "left"
    if not getattr(tokenizer, "chat_template", None):
        tokenizer.add_eos_token = True
    pipe = RewardBenchPipeline("text-classification", model=model, tokenizer=tokenizer)
    kwargs = {"batch_size": 8, "truncation": True, "padding": True, "max_length": 512,
              "function_to_apply": "none", "return_token_type_ids": False}
    chosen, rejected = texts[0::2], texts[1::2]
    scores = [0.0] * len(texts)
    start = time.perf_counter()
    for lo in range(0, len(chosen), 8):
        c = pipe(chosen[lo : lo + 8], **kwargs).float().cpu().numpy().reshape(-1).tolist()
        r = pipe(rejected[lo : lo + 8], **kwargs).float().cpu().numpy().reshape(-1).tolist()
        for j, (sc, sr) in enumerate(zip(c, r)):
            scores[2 * (lo + j)], scores[2 * (lo + j) + 1] = sc, sr
    seconds = time.perf_counter() - start
    with open(out_path, "w") as fh:
        json.dump({"scores": scores, "seconds": seconds, "transformers": transformers.__version__}, fh)


if __name__ == "__main__":
    main()
