"""Judge throughput: reward-bench's way of calling an LLM judge against rewardlab's, same server, same model.

One llama.cpp server (``llama-cpp-python[server]``, Gemma 3 270M Q4_K_M) and one set of pairs (LLMBar, or
generated world pairs when the data is absent), judged with MT-Bench pair-v2 at temperature 0 in one
seeded random order per pair, three ways:
- **reward-bench, sequential**: one request at a time, parse ``[[A]]``/``[[B]]`` (the way its generative
  script judges with a local model through an API, one item after another);
- **reward-bench, 10 threads**: its API path's default (``--num_threads 10``, a ThreadPoolExecutor);
- **rewardlab**: ``judge:openai`` with ``concurrency`` requests in flight and the completion cache, then the
  same run again (served from the cache).
Writes docs/benchmarks/judge_throughput.json (judge_throughput_cpp.json with ``--llama-server-bin``; ``--out``
elsewhere). Prints seconds, pairs/s, the ratios, verdict agreement between the peers' path and ours, and an
approximate share of the machine's fp32 matmul ceiling (2 x non-embedding parameters per token plus the
output layer per generated token; the server's matmuls are int4, so this is a reference, not a bound).

    python bench/judge_throughput.py --items 64 --max-tokens 128

Note: llama-cpp-python serves one request at a time, so on it concurrency mostly hides HTTP and parsing
latency; servers that batch concurrent requests (vLLM, SGLang, llama.cpp's C++ ``llama-server
--parallel N``) are where concurrency pays. ``--llama-server-bin`` runs all three paths against the C++
server instead (``bash bench/setup_llama_server.sh`` builds it from the llama-cpp-python sdist), with
``--parallel`` slots decoded in one continuous batch and rewardlab's concurrency set to the slot count:

    python bench/judge_throughput.py --llama-server-bin ~/.cache/rewardlab/llama-server/bin/llama-server \
        --parallel 8

The cached re-run is the same on any server.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _record import RECORDS, write_record  # on import it notes the load average before the run

GEMMA_NON_EMBEDDING = 100e6  # Gemma 3 270M: ~268M parameters, ~168M of them the 262k x 640 embedding
GEMMA_OUTPUT_LAYER = 262_144 * 640


def load_pairs(n: int, data_root: str | None) -> tuple[list, str]:
    from rewardlab.evaluate.benchmarks import MissingBenchmarkData, load_benchmark

    try:
        return [r.samples() for r in load_benchmark("llmbar", data_root, n).records], "LLMBar"
    except MissingBenchmarkData:
        from rewardlab.synth.world import generate_problems
        from rewardlab.types import Sample

        problems = generate_problems(n, 5)
        return [(Sample(p.prompt, p.solution), Sample(p.prompt, p.solution + " (revised: wrong)"))
                for p in problems], "world"


def rewardbench_verdict(text: str) -> str:
    """reward-bench's process_judgement: the first of [[A]], [[B]] found, else error."""
    return "A" if "[[A]]" in text else "B" if "[[B]]" in text else "error"


def peer_run(server, shown, max_tokens: int, threads: int) -> tuple[float, list[str], int]:
    import httpx

    headers = {"authorization": f"Bearer {server.api_key}"} if server.api_key else {}
    client = httpx.Client(base_url=server.base_url, headers=headers, timeout=600)

    from rewardlab.generation.openai_wire import fold_system

    def one(messages):  # the system turn folded in, as rewardlab sends it: this server's gemma format drops it
        body = {"model": server.alias, "messages": fold_system(messages), "temperature": 0,
                "max_tokens": max_tokens, "n": 1}
        data = client.post("/chat/completions", json=body).json()
        return rewardbench_verdict(data["choices"][0]["message"]["content"]), data["usage"]["completion_tokens"]

    start = time.perf_counter()
    if threads == 1:
        results = [one(m) for m in shown]
    else:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            results = list(pool.map(one, shown))
    seconds = time.perf_counter() - start
    client.close()
    return seconds, [v for v, _ in results], sum(t for _, t in results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=64)
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight (this server queues them)")
    parser.add_argument("--threads", type=int, default=2, help="server threads (llama.cpp n_threads)")
    parser.add_argument("--llama-server-bin", type=Path, default=None,
                        help="llama.cpp's C++ llama-server (bench/setup_llama_server.sh) instead of llama-cpp-python")
    parser.add_argument("--parallel", type=int, default=8, help="slots of the C++ server (with --llama-server-bin)")
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    from _ceiling import measure_ceiling
    from rewardlab.generation.llama_server import LlamaCppServer, LlamaServer
    from rewardlab.generation.openai_api import OpenAIConfig, OpenAIGenerator
    from rewardlab.rewards.judge import JudgeConfig, JudgeReward
    from rewardlab.rewards.judge import rules as judge_rules
    from rewardlab.rewards.judge.protocols import Pairwise, question_text

    pairs, source = load_pairs(args.items, args.data_root)
    protocol = Pairwise()
    swaps = [judge_rules.single_order_swaps(0, question_text(a.prompt), a.response, b.response) for a, b in pairs]
    shown = [protocol.render(question_text(a.prompt), [b.response, a.response] if s else [a.response, b.response])
             for (a, b), s in zip(pairs, swaps)]
    ceiling = measure_ceiling(1.0)
    if args.llama_server_bin is not None:
        launcher = LlamaCppServer(args.llama_server_bin, parallel=args.parallel, n_ctx=4096, threads=args.threads)
        args.concurrency = args.parallel
        server_name = f"llama.cpp llama-server (--parallel {args.parallel}, continuous batching)"
    else:
        launcher = LlamaServer(n_ctx=4096, threads=args.threads, logits_all=False)
        server_name = "llama-cpp-python (one request at a time)"
    with launcher as server:
        peer_run(server, shown[:1], 4, 1)  # warm-up: load pages, fill the prompt cache once
        seq_s, seq_verdicts, seq_tokens = peer_run(server, shown, args.max_tokens, 1)
        thr_s, _, _ = peer_run(server, shown, args.max_tokens, 10)
        with tempfile.TemporaryDirectory() as tmp:
            config = OpenAIConfig(model=server.alias, base_url=server.base_url, concurrency=args.concurrency,
                                  cache=str(Path(tmp) / "cache.sqlite"), timeout=1800.0, system_role="fold")
            generator = OpenAIGenerator(config, api_key=server.api_key)
            judge = JudgeReward(generator, JudgeConfig(max_tokens=args.max_tokens))
            start = time.perf_counter()
            verdicts = judge.compare_pairs(pairs)
            ours_s = time.perf_counter() - start
            start = time.perf_counter()
            judge.compare_pairs(pairs)
            cached_s = time.perf_counter() - start
            stats = generator.stats.to_dict()
    ours = ["error" if v.p != v.p else ("A" if (v.p > 0.5) != s else "B") for v, s in zip(verdicts, swaps)]
    agree = sum(a == b for a, b in zip(ours, seq_verdicts)) / len(pairs)
    flops = (2 * GEMMA_NON_EMBEDDING * (stats["prompt_tokens"] + stats["completion_tokens"])
             + 2 * GEMMA_OUTPUT_LAYER * stats["completion_tokens"])
    result = {
        "source": source, "pairs": len(pairs), "max_tokens": args.max_tokens, "concurrency": args.concurrency,
        "server": server_name, "model": "gemma-3-270m Q4_K_M",
        "seconds": {"rewardbench_sequential": seq_s, "rewardbench_10_threads": thr_s, "rewardlab": ours_s,
                    "rewardlab_cached_rerun": cached_s},
        "speedup_vs_sequential": seq_s / ours_s, "speedup_vs_10_threads": thr_s / ours_s,
        "cached_rerun_share": cached_s / ours_s, "verdict_agreement_with_sequential": agree,
        "generated_tokens": {"rewardbench_sequential": seq_tokens, "rewardlab": stats["completion_tokens"]},
        "rewardlab_requests": stats["requests"], "ceiling_gflops": ceiling,
        "approx_ceiling_share": flops / ours_s / 1e9 / ceiling,
    }
    for name, value in result["seconds"].items():
        print(f"{name:28s} {value:9.2f} s  {len(pairs) / value:8.2f} pairs/s")
    print(f"rewardlab vs sequential {result['speedup_vs_sequential']:.2f}x, vs 10 threads "
          f"{result['speedup_vs_10_threads']:.2f}x; cached re-run "
          f"{100 * result['cached_rerun_share']:.1f}% of a cold run")
    print(f"verdicts equal to the sequential path on {100 * agree:.0f}% of pairs; approx. "
          f"{100 * result['approx_ceiling_share']:.2f}% of the {ceiling:.0f} GFLOP/s fp32 ceiling")
    name = "judge_throughput_cpp" if args.llama_server_bin is not None else "judge_throughput"
    write_record(args.out or RECORDS / f"{name}.json", "judge_throughput", result)


if __name__ == "__main__":
    main()
