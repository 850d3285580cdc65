"""`ScriptedJudge`: a deliberately fake generation backend (named as such) for the judge-rule tests.

No real language model can be made to write a chosen verdict on cue, and the rules under test (position
debiasing, failure policies, resampling, k-sample voting) are about what happens *given* judge outputs. So
this backend answers each prompt with ``script(user_text, params, sample_index)``, hand-written per test,
and records every call. Everything else about judges runs against real models in test_judge_backends.py.
"""

from __future__ import annotations

from rewardlab.generation import Completion, GenerationStats, SamplingParams, VerdictProbs


class ScriptedJudge:
    name = "scripted"

    def __init__(self, script):
        self.script = script
        self.stats = GenerationStats()
        self.calls: list[tuple[int, SamplingParams]] = []

    def _text(self, prompt) -> str:
        return prompt if isinstance(prompt, str) else "\n".join(m["content"] for m in prompt if m["role"] == "user")

    async def agenerate(self, prompts, params):
        self.calls.append((len(prompts), params))
        n = 1 if params.greedy else params.n
        out = []
        for p in prompts:
            row = [Completion(self.script(self._text(p), params, j), 5, "stop") for j in range(n)]
            out.append(row * params.n if params.greedy else row)
        return out

    def generate(self, prompts, params):
        import asyncio

        return asyncio.run(self.agenerate(prompts, params))

    async def averdict_probs(self, prompts, verdicts, prefix=""):
        return [VerdictProbs(self.script(self._text(p), None, 0)) for p in prompts]

    def verdict_probs(self, prompts, verdicts, prefix=""):
        import asyncio

        return asyncio.run(self.averdict_probs(prompts, verdicts, prefix))

    def provenance(self):
        return {"backend": "scripted (test fake)"}


def slot_text(user_text: str, letter: str) -> str:
    """The answer shown in slot ``letter`` of a pair-v2 / four-way prompt."""
    start = user_text.index(f"[The Start of Assistant {letter}'s Answer]\n") + len(
        f"[The Start of Assistant {letter}'s Answer]\n")
    return user_text[start:user_text.index(f"\n[The End of Assistant {letter}'s Answer]")]
