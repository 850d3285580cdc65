"""The ``vllm:`` and ``sglang:`` families against the REAL servers, where they are installed (a CUDA machine).

For each server: start it on a small Llama reward model (fp32, built by bench/gpu_model.py), score the same
samples through the family and locally (``classifier:`` / ``process:``), and print one ``RESULT`` line with
the largest difference, plus the server's default output for comparison (vLLM's sigmoid, SGLang's softmaxed
/v1/classify). A server that is not installed, or does not start, is a ``SKIP`` line with the reason.

    python bench/gpu_backends.py --rm DIR --prm DIR [--servers vllm,sglang] [--start-timeout 240]
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SAMPLES = [("what is 2 + 2 ?", " the answer is 4 ."), ("what is 2 + 2 ?", " the answer is 5 ."),
           ("the quick brown fox", " jumps over the lazy dog ."), ("mix flour and water", " then bake it .")]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(commands: list[list[str]], url: str, health: str, timeout: float, log: Path) -> subprocess.Popen | str:
    """The first command whose server answers ``health``; or why none did."""
    import httpx

    reasons = []
    for command in commands:
        with log.open("w") as fh:
            proc = subprocess.Popen(command, stdout=fh, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if httpx.get(url + health, timeout=5).status_code == 200:
                    return proc
            except httpx.HTTPError:
                pass
            time.sleep(2)
        stop(proc)
        tail = log.read_text()[-400:].replace("\n", " | ")
        reasons.append(f"{' '.join(command[2:5])}: {'exited' if proc.poll() is not None else 'timed out'}: {tail}")
    return "; ".join(reasons)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def compare(served_spec: str, local_spec: str, samples) -> float:
    from rewardlab import load_reward

    served = load_reward(served_spec).score(samples)
    local = load_reward(local_spec).score(samples)
    if any(not s.ok for s in served):
        raise RuntimeError(f"served scores failed: {[s.error for s in served if not s.ok]}")
    return max(abs(a.value - b.value) for a, b in zip(served, local))


def check_vllm(args, log_dir: Path) -> list[str]:
    import httpx

    from rewardlab import Sample

    if importlib.util.find_spec("vllm") is None:
        return ["SKIP vllm: not installed here (it cannot be fetched on the device machine, and its wheel is "
                "larger than the 64 MiB that can be carried)"]
    lines, samples = [], [Sample(p, r) for p, r in SAMPLES]
    for name, model, spec_extra, local in (
            ("classify", args.rm, "", f"classifier:{args.rm},dtype=float32"),
            ("token_classify", args.prm, ",task=token_classify", f"process:{args.prm},dtype=float32")):
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        base = [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", model, "--port", str(port),
                "--dtype", "float32", "--enforce-eager", "--gpu-memory-utilization", "0.3", "--max-model-len", "2048"]
        task = "classify" if name == "classify" else "token_classify"
        proc = start([base + ["--runner", "pooling"], base + ["--task", task]], url, "/health", args.start_timeout,
                     log_dir / f"vllm-{name}.log")
        if isinstance(proc, str):
            lines.append(f"FAIL vllm {name}: server did not start ({proc[:600]})")
            continue
        try:
            diff = compare(f"vllm:{url},model={model},tokenizer={model}{spec_extra}", local, samples)
            note = ""
            if name == "classify":
                default = httpx.post(url + "/classify", json={"model": model, "input": "hello"}).json()
                raw = httpx.post(url + "/classify", json={"model": model, "input": "hello",
                                                          "use_activation": False}).json()
                d, r = default["data"][0]["probs"][0], raw["data"][0]["probs"][0]
                note = f" default_is_sigmoid={abs(d - 1 / (1 + math.exp(-r))) < 1e-4}"
            status = "OK" if diff < 1e-3 else "FAIL"
            lines.append(f"RESULT vllm {name}: {status} max|served-local|={diff:.2e}{note}")
        except Exception as exc:  # noqa: BLE001 -- reported, the other checks go on
            lines.append(f"FAIL vllm {name}: {type(exc).__name__}: {str(exc)[:400]}")
        finally:
            stop(proc)
    return lines


def check_sglang(args, log_dir: Path) -> list[str]:
    import httpx

    from rewardlab import Sample

    if importlib.util.find_spec("sglang") is None:
        return ["SKIP sglang: not installed here (it cannot be fetched on the device machine, and its wheels are "
                "larger than the 64 MiB that can be carried)"]
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "sglang.launch_server", "--model-path", args.rm, "--is-embedding", "--port",
               str(port), "--dtype", "float32", "--mem-fraction-static", "0.3"]
    proc = start([command], url, "/health", args.start_timeout, log_dir / "sglang.log")
    if isinstance(proc, str):
        return [f"FAIL sglang embed: server did not start ({proc[:600]})"]
    try:
        diff = compare(f"sglang:{url},tokenizer={args.rm}", f"classifier:{args.rm},dtype=float32",
                       [Sample(p, r) for p, r in SAMPLES])
        softmaxed = httpx.post(url + "/v1/classify", json={"input": "hello"}).json()["data"][0]["probs"]
        return [f"RESULT sglang embed: {'OK' if diff < 1e-3 else 'FAIL'} max|served-local|={diff:.2e} "
                f"v1_classify_probs={softmaxed}"]
    except Exception as exc:  # noqa: BLE001
        return [f"FAIL sglang embed: {type(exc).__name__}: {str(exc)[:400]}"]
    finally:
        stop(proc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rm", required=True)
    parser.add_argument("--prm", required=True)
    parser.add_argument("--servers", default="vllm,sglang")
    parser.add_argument("--start-timeout", type=float, default=240)
    args = parser.parse_args()
    log_dir = Path(tempfile.mkdtemp(prefix="gpu-backends-"))
    for server in args.servers.split(","):
        for line in {"vllm": check_vllm, "sglang": check_sglang}[server](args, log_dir):
            print(line, flush=True)


if __name__ == "__main__":
    main()
