"""Load benchmark: `rewardlab serve` against OpenRLHF's `serve_rm` loop, same model, same data, same load.

Load: N concurrent clients (default 64) for D seconds (default 60), each sending one request per sample
to ``/get_reward`` with ``{"query": [q], "prompts": [p], "labels": [None]}``, the way OpenRLHF's
current client does (``SingleTurnAgentExecutor._fetch_rewards_via_http([query], [prompt], [label])`` in
openrlhf/utils/agent.py, 0.11.2), and like it on a fresh connection per request (it opens a new
``aiohttp.ClientSession`` per post). Errors are counted, not retried.

Servers, each a separate process on 127.0.0.1:
  (a) ``rewardlab serve --reward classifier:minilm,max_length=L`` with its defaults (dynamic batching).
  (b) OpenRLHF's serve_rm. ``openrlhf`` does not install on a CPU machine (0.11.2 pins flash-attn==2.8.3,
      which builds only against CUDA, and ``openrlhf.models`` imports deepspeed at import time), so this
      script runs a faithful RECONSTRUCTION of its loop, read from openrlhf/cli/serve_rm.py (0.11.2 wheel;
      the same loop at GitHub commit 58ec6ff): FastAPI, ``async def get_reward`` that awaits the JSON, then
      calls the model synchronously on the event loop in fixed chunks of ``--batch_size`` (default: all
      queries of the request), tokenizer padding on the left with ``add_special_tokens=False``,
      ``max_length`` truncation, ``torch.no_grad()``, the two ``logger.info`` lines per request, and uvicorn
      at ``log_level="info"`` (access log on). Only the model differs in form, not in cost: it is the same
      MiniLM 1-label sequence classifier rewardlab serves (OpenRLHF would wrap a backbone with a value head
      read at the last token; the forward pass costs the same). It binds 127.0.0.1, not serve_rm's 0.0.0.0.

Data: hh-rlhf harmless-base test pairs (both sides) from ../shared/data, or generated dialogues when the
folder is absent. Reported per server: throughput, p50/p99 latency, errors; then the ratios and the
issue's targets (>= 5x throughput, p99 <= 2x the latency of one full batch, 0 errors), where a full batch
is one offline ``reward.score`` call on ``clients`` samples. Timings depend on the machine's load: run it
when the machine is quiet, and compare only numbers from one run.

    python bench/serve_load.py --quick          # a few seconds per server, to check it runs
    python bench/serve_load.py                  # the recorded run: docs/benchmarks/serve_load.json
"""


import argparse
import asyncio
import gzip
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from _record import default_out, write_record  # on import it notes the load average before the run

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "hh-rlhf" / "harmless-base" / "test.jsonl.gz"
ASSISTANT = "\n\nAssistant:"


@dataclass
class LoadResult:
    server: str
    seconds: float
    ok: int = 0
    ok_in_window: int = 0
    errors: int = 0
    error_kinds: dict[str, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list, repr=False)

    def summary(self) -> dict:
        lat = sorted(self.latencies)

        def pick(q: float) -> float:
            return lat[min(len(lat) - 1, int(q * len(lat)))] if lat else float("nan")

        return {"server": self.server, "seconds": round(self.seconds, 2), "ok": self.ok, "errors": self.errors,
                "error_kinds": self.error_kinds, "ok_in_window": self.ok_in_window,
                "throughput_per_s": self.ok_in_window / self.seconds if self.seconds else 0,
                "p50_s": pick(0.50), "p99_s": pick(0.99), "max_s": lat[-1] if lat else float("nan")}


def load_items(path: Path, limit: int) -> tuple[list[tuple[str, str]], str]:
    """(prompt, response) pairs: both sides of hh-rlhf pairs, prompt = dialogue up to the last Assistant turn."""
    if not path.exists():
        return generated_items(limit), f"generated ({path} absent)"
    items = []
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            for side in ("chosen", "rejected"):
                text = row[side]
                cut = text.rfind(ASSISTANT) + len(ASSISTANT)
                items.append((text[:cut], text[cut:]))
            if len(items) >= limit:
                break
    return items[:limit], str(path)


def generated_items(n: int) -> list[tuple[str, str]]:
    words = "the reward model scores how helpful and harmless this answer is to the question asked".split()
    out = []
    for i in range(n):
        prompt = f"\n\nHuman: question {i}: " + " ".join(words[(i + k) % len(words)] for k in range(8 + i % 30))
        response = " " + " ".join(words[(i * 3 + k) % len(words)] for k in range(10 + i % 50))
        out.append((prompt + ASSISTANT, response))
    return out


async def drive(url: str, items: list[tuple[str, str]], clients: int, seconds: float, name: str) -> LoadResult:
    """``clients`` coroutines, each: pick the next sample, POST it alone, wait, repeat, until time is up.

    Throughput counts the answers received inside the window; requests still open when it closes are
    awaited (so no load spills into the next run) and count for latency and errors only.
    """
    import httpx

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=0)  # a new connection each post
    result = LoadResult(name, seconds)
    cursor = iter(range(10**12))
    async with httpx.AsyncClient(limits=limits, timeout=180) as http:
        start = time.perf_counter()
        end = start + seconds

        async def client() -> None:
            while time.perf_counter() < end:
                prompt, response = items[next(cursor) % len(items)]
                body = {"query": [prompt + response], "prompts": [prompt], "labels": [None]}
                sent = time.perf_counter()
                try:
                    reply = await http.post(url + "/get_reward", json=body)
                    good = reply.status_code == 200 and len(reply.json()["rewards"]) == 1
                    kind = None if good else f"HTTP {reply.status_code}"
                except Exception as exc:  # a benchmark counts failures, it does not stop on them
                    kind = type(exc).__name__
                done = time.perf_counter()
                if kind is None:
                    result.ok += 1
                    result.ok_in_window += done <= end
                    result.latencies.append(done - sent)
                else:
                    result.errors += 1
                    result.error_kinds[kind] = result.error_kinds.get(kind, 0) + 1

        await asyncio.gather(*(client() for _ in range(clients)))
    return result


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(kind: str, args: argparse.Namespace, log_dir: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    if kind == "rewardlab":
        command = [sys.executable, "-c", "from rewardlab.cli import main; main()", "serve",
                   "--reward", f"{args.reward},max_length={args.max_len}", "--port", str(port),
                   "--log-level", "warning"]
    else:
        command = [sys.executable, str(Path(__file__).resolve()), "--serve-openrlhf-reconstruction",
                   "--port", str(port), "--model", args.model, "--max-len", str(args.max_len)]
        if args.openrlhf_batch_size:
            command += ["--openrlhf-batch-size", str(args.openrlhf_batch_size)]
    log = (log_dir / f"{kind}.log").open("w")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
    return process, f"http://127.0.0.1:{port}"


def wait_ready(process: subprocess.Popen, url: str, timeout: float = 300) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server {url} exited with {process.returncode}; see its log")
        try:
            if httpx.post(url + "/get_reward", json={"query": ["warm up"]}, timeout=30).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"server {url} not ready after {timeout} s")


def run_one(kind: str, args: argparse.Namespace, items, log_dir: Path) -> dict:
    import httpx

    process, url = start_server(kind, args, log_dir)
    try:
        try:
            wait_ready(process, url)
        except RuntimeError:
            print((log_dir / f"{kind}.log").read_text()[-3000:], file=sys.stderr)
            raise
        asyncio.run(drive(url, items, args.clients, args.warmup, kind))  # warm-up, discarded
        result = asyncio.run(drive(url, items, args.clients, args.duration, kind)).summary()
        if kind == "rewardlab":
            result["server_metrics"] = batch_stats(httpx.get(url + "/metrics").text)
        return result
    finally:
        process.terminate()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()


def batch_stats(metrics_text: str) -> dict:
    from prometheus_client.parser import text_string_to_metric_families

    values = {s.name: s.value for f in text_string_to_metric_families(metrics_text) for s in f.samples
              if not s.labels}
    calls = values.get("rewardlab_batch_samples_count", 0)
    return {"model_calls": calls,
            "mean_samples_per_call": values.get("rewardlab_batch_samples_sum", 0) / calls if calls else 0}


def full_batch_seconds(args: argparse.Namespace, items) -> float:
    """Median wall time of one offline ``score`` call on ``clients`` samples (the 'one full batch')."""
    from rewardlab import Sample, load_reward

    reward = load_reward(f"{args.reward},max_length={args.max_len}")
    batch = [Sample(p, r) for p, r in items[: args.clients]]
    reward.score(batch)  # warm-up
    times = []
    for _ in range(3):
        start = time.perf_counter()
        reward.score(batch)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def compute_bound(args: argparse.Namespace, items) -> dict:
    """Mean forward FLOPs per served sample (real tokens, MiniLM-style encoder) and the machine's fp32
    ceiling, so each server's throughput can be read as a share of what the cores can do at all."""
    from transformers import AutoConfig

    from _ceiling import forward_flops, measure_ceiling
    from rewardlab.engine.loading import load_tokenizer, resolve_model_path

    path = resolve_model_path(args.model)
    tok, config = load_tokenizer(path), AutoConfig.from_pretrained(path)
    enc = tok([p for p, _ in items], [r for _, r in items], truncation="longest_first", max_length=args.max_len)
    lengths = [len(x) for x in enc["input_ids"]]
    per_sample = forward_flops(lengths, config) / len(lengths)
    import torch

    cuda = torch.cuda.is_available()  # both servers then run on the GPU in bf16: that is the ceiling
    ceiling = measure_ceiling(device="cuda" if cuda else "cpu", dtype=torch.bfloat16 if cuda else torch.float32)
    return {"flops_per_sample": per_sample, "ceiling_gflops": ceiling,
            "ceiling_samples_per_s": ceiling * 1e9 / per_sample, "mean_tokens": sum(lengths) / len(lengths)}


def report(results: dict[str, dict], full_batch: float, meta: dict) -> dict:
    print(f"\nserve_load: {meta['clients']} clients x {meta['duration']:g} s, one sample per request; "
          f"data: {meta['data']}; model: {meta['reward']} (max_length {meta['max_len']})")
    bound = meta.get("compute_bound") or {}
    limit = bound.get("ceiling_samples_per_s")
    if limit:
        print(f"compute ceiling: {bound['ceiling_gflops']:.0f} GFLOP/s, {bound['mean_tokens']:.0f} tokens per sample "
              f"-> at most {limit:.1f} samples/s on this machine")
    print(f"{'server':<12}{'ok':>8}{'in window':>11}{'errors':>8}{'req/s':>9}{'p50 s':>9}{'p99 s':>9}"
          f"{'max s':>9}{'ceiling':>9}")
    for r in results.values():
        share = f"{r['throughput_per_s'] / limit:>8.1%}" if limit else "     n/a"
        print(f"{r['server']:<12}{r['ok']:>8}{r['ok_in_window']:>11}{r['errors']:>8}{r['throughput_per_s']:>9.2f}"
              f"{r['p50_s']:>9.3f}{r['p99_s']:>9.3f}{r['max_s']:>9.3f} {share}")
    short = [r["server"] for r in results.values() if r["ok_in_window"] < 2 * meta["clients"]]
    if short:
        print(f"NOTE: fewer than {2 * meta['clients']} answers inside the window for {', '.join(short)}: "
              "throughput is not a stable measure here; use a longer --duration (and a quiet machine)")
    summary = {"full_batch_s": full_batch}
    ours, theirs = results.get("rewardlab"), results.get("openrlhf")
    print(f"one full batch ({meta['clients']} samples, offline): {full_batch:.3f} s")
    if ours:
        if "server_metrics" in ours:
            print(f"rewardlab model calls: {ours['server_metrics']['model_calls']:.0f}, "
                  f"mean {ours['server_metrics']['mean_samples_per_call']:.1f} samples per call")
        summary["p99_over_full_batch"] = ours["p99_s"] / full_batch
        print(f"target p99 <= 2x full batch: {summary['p99_over_full_batch']:.2f}x -> "
              f"{'met' if summary['p99_over_full_batch'] <= 2 else 'MISSED'}")
        print(f"target 0 errors: {ours['errors']} -> {'met' if ours['errors'] == 0 else 'MISSED'}")
    if ours and theirs and theirs["throughput_per_s"] > 0:
        summary["throughput_ratio"] = ours["throughput_per_s"] / theirs["throughput_per_s"]
        summary["p99_ratio"] = ours["p99_s"] / theirs["p99_s"]
        print(f"throughput rewardlab / openrlhf-loop: {summary['throughput_ratio']:.2f}x (target >= 5x -> "
              f"{'met' if summary['throughput_ratio'] >= 5 else 'MISSED'}); p99 ratio {summary['p99_ratio']:.2f}")
        if limit:
            summary["max_possible_ratio"] = limit / theirs["throughput_per_s"]
            print(f"the most any server could reach over the openrlhf loop on these cores: "
                  f"{summary['max_possible_ratio']:.2f}x (100% of the ceiling)")
    return summary


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.serve_openrlhf_reconstruction:
        serve_openrlhf_reconstruction(args.port, args.model, args.max_len, args.openrlhf_batch_size)
        return
    if args.quick:
        args.duration, args.warmup = min(args.duration, 5.0), min(args.warmup, 1.0)
    items, source = load_items(Path(args.data), args.limit)
    full_batch = full_batch_seconds(args, items)
    results = {}
    with tempfile.TemporaryDirectory(prefix="serve_load_") as logs:
        for kind in args.servers.split(","):
            results[kind] = run_one(kind, args, items, Path(logs))
    meta = {"clients": args.clients, "duration": args.duration, "data": source, "reward": args.reward,
            "max_len": args.max_len, "openrlhf": "reconstruction of serve_rm.py 0.11.2 (see docstring)",
            "cpu_count": os.cpu_count()}
    try:
        meta["compute_bound"] = compute_bound(args, items)
    except (ImportError, AttributeError) as exc:  # a non-encoder --model: no exact FLOP count
        print(f"compute ceiling share not computed: {exc}", file=sys.stderr)
    summary = report(results, full_batch, meta)
    name = "serve_load" if "backend=onnx" not in args.reward else "serve_load_onnx"
    write_record(args.out or default_out(name, args.quick), "serve_load",
                 {"meta": meta, "results": results, "summary": summary})


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--duration", type=float, default=60.0, help="Seconds of measured load per server.")
    p.add_argument("--warmup", type=float, default=5.0, help="Seconds of unmeasured load first.")
    p.add_argument("--clients", type=int, default=64, help="Concurrent clients.")
    p.add_argument("--quick", action="store_true", help="5 s per server: checks the script runs.")
    p.add_argument("--servers", default="rewardlab,openrlhf", help="Comma list: rewardlab, openrlhf.")
    p.add_argument("--reward", default="classifier:minilm", help="Reward spec rewardlab serves.")
    p.add_argument("--model", default="minilm", help="Model the OpenRLHF reconstruction loads (same one).")
    p.add_argument("--max-len", type=int, default=512, help="Token limit for both servers.")
    p.add_argument("--openrlhf-batch-size", type=int, default=None, help="serve_rm --batch_size (default None).")
    p.add_argument("--data", default=str(DEFAULT_DATA), help="hh-rlhf style jsonl.gz.")
    p.add_argument("--limit", type=int, default=4624, help="Samples to cycle through.")
    p.add_argument("--out", default=None, help="Record path (default docs/benchmarks/serve_load.json, "
                   "serve_load_onnx.json for backend=onnx; none with --quick).")
    p.add_argument("--serve-openrlhf-reconstruction", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--port", type=int, default=5000, help=argparse.SUPPRESS)
    return p.parse_args(argv)


def serve_openrlhf_reconstruction(port: int, model_name: str, max_len: int, batch_size: int | None) -> None:
    """OpenRLHF serve_rm's loop as read in its source (see the module docstring); comments cite it."""
    import logging

    import torch
    import uvicorn
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse

    from rewardlab.engine.loading import load_sequence_classifier

    logging.basicConfig(level=logging.INFO, stream=sys.stdout)  # OpenRLHF's init_logger: INFO to stdout
    logger = logging.getLogger("openrlhf.cli.serve_rm")
    loaded = load_sequence_classifier(model_name)  # the same model rewardlab serves
    model, tokenizer = loaded.model, loaded.tokenizer
    tokenizer.padding_side = "left"  # get_tokenizer(..., "left", ...)

    def get_reward_sync(queries: list[str]) -> list[float]:  # RewardModelProxy.get_reward
        size = batch_size or len(queries)
        logger.info(f"queries[0]: {queries[0]}")
        scores: list[float] = []
        with torch.no_grad():
            for i in range(0, len(queries), size):
                inputs = tokenizer(queries[i: min(len(queries), i + size)], return_tensors="pt",
                                   add_special_tokens=False, max_length=max_len, padding=True, truncation=True)
                inputs = inputs.to(model.device)  # serve_rm moves the batch to the model's GPU
                r = model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"]).logits[:, 0]
                scores.extend(r.tolist())
        return scores

    app = FastAPI()

    @app.post("/get_reward")
    async def get_reward(request: Request):
        data = await request.json()
        queries = data.get("query")
        rewards = get_reward_sync(queries)  # blocking compute inside the async handler, as in serve_rm
        result = {"rewards": rewards, "scores": rewards, "extra_logs": {"dummy_scores": rewards}}
        logger.info(f"Sent JSON: {result}")
        return JSONResponse(result)

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="info")


if __name__ == "__main__":
    main()
