"""A pytest plugin for CI: with ``REWARDLAB_CI_STRICT=1`` (set by ``.ci/run``) a skipped test is a failure,
unless it skips for something no CI machine here has.

A skip in CI hides a claim nobody checked ("the TRL drop-in matches TRL" with TRL absent). So in strict
mode every skip (``pytest.skip``, ``skipif``, ``importorskip``, at collection or at run time) fails with its
reason, except those whose reason starts with an entry of `ALLOWED`:

- ``needs a GPU``: the accelerator is not on CI machines (listed in README.md, "What CI does not run");
- ``real data not present``, only while the whole data root is absent (a clean checkout without
  ``../shared``): one missing file under a present data root still fails.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ENV = "REWARDLAB_CI_STRICT"
REPO = Path(__file__).resolve().parents[1]
ALLOWED = ("needs a GPU",)
DATA_PREFIX = "real data not present"


def shared_data_root() -> Path:
    """``$REWARDLAB_DATA`` or ``../shared/data`` beside the repository (conftest's data fixtures use it)."""
    return Path(os.environ.get("REWARDLAB_DATA", REPO.parent / "shared" / "data"))


def strict() -> bool:
    return os.environ.get(ENV) == "1"


def skip_reason(report: pytest.TestReport | pytest.CollectReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:  # (path, line, "Skipped: reason")
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


def allowed(reason: str) -> bool:
    if reason.startswith(ALLOWED):
        return True
    if reason.startswith(DATA_PREFIX):
        return not shared_data_root().exists()
    return False


def _fail(report: pytest.TestReport | pytest.CollectReport) -> None:
    reason = skip_reason(report)
    if allowed(reason):
        return
    report.outcome = "failed"
    report.longrepr = (f"{ENV}=1: skipped ({reason}); CI must run it. Install what it needs in .ci/run, or, "
                       "if no CI machine can ever run it, skip with a reason starting 'needs a GPU' and list it "
                       "in README.md")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> object:
    outcome = yield
    report = outcome.get_result()
    if strict() and report.skipped and not hasattr(report, "wasxfail"):
        _fail(report)


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> object:
    outcome = yield
    report = outcome.get_result()
    if strict() and report.skipped:  # a module-level importorskip
        _fail(report)
