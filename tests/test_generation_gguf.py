"""A GGUF on the ``hf`` backend (`rewardlab.generation.gguf`): the tokenizer and chat template transformers
gets from the Gemma 3 270M test GGUF give exactly the text and token ids llama.cpp's server reads for the
same conversation, so ``judge:hf:`` on the dequantized folder and ``judge:openai:`` against llama.cpp judge
the same input (the master key " " included: the template must not trim it)."""

from __future__ import annotations

import pytest

from rewardlab.generation.gguf import load_tokenizer
from rewardlab.generation.openai_wire import fold_system

MESSAGES = [{"role": "system", "content": "Judge fairly."},
            {"role": "user", "content": "Is this answer right?\n\nAnswer:  \nかいせつ 解 :\n"}]


@pytest.fixture(scope="module")
def gguf_path():
    from rewardlab.generation.llama_server import gemma_gguf, llama_cpp_available

    if not llama_cpp_available():
        pytest.skip("llama_cpp is not importable: pip install 'llama-cpp-python[server]' (rewardlab[judge-test])")
    return gemma_gguf()


@pytest.mark.slow  # transformers converts the 262k-token GGUF vocabulary in Python (a minute or two on 2 cores)
def test_the_hf_tokenizer_reads_what_llama_cpp_reads(gguf_path):
    from llama_cpp import Llama
    from llama_cpp.llama_chat_format import format_gemma

    tokenizer = load_tokenizer(gguf_path)
    rendered = tokenizer.apply_chat_template(MESSAGES, tokenize=False, add_generation_prompt=True)
    served = format_gemma(fold_system(MESSAGES)).prompt  # what llama-cpp-python's gemma format writes
    assert rendered == tokenizer.bos_token + served
    vocab = Llama(model_path=str(gguf_path), vocab_only=True, verbose=False)
    assert tokenizer(rendered, add_special_tokens=False)["input_ids"] == vocab.tokenize(
        served.encode("utf-8"), add_bos=True, special=True)


def test_a_missing_gguf_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.gguf"):
        load_tokenizer(tmp_path / "nothing.gguf")
