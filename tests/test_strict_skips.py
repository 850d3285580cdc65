"""CI strict mode (tests/strict_skips.py): with REWARDLAB_CI_STRICT=1 a skip is a failure unless it is for a
GPU (or for the whole data root being absent); without it, skips stay skips."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

SUITE = '''
import pytest

def test_runs():
    pass

def test_missing_integration():
    pytest.importorskip("surely_not_an_installed_module_xyz")

@pytest.mark.skipif(True, reason="headless Chromium not installed")
def test_skipif():
    pass

def test_gpu():
    pytest.skip("needs a GPU: bf16 flash attention")

def test_data():
    pytest.skip("real data not present: /nowhere/file.json")
'''

MODULE_LEVEL = '''
import pytest
pytest.importorskip("surely_not_an_installed_module_xyz")

def test_never():
    pass
'''


@pytest.fixture
def suite(pytester, monkeypatch):
    pytester.makeconftest("from strict_skips import pytest_make_collect_report, pytest_runtest_makereport\n")
    pytester.makepyfile(test_suite=SUITE, test_module_level=MODULE_LEVEL)
    return pytester


def test_without_strict_mode_skips_stay_skips(suite, monkeypatch):
    monkeypatch.delenv("REWARDLAB_CI_STRICT", raising=False)
    suite.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1, skipped=5)


def test_strict_mode_fails_skips_except_gpu_and_absent_data_root(suite, monkeypatch, tmp_path):
    monkeypatch.setenv("REWARDLAB_CI_STRICT", "1")
    monkeypatch.setenv("REWARDLAB_DATA", str(tmp_path / "no-data-root"))
    result = suite.runpytest("-p", "no:cacheprovider", "-rA", "--continue-on-collection-errors")
    # importorskip and skipif fail (the skipif in setup counts as an error); the module-level skip is a
    # collection error (without --continue-on-collection-errors it stops the whole run)
    result.assert_outcomes(passed=1, skipped=2, failed=1, errors=2)
    result.stdout.fnmatch_lines(["*REWARDLAB_CI_STRICT=1: skipped (could not import 'surely_not*"])
    result.stdout.fnmatch_lines(["*skipped (headless Chromium not installed); CI must run it*"])


def test_strict_mode_fails_a_missing_file_under_a_present_data_root(suite, monkeypatch, tmp_path):
    monkeypatch.setenv("REWARDLAB_CI_STRICT", "1")
    monkeypatch.setenv("REWARDLAB_DATA", str(tmp_path))  # exists
    result = suite.runpytest("-p", "no:cacheprovider", "--continue-on-collection-errors")
    result.assert_outcomes(passed=1, skipped=1, failed=2, errors=2)
