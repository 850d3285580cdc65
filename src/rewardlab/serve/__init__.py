"""Serving rewards over HTTP: `create_app(reward, config)` builds the server, `RemoteReward` is its client.

Names resolve lazily so that ``remote:`` specs (the client) do not import FastAPI.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "create_app": "rewardlab.serve.app",
    "ServeConfig": "rewardlab.serve.config",
    "Normalization": "rewardlab.serve.config",
    "check_bind": "rewardlab.serve.config",
    "ServerThread": "rewardlab.serve.server",
    "RemoteReward": "rewardlab.serve.client",
    "RemoteRewardError": "rewardlab.serve.client",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'rewardlab.serve' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
