"""Run untrusted Python against unit tests in a contained subprocess (host side).

The boundary is the operating system: each run is a bubblewrap sandbox (`rewardlab.rewards.rules.bwrap`
lists what it sees and may do) with rlimits on CPU, address space, processes, file size and open files,
a wall-clock timeout that kills the whole process group, and a size-capped private tmpfs as its only
writable place. The harness inside (`_sandbox_child`) also installs a Python audit hook, as defence in
depth only. ``backend="process"`` (what ``rule:code,unsafe=true`` falls back to where bwrap is missing)
is a plain subprocess with the rlimits and the hook and nothing else: it contains accidents, not attacks.

`RunOutcome.isolation` says what a run got. Whatever the code did, the process group is killed and the
host-side temp dirs are deleted after every run.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import secrets
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rewardlab.rewards.rules import bwrap, seccomp

CHILD = Path(__file__).with_name("_sandbox_child.py")
BACKENDS = ("bwrap", "process")
MESSAGE_CHARS = 200
"""Longest test-failure message kept: a reason to read, never a channel for dumping data out."""


@dataclass(frozen=True)
class SandboxLimits:
    cpu_seconds: int = 5
    wall_seconds: float = 10.0
    memory_mb: int = 1024
    processes: int = 32
    file_mb: int = 16
    open_files: int = 64
    output_kb: int = 256
    disk_mb: int = 64
    audit_hook: bool = True  # off only to test that the OS boundary holds on its own


@dataclass
class RunOutcome:
    """What happened: per-test results (True, or the failure message), or why nothing could be judged."""

    results: list[bool | str] = field(default_factory=list)
    loaded: bool = False
    error: str | None = None
    timed_out: bool = False
    exit_code: int | None = None
    signal: str | None = None
    isolation: dict = field(default_factory=dict)
    stderr_tail: str = ""
    wall_s: float = 0.0

    @property
    def passed(self) -> int:
        return sum(1 for r in self.results if r is True)

    def failure_reason(self) -> str | None:
        """Why the run as a whole failed (killed, timed out, crashed before reporting), else None."""
        if self.timed_out:
            return "timed out (wall clock); the process group was killed"
        if self.signal:
            hint = {"SIGXCPU": "CPU time limit", "SIGKILL": "killed (CPU or memory limit)",
                    "SIGXFSZ": "file size limit", "SIGSEGV": "crashed"}.get(self.signal, "killed")
            return f"{hint} ({self.signal})"
        if self.error:
            return self.error
        return None


def cap_message(text: object) -> str:
    """One line of at most MESSAGE_CHARS characters."""
    line = " ".join(str(text).split())
    return line if len(line) <= MESSAGE_CHARS else line[:MESSAGE_CHARS - 3] + "..."


def bwrap_problem() -> str | None:
    """None when a bwrap sandbox runs here, else why not (checked with a real run, once per process and
    bwrap path)."""
    return _bwrap_problem(bwrap.executable())


@functools.lru_cache(maxsize=4)
def _bwrap_problem(executable: str | None) -> str | None:
    if executable is None:
        where = f" at ${bwrap.BWRAP_ENV}={os.environ[bwrap.BWRAP_ENV]}" if os.environ.get(bwrap.BWRAP_ENV) else ""
        return f"bubblewrap (bwrap) is not installed{where}; {bwrap.INSTALL_HINT}"
    probe = run_python("x = 6 * 7", ["assert x == 42"], limits=SandboxLimits(wall_seconds=30))
    if probe.results == [True]:
        return None
    said = [line for line in probe.stderr_tail.splitlines() if line.startswith("bwrap:")]
    why = said[-1] if said else probe.failure_reason() or f"exit code {probe.exit_code}"
    return f"bubblewrap (bwrap) is installed but cannot start a sandbox here: {cap_message(why)}"


def run_python(code: str, tests: Sequence[str] = (), io_cases: Sequence[dict] = (),
               limits: SandboxLimits = SandboxLimits(), backend: str = "bwrap") -> RunOutcome:
    """Run ``code``, then each test snippet (and stdin/stdout cases), in a contained child process."""
    if backend not in BACKENDS:
        raise ValueError(f"sandbox backend must be one of {BACKENDS}, got {backend!r}")
    private = tempfile.mkdtemp(prefix="rewardlab-sandbox-io-")  # output files, never visible to the code
    workdir = tempfile.mkdtemp(prefix="rewardlab-sandbox-") if backend == "process" else bwrap.WORKDIR
    nonce = secrets.token_hex(16)
    job = {"nonce": nonce, "code": code, "tests": list(tests), "io": list(io_cases), "dir": workdir,
           "uid": None, "audit_hook": limits.audit_hook, "count_own_processes": backend == "process",
           "limits": {"cpu_seconds": limits.cpu_seconds, "memory_mb": limits.memory_mb,
                      "processes": limits.processes, "file_mb": limits.file_mb,
                      "open_files": limits.open_files}}
    keep_fds: list[int] = []
    try:
        if backend == "bwrap":
            argv, job["uid"], isolation = _bwrap_launch(limits, keep_fds)
            env, cwd = {"PATH": "/usr/bin:/bin"}, None
        else:
            argv, cwd = [sys.executable, "-I", str(CHILD)], workdir
            env = {**bwrap.ENVIRONMENT, "HOME": workdir, "TMPDIR": workdir}
            isolation = {"sandbox": "none (plain subprocess, unsafe=true)", "audit_hook": limits.audit_hook}
        outcome = _run(argv, job, env, cwd, keep_fds, Path(private), limits)
        outcome.isolation = isolation
        return outcome
    finally:
        for fd in keep_fds:
            os.close(fd)
        shutil.rmtree(private, ignore_errors=True)
        if backend == "process":
            shutil.rmtree(workdir, ignore_errors=True)


def _bwrap_launch(limits: SandboxLimits, keep_fds: list[int]) -> tuple[list[str], int | None, dict]:
    """The bwrap argv, the uid the harness drops to (root only) and the isolation report."""
    filter_fd = None
    isolation = {"sandbox": "bwrap", "namespaces": "pid+net+ipc+uts+cgroup", "disk_mb": limits.disk_mb,
                 "audit_hook": limits.audit_hook}
    if bwrap.privileged():
        program = seccomp.program()
        if program is not None:
            read_end, write_end = os.pipe()
            os.write(write_end, program)
            os.close(write_end)
            keep_fds.append(read_end)
            filter_fd = read_end
        isolation.update(user="fresh uid", nested_userns="blocked (seccomp)" if program else "allowed")
        uid = bwrap.fresh_uid()
    else:
        isolation.update(namespaces="user+" + isolation["namespaces"], user="user namespace",
                         nested_userns="blocked (bwrap --disable-userns)")
        uid = None
    return bwrap.command(str(CHILD), limits.disk_mb, filter_fd), uid, isolation


def _run(argv: list[str], job: dict, env: dict, cwd: str | None, keep_fds: list[int], private: Path,
         limits: SandboxLimits) -> RunOutcome:
    out_path, err_path = private / "stdout", private / "stderr"
    outcome = RunOutcome()
    start = time.monotonic()
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=out, stderr=err, cwd=cwd, env=env,
                                start_new_session=True, close_fds=True, pass_fds=keep_fds)
        for fd in keep_fds:  # the child has its copies; close ours now so the list can be emptied
            os.close(fd)
        keep_fds.clear()
        try:
            proc.stdin.write(json.dumps(job).encode())
            proc.stdin.close()
        except BrokenPipeError:
            pass
        try:
            outcome.exit_code = proc.wait(timeout=limits.wall_seconds)
        except subprocess.TimeoutExpired:
            outcome.timed_out = True
            _kill_tree(proc.pid)
            outcome.exit_code = proc.wait()
        finally:
            _kill_group(proc.pid)  # stragglers a finished run left behind
    outcome.wall_s = time.monotonic() - start
    outcome.signal = None if outcome.timed_out else _signal_of(outcome.exit_code)
    _parse_report(outcome, _read_tail(out_path, limits.output_kb), job["nonce"])
    outcome.stderr_tail = _read_tail(err_path, 4)[-2000:]
    return outcome


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _kill_tree(pid: int, grace_s: float = 5.0) -> None:
    """Kill ``pid``'s process group and its direct children, and wait until those children are gone.

    bwrap's child is PID 1 of the sandbox's PID namespace; the kernel kills everything else inside when
    it dies, and it dies only after them. So waiting for it (through a pidfd: no pid-reuse race) means no
    sandboxed process outlives the run, even one that had started a new session.
    """
    handles = []
    for child in _children(pid):
        with contextlib.suppress(OSError):
            handles.append(os.pidfd_open(child))
    _kill_group(pid)
    deadline = time.monotonic() + grace_s
    for fd in handles:
        with contextlib.suppress(OSError):
            signal.pidfd_send_signal(fd, signal.SIGKILL)
            select.select([fd], [], [], max(0.0, deadline - time.monotonic()))  # readable once it exited
        os.close(fd)


def _children(pid: int) -> list[int]:
    """PIDs whose parent is ``pid`` (read from /proc/N/stat)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError), open(f"/proc/{entry}/stat", "rb") as f:
                if int(f.read().rsplit(b")", 1)[1].split()[1]) == pid:
                    found.append(int(entry))
    return found


def _read_tail(path: Path, kb: int) -> str:
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        size = f.tell()
        f.seek(max(0, size - kb * 1024))
        return f.read().decode("utf-8", "replace")


def _signal_of(code: int | None) -> str | None:
    """The signal that ended the child: negative returncode directly, or 128+N relayed by bwrap's PID 1."""
    if code is None:
        return None
    number = -code if code < 0 else code - 128 if code > 128 else 0
    try:
        return signal.Signals(number).name if number else None
    except ValueError:
        return f"signal {number}"


def _parse_report(outcome: RunOutcome, stdout: str, nonce: str) -> None:
    """Read the harness's report line; every message in it is capped here, whatever the child sent."""
    lines = [line for line in stdout.splitlines() if line.startswith(nonce)]
    if not lines:
        if outcome.error is None and not outcome.timed_out and not outcome.signal:
            outcome.error = f"the test harness did not report (exit code {outcome.exit_code})"
        return
    try:
        report = json.loads(lines[-1][len(nonce):])
        outcome.loaded = bool(report["loaded"])
        outcome.results = [True if r is True else cap_message(r) for r in report["results"]]
        error = report["error"]
    except (ValueError, KeyError, TypeError):
        outcome.error = "the test harness sent an unreadable report"
        return
    if error is not None:
        outcome.error = cap_message(error)
