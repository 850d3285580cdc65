"""Generation backends: one interface for sampling text and reading verdict probabilities from any LM.

Judges (`rewardlab.rewards.judge`) and search build on `Generator`; backends register under the entry-point
group ``rewardlab.generators`` (built-ins: ``hf`` for local transformers models, ``openai`` for any
OpenAI-compatible server) and are built from a spec with `load_generator`. See docs/generation.md.
"""

from rewardlab.generation.base import (
    GENERATORS,
    Completion,
    GenerationStats,
    Generator,
    GenPrompt,
    SamplingParams,
    VerdictProbs,
    load_generator,
)
from rewardlab.generation.keys import allow_key_env, allowed_key_envs
from rewardlab.generation.sync import run_sync

__all__ = [
    "GENERATORS", "Completion", "GenPrompt", "GenerationStats", "Generator", "SamplingParams", "VerdictProbs",
    "allow_key_env", "allowed_key_envs", "load_generator", "run_sync",
]
