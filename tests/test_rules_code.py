"""rule:code and its sandbox: partial credit, stdin/stdout cases, resource limits, and the refusal to run
without an OS sandbox. The attacks a hostile policy would try are in tests/test_rules_code_sandbox.py.

Each escape test runs real hostile code and checks two things: the sample scores as a failure (0 with a
reason), and the host is unharmed (no file written, no process left behind, no connection made).
"""

from __future__ import annotations

import contextlib
import math
import os
import socket
import threading
from pathlib import Path

import pytest

from rewardlab import Sample, load_reward
from rewardlab.rewards.rules.code_exec import extract_code
from rewardlab.rewards.rules.sandbox import run_python

FAST = "rule:code,timeout=4,cpu=1,memory_mb=512,processes=16"
pytestmark = pytest.mark.usefixtures("bwrap_sandbox")


def score(code: str, tests=("pass",), spec: str = FAST, **meta):
    sample = Sample("write code", f"```python\n{code}\n```", metadata={"tests": list(tests), **meta})
    return load_reward(spec).score([sample])[0]


def sandbox_processes() -> list[int]:
    """PIDs of any sandbox child still alive on this machine."""
    alive = []
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError):  # processes come and go while we look
            if entry.name.isdigit() and b"_sandbox_child.py" in (entry / "cmdline").read_bytes():
                alive.append(int(entry.name))
    return alive


def test_partial_credit_and_rationale():
    s = score("def add(a, b):\n    return a + b", ["assert add(1, 2) == 3", "assert add(2, 2) == 5",
                                                  "assert add(0, 0) == 0"])
    assert s.value == pytest.approx(2 / 3)
    assert s.components == {"passed": 2.0, "total": 3.0}
    assert "2/3 tests passed; test 1 failed: AssertionError" in s.rationale
    strict = score("def add(a, b):\n    return a + b", ["assert add(1, 2) == 3", "assert add(2, 2) == 5"],
                   spec=FAST + ",partial=false")
    assert strict.value == 0.0


def test_stdin_stdout_cases_from_reference_json():
    reward = load_reward(FAST)
    ref = '{"inputs": ["3\\n", "10\\n"], "outputs": ["6\\n", "20\\n"]}'
    right, wrong = reward.score([Sample("q", "n = int(input())\nprint(n * 2)", reference=ref),
                                 Sample("q", "n = int(input())\nprint(n + 2)", reference=ref)])
    assert right.value == 1.0
    assert wrong.value == 0.0 and "wrong output" in wrong.rationale


def test_no_code_and_no_tests():
    reward = load_reward(FAST)
    no_code, no_tests = reward.score([Sample("q", "I would use a loop.", metadata={"tests": ["pass"]}),
                                      Sample("q", "```python\nx = 1\n```")])
    assert no_code.value == 0.0 and "no code found" in no_code.rationale
    assert math.isnan(no_tests.value) and "no tests" in no_tests.error
    assert extract_code("```py\nfirst\n```\ntext\n```python\nsecond\n```") == "second\n"


def test_infinite_loop_is_stopped_by_the_cpu_limit():
    s = score("while True:\n    pass")
    assert s.value == 0.0
    assert "CPU time limit" in s.rationale or "timed out" in s.rationale
    assert sandbox_processes() == []


def test_sleep_is_stopped_by_the_wall_clock():
    s = score("import time\ntime.sleep(60)", spec="rule:code,timeout=1.5,cpu=1")
    assert s.value == 0.0 and "timed out" in s.rationale
    assert sandbox_processes() == []


def test_huge_allocation_is_refused():
    s = score("x = bytearray(64 * 1024 ** 3)")
    assert s.value == 0.0 and "MemoryError" in s.rationale
    grow = score("chunks = []\nwhile True:\n    chunks.append(bytearray(10 ** 7))")
    assert grow.value == 0.0 and ("MemoryError" in grow.rationale or "limit" in grow.rationale)


def test_fork_bomb_is_capped_and_leaves_nothing_behind():
    # Count how many forks succeed before the process limit (16 here) refuses more; children sleep so
    # they would outlive the run if nothing cleaned them up.
    counting = """
import os, time
made = 0
for _ in range(200):
    try:
        pid = os.fork()
    except OSError:
        break
    if pid == 0:
        time.sleep(60)
        os._exit(0)
    made += 1
"""
    s = score(counting, ["assert made <= 16, made"])
    assert s.value == 1.0, s.rationale
    bomb = score("import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass",
                 spec="rule:code,timeout=2,cpu=1,processes=16")
    assert bomb.value == 0.0
    assert sandbox_processes() == []


def test_writing_outside_the_temp_dir_is_refused(tmp_path):
    target = tmp_path / "escaped.txt"
    for code in (f"open({str(target)!r}, 'w').write('x')",
                 f"import os\nfd = os.open({str(target)!r}, os.O_WRONLY | os.O_CREAT)",
                 f"import pathlib\npathlib.Path({str(target)!r}).write_text('x')",
                 f"import os\nos.system('touch {target}')"):
        s = score(code)
        assert s.value == 0.0 and "the code failed to run" in s.rationale, code
    assert not target.exists()
    inside = score("open('scratch.txt', 'w').write('ok')\nok = open('scratch.txt').read()", ["assert ok == 'ok'"])
    assert inside.value == 1.0


def test_socket_is_refused_and_no_connection_arrives():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(0.5)
    port = server.getsockname()[1]
    connected = []

    def accept():
        with contextlib.suppress(OSError):  # the accept timeout is the expected outcome
            connected.append(server.accept())

    thread = threading.Thread(target=accept)
    thread.start()
    s = score(f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=1)")
    thread.join()
    server.close()
    assert s.value == 0.0 and "socket" in s.rationale
    assert connected == []


def test_exiting_early_does_not_count_as_passing():
    s = score("import os\nos._exit(0)", ["assert False"])
    assert s.value == 0.0 and "did not report" in s.rationale


def test_sandbox_cleans_up_its_temp_dirs():
    before = {p for p in os.listdir("/tmp") if p.startswith("rewardlab-sandbox-")}
    score("open('junk', 'w').write('x' * 1000)")
    after = {p for p in os.listdir("/tmp") if p.startswith("rewardlab-sandbox-")}
    assert after - before == set()


def test_bwrap_runs_see_only_the_interpreter_and_their_tmpfs():
    """The sandbox's root holds the interpreter's prefix, the system libraries and its own dirs; not this
    repository, not the prefix's neighbours, no host environment, and the code is not root."""
    import sys

    prefix = Path(sys.base_prefix).resolve()
    tops = {"dev", "etc", "proc", "run", "sandbox", "tmp", "usr", prefix.parts[1]}
    tops |= {d for d in ("lib", "lib64", "lib32", "libx32") if Path("/" + d).exists()}
    repo = str(Path(__file__).resolve().parents[1])
    env = {"HOME", "LANG", "LC_CTYPE", "MKL_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "PATH", "PWD",
           "PYTHONDONTWRITEBYTECODE", "TMPDIR"}
    code = "\n".join(["import os", "root = sorted(os.listdir('/'))", "etc = os.listdir('/etc')",
                      f"repo = os.path.exists({repo!r})", f"beside = os.listdir({str(prefix.parent)!r})",
                      "uid = os.getuid()", "env = set(os.environ)"])
    tests = [f"assert root == {sorted(tops)!r}, root", "assert etc == ['ld.so.cache'], etc", "assert not repo",
             "assert uid != 0, uid", f"assert env <= {env!r}, env"]
    if prefix.parent != Path("/"):
        tests.append(f"assert beside == [{prefix.name!r}], beside")
    outcome = run_python(code, tests)
    assert outcome.results == [True] * len(tests), outcome
    assert outcome.isolation["sandbox"] == "bwrap"
