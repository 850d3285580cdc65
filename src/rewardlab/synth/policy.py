"""The tiny policy: a ~1-5M-parameter HF causal LM trained on the world's gold solutions on CPU.

It is an ordinary transformers model (Llama or GPT-2 family, built from a config), saved with
``save_pretrained`` and loaded with ``from_pretrained``, so everything that accepts a hub model accepts it.
It generates the candidates for best-of-N, the Monte-Carlo rollouts for step labels, and (DPO-tuned) the
implicit rewards. Training draws fresh problems every step (the world is unlimited), so it never sees a
problem twice and never sees the evaluation seeds.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch

from rewardlab.synth.world import Problem, generate_problem, generate_problems, is_correct

CARD = "policy.json"
TRAIN_WORLD_SEED = 1_000_003
"""Seed of the problems the policy trains on; evaluation and the demo use other seeds."""
POLICY_EVAL_SEED = 2_000_003


@dataclass(frozen=True)
class PolicyConfig:
    """Architecture and SFT schedule. ``time_budget_s`` stops training early (the card records where)."""

    family: str = "llama"
    hidden_size: int = 128
    num_layers: int = 4
    num_heads: int = 4
    intermediate_size: int = 384
    steps: int = 1500
    batch_size: int = 16
    lr: float = 2e-3
    warmup: int = 30
    weight_decay: float = 0.01
    seed: int = 0
    world_seed: int = TRAIN_WORLD_SEED
    difficulty: str | None = "easy"
    time_budget_s: float | None = None


PRESETS: dict[str, PolicyConfig] = {
    "tiny": PolicyConfig(hidden_size=48, num_layers=2, num_heads=2, intermediate_size=128, steps=40, warmup=5),
    "small": PolicyConfig(hidden_size=96, num_layers=3, num_heads=4, intermediate_size=256, steps=300),
    "full": PolicyConfig(),
}
"""``tiny``: seconds, for tests that need a real policy, not a skilled one. ``small``: about a minute, for
``rewardlab demo --size small``; it has learned the format, rarely the arithmetic. ``full``: the policy of
``rewardlab demo`` (~0.94M parameters, 1500 steps of 16 easy problems; ~0.2 s of one core per step), which
solves about a quarter of easy problems greedily. All train on easy problems: a model this size learns
2-3-step arithmetic in minutes on a CPU, not 8-step arithmetic."""


def build_model(config: PolicyConfig, tokenizer: Any) -> Any:
    """A freshly initialised causal LM of ``config.family`` sized to ``tokenizer``."""
    from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM

    common = {"vocab_size": len(tokenizer), "pad_token_id": tokenizer.pad_token_id,
              "bos_token_id": tokenizer.bos_token_id, "eos_token_id": tokenizer.eos_token_id}
    torch.manual_seed(config.seed)
    if config.family == "llama":
        cfg = LlamaConfig(hidden_size=config.hidden_size, intermediate_size=config.intermediate_size,
                          num_hidden_layers=config.num_layers, num_attention_heads=config.num_heads,
                          num_key_value_heads=config.num_heads, max_position_embeddings=1024,
                          tie_word_embeddings=True, **common)
        return LlamaForCausalLM(cfg)
    if config.family == "gpt2":
        cfg = GPT2Config(n_embd=config.hidden_size, n_layer=config.num_layers, n_head=config.num_heads,
                         n_inner=config.intermediate_size, n_positions=1024, tie_word_embeddings=True, **common)
        return GPT2LMHeadModel(cfg)
    raise ValueError(f"unknown policy family {config.family!r}; expected llama or gpt2")


def sft_batch(tokenizer: Any, problems: Sequence[Problem]) -> dict[str, torch.Tensor]:
    """``<s> prompt solution </s>``, right-padded; the loss reads only solution tokens and ``</s>``.

    Shapes: input_ids, attention_mask, labels (batch, seq).
    """
    rows = []
    for p in problems:
        prompt = tokenizer(p.prompt).input_ids
        answer = tokenizer(p.solution, add_special_tokens=False).input_ids + [tokenizer.eos_token_id]
        rows.append((prompt + answer, [-100] * len(prompt) + answer))
    width = max(len(ids) for ids, _ in rows)
    pad = tokenizer.pad_token_id
    input_ids = torch.tensor([ids + [pad] * (width - len(ids)) for ids, _ in rows])
    labels = torch.tensor([lab + [-100] * (width - len(lab)) for _, lab in rows])
    mask = torch.tensor([[1] * len(ids) + [0] * (width - len(ids)) for ids, _ in rows])
    return {"input_ids": input_ids, "attention_mask": mask, "labels": labels}


def _lr_factor(step: int, config: PolicyConfig) -> float:
    """Linear warm-up, then cosine decay to 10% of the peak."""
    if step < config.warmup:
        return (step + 1) / config.warmup
    progress = (step - config.warmup) / max(1, config.steps - config.warmup)
    return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def _batches(config: PolicyConfig, tokenizer: Any):
    """Fresh problems, four batches at a time sorted by length (less padding), in shuffled order."""
    gen = torch.Generator().manual_seed(config.seed)
    index, group = 0, 4
    while True:
        problems = [generate_problem(config.world_seed, index + i, config.difficulty)
                    for i in range(group * config.batch_size)]
        index += len(problems)
        problems.sort(key=lambda p: len(p.prompt) + len(p.solution))
        chunks = [problems[i:i + config.batch_size] for i in range(0, len(problems), config.batch_size)]
        for j in torch.randperm(len(chunks), generator=gen).tolist():
            yield sft_batch(tokenizer, chunks[j])


def sft(model: Any, tokenizer: Any, config: PolicyConfig,
        on_step: Callable[[int, float], None] | None = None) -> dict[str, Any]:
    """Train ``model`` in place; returns steps done, final loss (mean of the last 20 steps) and seconds."""
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.ndim < 2]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": config.weight_decay},
                                   {"params": no_decay, "weight_decay": 0.0}], lr=config.lr, betas=(0.9, 0.98))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: _lr_factor(s, config))
    model.train()
    start, losses, done = time.perf_counter(), [], 0
    for step, batch in zip(range(config.steps), _batches(config, tokenizer)):
        loss = model(**batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(loss.item())
        done = step + 1
        if on_step:
            on_step(done, losses[-1])
        if config.time_budget_s and time.perf_counter() - start > config.time_budget_s:
            break
    model.eval()
    tail = losses[-20:]
    return {"steps_done": done, "final_loss": sum(tail) / max(1, len(tail)),
            "train_seconds": round(time.perf_counter() - start, 1)}


def _bar_callback(bar: Any) -> Callable[[int, float], None] | None:
    if bar is None:
        return None
    return lambda step, loss: bar.update(bar.task_ids[0], completed=step, rate=f"loss {loss:.3f}")


def train_policy(out_dir: str | Path, config: PolicyConfig | str = "full", eval_problems: int = 200,
                 progress: bool | None = None) -> Path:
    """Build the tokenizer and model, SFT on gold solutions, measure accuracy, save; returns ``out_dir``.

    ``config`` is a `PolicyConfig` or a preset name (`PRESETS`). The folder is written whole or not at all
    (a temp folder renamed into place), with ``policy.json`` recording config, training and accuracy.
    """
    from rewardlab.progress import progress_bar
    from rewardlab.synth.tokenizer import build_tokenizer

    config = PRESETS[config] if isinstance(config, str) else config
    out = Path(out_dir)
    tokenizer = build_tokenizer()
    model = build_model(config, tokenizer)
    with progress_bar("SFT tiny policy", config.steps, enabled=progress) as bar:
        training = sft(model, tokenizer, config, _bar_callback(bar))
    card: dict[str, Any] = {"config": asdict(config), "parameters": sum(p.numel() for p in model.parameters()),
                            "training": training}
    if eval_problems:
        problems = generate_problems(eval_problems, POLICY_EVAL_SEED, config.difficulty)
        card["accuracy"] = evaluate_policy(model, tokenizer, problems)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        (tmp / CARD).write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def load_policy(path: str | Path, device: str = "cpu") -> tuple[Any, Any]:
    """(model, tokenizer) from a folder written by `train_policy` (or any causal LM folder)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(path))
    model = AutoModelForCausalLM.from_pretrained(str(path)).to(device)
    model.eval()
    return model, tokenizer


def policy_card(path: str | Path) -> dict[str, Any]:
    """The ``policy.json`` a trained policy folder carries (config, training, accuracy)."""
    return json.loads((Path(path) / CARD).read_text(encoding="utf-8"))


def default_cache_dir() -> Path:
    """``$REWARDLAB_CACHE`` or ``~/.cache/rewardlab``."""
    return Path(os.environ.get("REWARDLAB_CACHE") or Path.home() / ".cache" / "rewardlab")


def default_policy(cache_dir: str | Path | None = None, size: str = "full", progress: bool | None = None) -> Path:
    """The folder of the tiny policy of preset ``size``, trained on first use and cached after.

    The cache key is the preset's config and the world version, so a change to either retrains. A file
    lock keeps two processes from training the same policy at once.
    """
    import hashlib

    from rewardlab.synth.world import WORLD_VERSION

    config = PRESETS[size]
    eval_problems = 16 if size == "tiny" else 200
    key = hashlib.sha256(json.dumps([asdict(config), WORLD_VERSION], sort_keys=True).encode()).hexdigest()[:10]
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    path = root / f"policy-{size}-{key}"
    root.mkdir(parents=True, exist_ok=True)
    with open(root / f".policy-{size}-{key}.lock", "w") as lock:
        try:
            import fcntl  # POSIX; elsewhere two first uses may both train, and the later rename wins

            fcntl.flock(lock, fcntl.LOCK_EX)
        except ImportError:
            pass
        if not (path / CARD).exists():
            train_policy(path, config, eval_problems=eval_problems, progress=progress)
    return path


@torch.inference_mode()
def generate(model: Any, tokenizer: Any, prompts: Sequence[str], n: int = 1, temperature: float = 1.0,
             max_new_tokens: int = 200, seed: int = 0, max_batch_sequences: int = 256) -> list[list[str]]:
    """``n`` completions for each prompt (temperature 0 = greedy), batched; output in prompt order.

    Prompts are grouped by token length and left-padded; each batch seeds torch's RNG from ``seed`` and
    its index, so a call is reproducible for the same arguments. Completions are decoded without special
    tokens and stop at ``</s>``.
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    device = next(model.parameters()).device
    lengths = [len(tokenizer(p).input_ids) for p in prompts]
    order = sorted(range(len(prompts)), key=lambda i: lengths[i])
    per_batch = max(1, max_batch_sequences // n)
    greedy = temperature <= 0
    results: list[list[str]] = [[] for _ in prompts]
    for b, start in enumerate(range(0, len(order), per_batch)):
        idx = order[start:start + per_batch]
        enc = tokenizer([prompts[i] for i in idx], return_tensors="pt", padding=True, padding_side="left").to(device)
        torch.manual_seed(seed * 100_003 + b)
        out = model.generate(**enc, do_sample=not greedy, temperature=None if greedy else temperature,
                             top_k=None, top_p=None, num_return_sequences=1 if greedy else n,
                             max_new_tokens=max_new_tokens, pad_token_id=tokenizer.pad_token_id,
                             eos_token_id=tokenizer.eos_token_id)
        texts = tokenizer.batch_decode(out[:, enc["input_ids"].shape[1]:], skip_special_tokens=True)
        per_prompt = 1 if greedy else n
        for j, i in enumerate(idx):
            chunk = [t.strip() for t in texts[j * per_prompt:(j + 1) * per_prompt]]
            results[i] = chunk * n if greedy else chunk
    return results


def evaluate_policy(model: Any, tokenizer: Any, problems: Sequence[Problem], n_samples: int = 4,
                    temperature: float = 1.0, seed: int = 0, max_new_tokens: int | None = None) -> dict[str, Any]:
    """Greedy accuracy and sampled accuracy (mean over ``n_samples`` at ``temperature``), overall and per
    difficulty, judged by the world's exact verifier.

    ``max_new_tokens`` defaults to 1.5x the longest gold solution's tokens: enough for any right answer.
    """
    prompts = [p.prompt for p in problems]
    if max_new_tokens is None:
        longest = max(len(tokenizer(p.solution, add_special_tokens=False).input_ids) for p in problems)
        max_new_tokens = int(1.5 * longest) + 4
    greedy = generate(model, tokenizer, prompts, n=1, temperature=0.0, seed=seed, max_new_tokens=max_new_tokens)
    sampled = generate(model, tokenizer, prompts, n=n_samples, temperature=temperature, seed=seed,
                       max_new_tokens=max_new_tokens)
    out: dict[str, Any] = {"problems": len(problems), "temperature": temperature, "n_samples": n_samples}
    for level in sorted({p.difficulty for p in problems}) + ["all"]:
        chosen = [i for i, p in enumerate(problems) if level in ("all", p.difficulty)]
        g = sum(is_correct(greedy[i][0], problems[i].answer) for i in chosen) / len(chosen)
        s = sum(is_correct(t, problems[i].answer) for i in chosen for t in sampled[i]) / (len(chosen) * n_samples)
        key = "" if level == "all" else f"_{level}"
        out[f"greedy{key}"], out[f"sampled{key}"] = round(g, 4), round(s, 4)
    return out


def with_overrides(config: PolicyConfig, **changes: Any) -> PolicyConfig:
    """A copy of ``config`` with some fields changed (unknown names raise TypeError)."""
    return replace(config, **changes)
