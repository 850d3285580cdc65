"""Run untrusted Python against unit tests in a contained subprocess (host side).

Each run gets a fresh temp directory as its working dir and only writable place, a new session (so the
wall-clock timeout kills the whole process group), rlimits (CPU, memory, processes, file size, open
files), new network and PID namespaces where the kernel allows, a pids cgroup where we are root (root is
exempt from RLIMIT_NPROC), and an audit hook; `_sandbox_child` documents the layers. `RunOutcome.isolation`
says which layers this machine gave. After every run the process group and the cgroup are killed and the
temp dir deleted, whatever the code did.

This contains accidents and resource abuse (loops, fork bombs, memory blow-ups, stray writes, network).
It is not a boundary against code written to forge its own test results from inside the interpreter; see
docs/rules.md.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

CHILD = Path(__file__).with_name("_sandbox_child.py")


@dataclass(frozen=True)
class SandboxLimits:
    cpu_seconds: int = 5
    wall_seconds: float = 10.0
    memory_mb: int = 1024
    processes: int = 32
    file_mb: int = 16
    open_files: int = 64
    output_kb: int = 256
    namespaces: bool = True
    audit_network: bool = True  # also refuse sockets in the audit hook; off only to test the namespace alone


@dataclass
class RunOutcome:
    """What happened: per-test results (True, or the error text), or why nothing could be judged."""

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


def _pids_cgroup(limit: int) -> str | None:
    """A fresh pids cgroup (v1 or v2) under our own, capped at ``limit`` tasks; None when not possible."""
    if os.geteuid() != 0:
        return None
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    candidates = []
    for line in lines:
        _, controllers, rel = line.split(":", 2)
        if "pids" in controllers.split(","):
            candidates.append(Path("/sys/fs/cgroup/pids") / rel.lstrip("/"))
        elif controllers == "" and Path("/sys/fs/cgroup/cgroup.controllers").exists():
            base = Path("/sys/fs/cgroup") / rel.lstrip("/")
            if "pids" in (base / "cgroup.subtree_control").read_text().split():
                candidates.append(base)
    for base in candidates:
        path = base / f"rewardlab-sandbox-{uuid.uuid4().hex[:12]}"
        try:
            path.mkdir()
            (path / "pids.max").write_text(str(limit))
            return str(path)
        except OSError:
            with contextlib.suppress(OSError):
                path.rmdir()
    return None


def _readable_by_others() -> bool:
    """Whether an unprivileged user could run this interpreter and import its libraries."""
    import stat
    import sysconfig

    paths = {os.path.realpath(sys.executable), os.path.dirname(os.__file__), sysconfig.get_paths()["purelib"]}
    for path in paths:
        parts = Path(path).parts
        for i in range(1, len(parts) + 1):
            try:
                mode = os.stat(Path(*parts[:i])).st_mode
            except OSError:
                return False
            needed = stat.S_IXOTH if stat.S_ISDIR(mode) else stat.S_IROTH
            if not mode & needed:
                return False
    return True


NOBODY = (65534, 65534)


def _process_cap(limit: int, workdir: str) -> tuple[str, str | None, tuple[int, int] | None]:
    """How the process limit is enforced: ``rlimit`` (not root), ``cgroup`` (root), ``rlimit-nobody``
    (root, no cgroup: the child drops to nobody), or ``none`` (root, neither possible; the wall-clock
    timeout and the PID namespace still end every process, but a fork bomb is not capped meanwhile)."""
    if os.geteuid() != 0:
        return "rlimit", None, None
    cgroup = _pids_cgroup(limit)
    if cgroup is not None:
        return "cgroup", cgroup, None
    if _readable_by_others():
        os.chown(workdir, *NOBODY)
        return "rlimit-nobody", None, NOBODY
    return "none", None, None


def _remove_cgroup(path: str | None) -> None:
    """Kill whatever is still in the run's cgroup (all started by this run), then remove it."""
    if path is None:
        return
    procs = Path(path) / "cgroup.procs"
    for _ in range(50):
        try:
            pids = [int(p) for p in procs.read_text().split()]
        except OSError:
            pids = []
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        try:
            os.rmdir(path)
            return
        except OSError:
            time.sleep(0.02)


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _read_tail(path: Path, kb: int) -> str:
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        size = f.tell()
        f.seek(max(0, size - kb * 1024))
        return f.read().decode("utf-8", "replace")


def _signal_of(code: int | None) -> str | None:
    """The signal that ended the child: negative returncode directly, or 128+N relayed by the PID-1 parent."""
    if code is None:
        return None
    number = -code if code < 0 else code - 128 if code > 128 else 0
    try:
        return signal.Signals(number).name if number else None
    except ValueError:
        return f"signal {number}"


def run_python(code: str, tests: Sequence[str] = (), io_cases: Sequence[dict] = (),
               limits: SandboxLimits = SandboxLimits()) -> RunOutcome:
    """Run ``code``, then each test snippet (and stdin/stdout cases), in a contained child process."""
    workdir = tempfile.mkdtemp(prefix="rewardlab-sandbox-")
    private = tempfile.mkdtemp(prefix="rewardlab-sandbox-io-")  # outside what the code may write
    cap, cgroup, drop_to = _process_cap(limits.processes, workdir)
    nonce = secrets.token_hex(16)
    job = {"nonce": nonce, "code": code, "tests": list(tests), "io": list(io_cases), "dir": workdir,
           "cgroup": cgroup, "process_cap": cap, "drop_to": drop_to, "namespaces": limits.namespaces,
           "audit_network": limits.audit_network,
           "limits": {"cpu_seconds": limits.cpu_seconds, "memory_mb": limits.memory_mb,
                      "processes": limits.processes, "file_mb": limits.file_mb,
                      "open_files": limits.open_files}}
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": workdir, "TMPDIR": workdir,
           "PYTHONDONTWRITEBYTECODE": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1"}
    out_path, err_path = Path(private) / "stdout", Path(private) / "stderr"
    outcome = RunOutcome()
    start = time.monotonic()
    try:
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            proc = subprocess.Popen([sys.executable, "-I", str(CHILD)], stdin=subprocess.PIPE, stdout=out,
                                    stderr=err, cwd=workdir, env=env, start_new_session=True, close_fds=True)
            try:
                proc.stdin.write(json.dumps(job).encode())
                proc.stdin.close()
            except BrokenPipeError:
                pass
            try:
                outcome.exit_code = proc.wait(timeout=limits.wall_seconds)
            except subprocess.TimeoutExpired:
                outcome.timed_out = True
                _kill_group(proc.pid)
                outcome.exit_code = proc.wait()
            finally:
                _kill_group(proc.pid)  # stragglers a finished run left behind
        outcome.wall_s = time.monotonic() - start
        outcome.signal = None if outcome.timed_out else _signal_of(outcome.exit_code)
        _parse_report(outcome, _read_tail(out_path, limits.output_kb), nonce)
        outcome.stderr_tail = _read_tail(err_path, 4)[-2000:]
    finally:
        _remove_cgroup(cgroup)
        shutil.rmtree(workdir, ignore_errors=True)
        shutil.rmtree(private, ignore_errors=True)
    return outcome


def _parse_report(outcome: RunOutcome, stdout: str, nonce: str) -> None:
    lines = [line for line in stdout.splitlines() if line.startswith(nonce)]
    if not lines:
        if outcome.error is None and not outcome.timed_out and not outcome.signal:
            outcome.error = f"the test harness did not report (exit code {outcome.exit_code})"
        return
    report = json.loads(lines[-1][len(nonce):])
    outcome.loaded = report["loaded"]
    outcome.results = report["results"]
    outcome.isolation = report["isolation"]
    if not report["loaded"]:
        outcome.error = f"the code failed to run: {report['error']}"
