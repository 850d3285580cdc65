"""Hostile code against the rule:code sandbox: every attack must be contained by the OS, not by Python.

Each test runs a real attack, written as a hostile RL policy would, against the real sandbox, and checks
that (a) the sample scores as a failure (the attack's own test asserts that it succeeded, so a contained
attack scores 0), and (b) the host is unharmed: a marker folder on the host stays empty, a victim file
keeps its content, a host process holding a secret in its environment survives and its secret appears in
nothing the caller gets back (score, rationale, error, the run's stderr), and no listening socket on the
host receives a connection. Every attack runs twice: with the harness's audit hook (the default) and
without it, which shows that the OS boundary holds on its own.
"""

from __future__ import annotations

import contextlib
import secrets
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from rewardlab.rewards.rules.base import Options
from rewardlab.rewards.rules.code_exec import CodeRule
from rewardlab.rewards.rules.sandbox import SandboxLimits, run_python

HOOK = pytest.mark.parametrize("hook", [True, False], ids=["audit-hook", "os-only"])
pytestmark = pytest.mark.usefixtures("bwrap_sandbox")  # skips, saying why, where bwrap cannot run

# Helpers the hostile code gets. spawn() runs a program without subprocess, os.system or posix_spawn, so
# no audit event fires: _posixsubprocess.fork_exec with the argument list of the running Python version.
HELPERS = '''
import _posixsubprocess, os, sys

def tried(action):
    """True when the action got through; False when the OS (or the hook) refused it."""
    try:
        print(action())
    except OSError:
        return False
    return True

def read(path):
    try:
        return open(path, "rb").read().decode("latin-1")
    except OSError:
        return ""

def spawn(argv):
    """Run argv, return (exit status, stdout bytes, exec error bytes)."""
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    head = [[os.fsencode(a) for a in argv], [os.fsencode(argv[0])], True, (err_w,), None, None,
            -1, -1, -1, out_w, -1, -1, err_r, err_w, True, False]
    tail = [None, None, None, -1, None]               # gid, extra groups, uid, umask, preexec_fn
    for args in (head + [-1] + tail + [False], head + [-1] + tail, head + tail):  # 3.12+, 3.11, 3.10
        try:
            pid = _posixsubprocess.fork_exec(*args)
            break
        except TypeError:
            continue
    os.close(out_w)
    os.close(err_w)
    failed = os.read(err_r, 4096)
    chunks = []
    while True:
        chunk = os.read(out_r, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    _, status = os.waitpid(pid, 0)
    return status, b"".join(chunks), failed

def ran(argv):
    """spawn(argv)'s output; OSError when it could not start or exited non-zero."""
    status, out, err = spawn(argv)
    if status or err:
        raise OSError(f"{argv[0]}: status {status}, {err!r}")
    return out
'''


class Host:
    """What the attacks aim at, on the host: folders, files, a process with a secret, a shadow file."""

    def __init__(self, tmp_path: Path):
        self.marker = tmp_path / "marker"
        self.marker.mkdir()
        self.vault = tmp_path / "vault"
        self.vault.mkdir()
        self.victim = self.vault / "victim.txt"
        self.victim_text = "victim-content-" + secrets.token_hex(8)
        self.victim.write_text(self.victim_text)
        self.secret = "s3cret-" + secrets.token_hex(16)
        self.secret_file = self.vault / "token"
        self.secret_file.write_text(f"REWARDLAB_TEST_SECRET={self.secret}\n")
        self.secret_file.chmod(0o600)
        # A host process (think: the trainer) that got the secret in its environment at start.
        self.process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"],
                                        env={"REWARDLAB_TEST_SECRET": self.secret, "PATH": "/usr/bin:/bin"})
        self.pid = self.process.pid

    def names(self) -> dict[str, str]:
        return {"MARKER": str(self.marker), "VAULT": str(self.vault), "VICTIM": str(self.victim),
                "SECRET_FILE": str(self.secret_file), "VICTIM_PID": str(self.pid), "HOST_PID": str(_own_pid())}

    def unharmed(self, *texts: str) -> None:
        assert sorted(p.name for p in self.marker.iterdir()) == [], "the code wrote into the host folder"
        assert self.victim.read_text() == self.victim_text, "the victim file was changed"
        assert sorted(p.name for p in self.vault.iterdir()) == ["token", "victim.txt"]
        assert self.process.poll() is None, "the host process was killed"
        for text in texts:
            assert self.secret not in text, "the host's secret came back to the caller"
            assert self.victim_text not in text, "the victim file's content came back to the caller"

    def close(self) -> None:
        self.process.kill()
        self.process.wait()


def _own_pid() -> int:
    import os

    return os.getpid()


@pytest.fixture
def host(tmp_path, monkeypatch):
    monkeypatch.setenv("REWARDLAB_TEST_SECRET", "also-in-the-test-process")
    target = Host(tmp_path)
    yield target
    target.close()


def attack(host: Host, code: str, hook: bool, tests=("assert escaped",), **limits):
    """Run ``code`` (with the helpers, and the host's paths and pids as globals) in the sandbox; return
    (score, everything the caller can see as one string)."""
    prelude = "".join(f"{k} = {v!r}\n" for k, v in host.names().items())
    settings = dict(wall_seconds=8.0, cpu_seconds=2, memory_mb=512, processes=16)
    settings.update(limits)
    if not hook:
        settings["audit_hook"] = False
    outcome = run_python(prelude + HELPERS + code, list(tests), limits=SandboxLimits(**settings))
    score = CodeRule(Options("code", {})).judge(outcome, len(tests))
    seen = " ".join([repr(score), repr(outcome.results), str(outcome.error), outcome.stderr_tail])
    return score, seen


def contained(host: Host, code: str, hook: bool, ran_through: bool = True, **limits):
    """The attack scores 0 and leaves the host unharmed; returns the score for further checks.
    ``ran_through``: the attack code ran to its end (every attempt was made) and only ``assert escaped``
    failed, so a typo that stops it early cannot pass for containment."""
    score, seen = attack(host, code, hook, **limits)
    assert score.value == 0.0, score
    if ran_through:
        assert "test 0 failed: AssertionError" in score.rationale, score
    host.unharmed(seen)
    return score


@HOOK
def test_dir_fd_write_and_remove_stay_inside(host, hook):
    contained(host, """
def plant():
    return os.write(os.open("planted.txt", os.O_WRONLY | os.O_CREAT, dir_fd=os.open(MARKER, os.O_RDONLY)), b"x")
escaped = any([tried(plant), tried(lambda: os.remove("victim.txt", dir_fd=os.open(VAULT, os.O_RDONLY)))])
""", hook)


@HOOK
def test_fork_exec_of_a_shell_and_of_python(host, hook):
    contained(host, """
shell = ["/bin/sh", "-c", "touch " + MARKER + "/from-sh"]
python = [sys.executable, "-c", "open(%r, 'w').write('x')" % (MARKER + "/from-python")]
escaped = any([tried(lambda: ran(shell)), tried(lambda: ran(python))])
""", hook)


@HOOK
def test_reading_host_environments_comes_back_empty(host, hook):
    contained(host, """
pids = [VICTIM_PID, HOST_PID, "1", str(os.getppid()), "self"] + [p for p in os.listdir("/proc") if p.isdigit()]
paths = ["/proc/%s/environ" % p for p in pids] + ["/proc/self/root/proc/%s/environ" % p for p in pids]
found = [text for text in map(read, paths) if "REWARDLAB_TEST_SECRET=s3cret" in text]
print(found)
print(found, file=sys.stderr)
escaped = bool(found)
assert not found, found[0][found[0].find("REWARDLAB_TEST_SECRET"):][:80] if found else ""
""", hook)


@HOOK
def test_reading_host_files_comes_back_empty(host, hook):
    shadow = Path("/etc/shadow")
    shadow_text = shadow.read_text() if shadow.exists() else ""
    score, seen = attack(host, """
found = [text[:90] for text in map(read, ["/etc/shadow", SECRET_FILE, VICTIM, "/proc/self/root" + SECRET_FILE]) if text]
print(found)
print(found, file=sys.stderr)
escaped = bool(found)
assert not found, " | ".join(found)
""", hook)
    assert score.value == 0.0 and "test 0 failed: AssertionError" in score.rationale, score
    host.unharmed(seen)
    for line in shadow_text.splitlines():
        if ":" in line and len(line.split(":")[1]) > 3:  # a line with a password hash
            assert line.split(":")[1] not in seen, "/etc/shadow came back to the caller"
    assert "root:" not in seen


@HOOK
def test_many_files_under_the_per_file_cap_cannot_fill_the_disk(host, hook):
    score = contained(host, """
chunk = b"x" * (8 << 20)
for i in range(32):                       # 256 MB in files of 8 MB, each under the 16 MB file cap
    with open("fill-%d" % i, "wb") as f:
        f.write(chunk)
escaped = True
""", hook, ran_through=False)
    assert "No space left on device" in score.rationale


@HOOK
def test_symlinks_out_of_the_work_dir(host, hook):
    contained(host, """
for target, link in ((MARKER, "out"), (SECRET_FILE, "token"), ("/proc/%s/environ" % VICTIM_PID, "env")):
    tried(lambda: os.symlink(target, link))
escaped = any([tried(lambda: open("out/planted.txt", "w").write("x")), tried(lambda: open("token").read()),
               tried(lambda: open("env").read()),   # and a relative link planted in the host folder by its fd:
               tried(lambda: os.symlink("victim.txt", "planted-link", dir_fd=os.open(MARKER, os.O_RDONLY)))])
""", hook)


@HOOK
def test_link_and_rename_cannot_move_host_files(host, hook):
    contained(host, """
def vault():
    return os.open(VAULT, os.O_RDONLY)
escaped = any([tried(lambda: os.link(VICTIM, "hard")), tried(lambda: os.rename(VICTIM, "stolen")),
               tried(lambda: os.link("victim.txt", "hard2", src_dir_fd=vault())),
               tried(lambda: os.rename("victim.txt", "stolen2", src_dir_fd=vault()))])
for name in ("hard", "stolen", "hard2", "stolen2"):
    if tried(lambda: open(name).read()):
        tried(lambda: open(name, "a").write("tampered"))
""", hook)


@HOOK
def test_proc_self_root_leads_nowhere(host, hook):
    contained(host, """
def plant(root):
    relative = MARKER.lstrip("/") + "/planted.txt"
    return os.write(os.open(relative, os.O_WRONLY | os.O_CREAT, dir_fd=os.open(root, os.O_RDONLY)), b"x")
roots = ("/proc/self/root", "/proc/1/root", "/proc/%s/root" % VICTIM_PID)
escaped = any([tried(lambda: plant(root)) for root in roots] +
              [tried(lambda: open(root + SECRET_FILE).read()) for root in roots])
""", hook)


@HOOK
def test_signals_reach_no_host_process(host, hook):
    contained(host, """
import signal
for pid in (os.getppid(), 1, -1):          # the sandbox's own: harmless, but tried
    tried(lambda: os.kill(pid, signal.SIGKILL))
hits = []
for pid in (int(VICTIM_PID), int(HOST_PID)):
    hits += [tried(lambda: os.kill(pid, signal.SIGKILL)),
             tried(lambda: signal.pidfd_send_signal(os.pidfd_open(pid), signal.SIGKILL)),
             tried(lambda: ran(["/bin/kill", "-9", str(pid)])),
             tried(lambda: ran([sys.executable, "-c", "import os; os.kill(%d, 9)" % pid]))]
escaped = any(hits)
""", hook)


@HOOK
def test_spawned_python_without_the_hook_is_still_contained(host, hook):
    contained(host, """
child = "open(%r, 'w').write('x'); print(open('/proc/%s/environ').read()); print(open(%r).read())"
out = ran([sys.executable, "-c", child % (MARKER + "/from-child", VICTIM_PID, SECRET_FILE)])
escaped = True
assert escaped, out.decode(errors="replace")[-150:]
""", hook, ran_through=False)


@HOOK
def test_ctypes_reaches_no_host_file_and_no_user_namespace(host, hook):
    contained(host, """
import ctypes
try:
    libc = ctypes.CDLL(None, use_errno=True)
except OSError:
    libc = None
escaped = libc is not None and any([
    libc.open((MARKER + "/planted.txt").encode(), os.O_WRONLY | os.O_CREAT, 0o644) >= 0,
    libc.open(SECRET_FILE.encode(), os.O_RDONLY) >= 0,
    libc.unshare(0x10000000) == 0,          # CLONE_NEWUSER: then mount a tmpfs with no size cap
    libc.mount(b"none", b"/sandbox", b"tmpfs", 0, None) == 0])
""", hook)


class Listener:
    """A real TCP server on the host that records every connection it accepts."""

    def __init__(self, family: int, address):
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.bind(address)
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.address = self.sock.getsockname()
        self.accepted: list = []
        self.running = True
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while self.running:
            with contextlib.suppress(OSError):
                conn, _ = self.sock.accept()
                self.accepted.append(conn.recv(100))
                conn.close()

    def close(self) -> list:
        self.running = False
        self.thread.join()
        self.sock.close()
        return self.accepted


def _outside_address() -> str | None:
    """This machine's address on its default route (no packet is sent), or None with no such route."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("192.0.2.1", 9))
        address = probe.getsockname()[0]
    except OSError:
        return None
    finally:
        probe.close()
    return None if address.startswith("127.") else address


@HOOK
def test_no_connection_reaches_the_host_or_beyond(host, hook, tmp_path):
    loopback = Listener(socket.AF_INET, ("127.0.0.1", 0))
    everywhere = Listener(socket.AF_INET, ("0.0.0.0", 0))
    unix_path = str(tmp_path / "host.sock")
    unix = Listener(socket.AF_UNIX, unix_path)
    outside = _outside_address()
    targets = [("inet", "127.0.0.1", loopback.address[1]), ("inet", "127.0.0.1", everywhere.address[1]),
               ("unix", unix_path, 0), ("inet", "1.1.1.1", 53), ("name", "example.com", 80)]
    if outside:
        targets.append(("inet", outside, everywhere.address[1]))
    client = ("import socket, sys\n"
              "def connect(kind, where, port):\n"
              "    if kind == 'name':\n        kind, where = 'inet', socket.gethostbyname(where)\n"
              "    s = socket.socket(socket.AF_UNIX if kind == 'unix' else socket.AF_INET)\n"
              "    s.settimeout(2)\n"
              "    s.connect(where if kind == 'unix' else (where, port))\n"
              "    s.sendall(b'from-the-sandbox')\n"
              "if __name__ == '__main__' and len(sys.argv) == 4:\n"
              "    connect(sys.argv[1], sys.argv[2], int(sys.argv[3]))\n")
    code = f"""
targets = {targets!r}
client = {client!r}
namespace = {{"__name__": "client"}}
exec(client, namespace)
hits = []
for kind, where, port in targets:
    hits += [tried(lambda: namespace["connect"](kind, where, port)),                     # from Python (the hook)
             tried(lambda: ran([sys.executable, "-c", client, kind, where, str(port)]))]  # from a program without it
escaped = any(hits)
"""
    try:
        attempt, seen = attack(host, code, hook, wall_seconds=20.0)
    finally:
        accepted = loopback.close() + everywhere.close() + unix.close()
    assert attempt.value == 0.0 and "test 0 failed: AssertionError" in attempt.rationale, attempt
    assert accepted == [], f"the host accepted connections from the sandbox: {accepted}"
    host.unharmed(seen)


def _sandbox_processes() -> list[int]:
    alive = []
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError):
            if entry.name.isdigit() and b"_sandbox_child.py" in (entry / "cmdline").read_bytes():
                alive.append(int(entry.name))
    return alive


@HOOK
def test_fork_bomb_with_escaping_sessions_leaves_nothing(host, hook):
    contained(host, """
import time
while True:
    try:
        if os.fork() == 0:
            os.setsid()                    # leave the process group the host kills
            time.sleep(120)
            os._exit(0)
    except OSError:
        pass
""", hook, ran_through=False, wall_seconds=3.0, cpu_seconds=1)
    assert _sandbox_processes() == []


@HOOK
def test_infinite_loop_and_huge_allocation(host, hook):
    loop = contained(host, "escaped = True\nwhile True:\n    pass", hook, ran_through=False, cpu_seconds=1)
    assert "CPU time limit" in loop.rationale, loop
    big = contained(host, "x = bytearray(64 * 1024 ** 3)\nescaped = True", hook, ran_through=False)
    assert "MemoryError" in big.rationale, big
    assert _sandbox_processes() == []


def test_rationale_is_only_the_capped_assertion_message():
    """A failing test's message reaches the rationale cut to 200 characters, and program output never."""
    noisy = "print('stdout-dump-' * 1000)\nimport sys\nprint('stderr-dump', file=sys.stderr)\nvalue = 1"
    outcome = run_python(noisy, ["assert value == 2, 'm' * 5000", "assert value == 1"])
    score = CodeRule(Options("code", {})).judge(outcome, 2)
    assert score.value == 0.5
    message = score.rationale.split("failed: ", 1)[1]
    assert message.startswith("AssertionError: mmm") and len(message) <= 200
    assert "stdout-dump" not in score.rationale and "stderr-dump" not in score.rationale
    io = run_python("print('secret-output-' + input())", io_cases=[{"input": "x", "output": "y"}])
    io_score = CodeRule(Options("code", {})).judge(io, 1)
    assert io_score.value == 0.0 and "secret-output" not in io_score.rationale
    assert "wrong output on case 0" in io_score.rationale
