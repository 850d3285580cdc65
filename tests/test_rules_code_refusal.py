"""Where bubblewrap is missing or broken, rule:code refuses to load; unsafe=true falls back, loudly.

Runs everywhere: the missing and the broken bwrap are real paths (``$REWARDLAB_BWRAP``), not mocks.
"""

from __future__ import annotations

import pytest

from rewardlab import Sample, load_reward
from rewardlab.rewards.rules.sandbox import run_python


def test_without_bwrap_the_rule_refuses_unless_unsafe(monkeypatch, caplog, tmp_path):
    """No bwrap (a path where there is none, or one that cannot start a sandbox): loading rule:code fails
    saying how to install it; unsafe=true runs the plain subprocess and says so loudly."""
    from rewardlab.rewards.rules.code_exec import SandboxUnavailable

    monkeypatch.setenv("REWARDLAB_BWRAP", str(tmp_path / "no-bwrap-here"))
    with pytest.raises(SandboxUnavailable, match="not installed.*apt-get install bubblewrap.*unsafe=true"):
        load_reward("rule:code")
    broken = tmp_path / "bwrap"
    broken.write_text("#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\nexit 1\n")
    broken.chmod(0o755)
    monkeypatch.setenv("REWARDLAB_BWRAP", str(broken))
    with pytest.raises(SandboxUnavailable, match="cannot start a sandbox here: bwrap: No permissions"):
        load_reward("rule:code")
    with caplog.at_level("WARNING", logger="rewardlab.rules.code"):
        unsafe = load_reward("rule:code,unsafe=true,timeout=5")
    assert "WITHOUT the OS sandbox" in caplog.text
    sample = Sample("q", "```python\ndef f():\n    return 3\n```", metadata={"tests": ["assert f() == 3"]})
    assert unsafe.score([sample])[0].value == 1.0
    outcome = run_python("x = 1", ["assert x == 1"], backend="process")
    assert outcome.results == [True] and outcome.isolation["sandbox"].startswith("none")

