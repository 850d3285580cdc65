"""Where prompts to search over come from: a file (``prompt`` [, ``id``, ``reference``] per row; any format
`rewardlab.data.read_rows` reads) or the embedded world (``world:N[,seed=S][,difficulty=easy]``), whose
problems carry their exact gold answer so the world's verifier labels every candidate."""

from __future__ import annotations

from dataclasses import dataclass

from rewardlab.types import Prompt

WORLD_SEED = 7_000_003


@dataclass(frozen=True)
class PromptRow:
    id: str
    prompt: Prompt
    reference: str | None = None
    world: bool = False


def load_prompts(spec: str, limit: int | None = None, prompt_key: str = "prompt") -> list[PromptRow]:
    if spec.startswith("world:"):
        from rewardlab.rewards.base import parse_options
        from rewardlab.synth.world import generate_problems

        head, options = parse_options(spec[len("world:"):])
        try:
            n = int(head)
            seed = int(options.pop("seed", WORLD_SEED))
        except ValueError as exc:
            raise ValueError(f"prompts {spec!r}: write world:N[,seed=S][,difficulty=easy|medium|hard]") from exc
        difficulty = options.pop("difficulty", "easy")
        if options:
            raise ValueError(f"prompts {spec!r}: unknown option(s) {sorted(options)}; known: seed, difficulty")
        problems = generate_problems(n if limit is None else min(n, limit), seed, difficulty)
        return [PromptRow(p.id, p.prompt, str(p.answer), world=True) for p in problems]
    from rewardlab.data import fields
    from rewardlab.data.readers import read_rows

    out = []
    for i, row in enumerate(read_rows(spec)):
        if limit is not None and i >= limit:
            break
        prompt = fields.prompt(row, (prompt_key, "question", "problem"))
        rid = fields.optional_text(row, "id") or row.source
        out.append(PromptRow(rid, prompt, fields.optional_text(row, "reference")))
    if not out:
        raise ValueError(f"{spec}: no prompts found (the input is empty)")
    return out
