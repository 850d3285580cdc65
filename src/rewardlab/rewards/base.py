"""The `Reward` protocol, the reward-family registry, and `load_reward(spec)`.

A spec string is ``family:argument`` (``classifier:minilm``, ``rule:math``, ``remote:http://host:8000``);
a path ending in ``.yaml``/``.yml`` is a composite spec. Each family registers one factory that takes the
argument string and returns a `Reward`, so adding a family is one module plus one entry-point line.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from rewardlab.registry import Registry
from rewardlab.types import Sample, Score

REWARD_FAMILIES: Registry = Registry("reward family", group="rewardlab.rewards")


@runtime_checkable
class Reward(Protocol):
    """Anything that maps samples to scores, one score per sample, in order."""

    name: str

    def score(self, samples: Sequence[Sample]) -> list[Score]: ...


@runtime_checkable
class PairwiseReward(Reward, Protocol):
    """A reward that can also judge two responses to the same prompt directly (generative judges).

    ``compare`` returns P(a is better than b) in [0, 1].
    """

    def compare(self, a: Sample, b: Sample) -> float: ...


def load_reward(spec: str | Reward) -> Reward:
    """Turn a spec string (or an already-built reward) into a `Reward`.

    >>> load_reward("classifier:minilm")  # doctest: +SKIP
    """
    if not isinstance(spec, str):
        return spec
    spec = spec.strip()
    if spec.endswith((".yaml", ".yml")) and ":" not in spec.split("/")[0]:
        family, argument = "composite", spec
    else:
        family, sep, argument = spec.partition(":")
        if not sep:
            raise ValueError(
                f"reward spec {spec!r} has no family; write FAMILY:ARGUMENT, e.g. classifier:minilm. "
                f"Families: {', '.join(REWARD_FAMILIES.names())}"
            )
    factory = REWARD_FAMILIES.get(family)
    return factory(argument)


def parse_options(argument: str) -> tuple[str, dict[str, str]]:
    """Split ``"path,agg=min,batch_tokens=4096"`` into ``("path", {"agg": "min", ...})``.

    The first comma-separated field is positional when it has no ``=``. Used by every family so
    option syntax is the same everywhere.
    """
    head, options = "", {}
    for i, part in enumerate(p for p in argument.split(",") if p):
        key, eq, value = part.partition("=")
        if not eq:
            if i != 0:
                raise ValueError(f"option {part!r} in {argument!r} must be KEY=VALUE")
            head = part
        else:
            options[key.strip()] = value.strip()
    return head, options


def option_flag(family: str, name: str, value: str) -> bool:
    """A boolean spec option (``1/true/yes`` or ``0/false/no``); anything else is an error naming it."""
    lowered = value.lower()
    if lowered not in {"1", "true", "yes", "0", "false", "no"}:
        raise ValueError(f"{family} option {name}={value!r}: use true or false")
    return lowered in {"1", "true", "yes"}
