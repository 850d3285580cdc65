"""The harness that runs untrusted code for `rewardlab.rewards.rules.sandbox`. Standard library only.

Started as ``python -I _sandbox_child.py`` (inside bwrap, or as a plain subprocess with ``unsafe=true``)
with a JSON job on stdin. In order, before any untrusted code runs:
1. when the job names a uid (bwrap started as root): drop every group, then to that fresh uid, and check
   that no capability is left; any failure stops the run;
2. rlimits: CPU seconds, address space, processes, file size, open files, no core dumps;
3. a ``sys.addaudithook`` hook (cannot be removed once added) refusing sockets, writes outside the work
   dir, new programs, ctypes loads and signals. Defence in depth only: the boundary is the OS (bwrap's
   namespaces and read-only mounts); a program started without Python, or ctypes, never sees the hook.
The report goes to stdout as one line prefixed with a per-run nonce, after the solution and tests ran.
Failure messages are the exception's type and message only, cut short; the host cuts them again.
"""

import json
import os
import resource
import sys

MESSAGE_CHARS = 200


def drop_privileges(uid):
    """Become ``uid`` (group ``uid``, no supplementary groups); verify no capability survived."""
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)
    if os.getuid() != uid or os.geteuid() != uid or os.getgid() != uid:
        raise RuntimeError("the uid switch did not take")
    with open("/proc/self/status") as f:
        caps = {line.split(":")[0]: int(line.split(":")[1], 16) for line in f if line.startswith("Cap")}
    if caps.get("CapEff") or caps.get("CapPrm") or caps.get("CapAmb"):
        raise RuntimeError(f"capabilities survived the uid switch: {caps}")


def own_process_count():
    """Processes of this real uid visible now (for a plain subprocess, where RLIMIT_NPROC counts them all)."""
    uid, count = os.getuid(), 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    count += 1
            except OSError:
                pass
    return count


def set_limits(limits, count_own_processes):
    mb = 1024 * 1024
    cpu = int(limits["cpu_seconds"])
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_AS, (limits["memory_mb"] * mb, limits["memory_mb"] * mb))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits["file_mb"] * mb, limits["file_mb"] * mb))
    resource.setrlimit(resource.RLIMIT_NOFILE, (limits["open_files"], limits["open_files"]))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    # Inside bwrap this uid (fresh, or in its own user namespace) has no other process, so the count is
    # exact. The kernel does not apply RLIMIT_NPROC to root: only the unsafe backend runs code as root.
    n = limits["processes"] + (own_process_count() if count_own_processes else 0)
    resource.setrlimit(resource.RLIMIT_NPROC, (n, n))


def install_guard(root):
    """Deny, through the audit hook, what the code must not do from Python.

    ctypes is imported first so that libraries which import it (numpy does) keep working, while any new
    library load or symbol lookup through it is refused.
    """
    import ctypes  # noqa: F401
    root = os.path.realpath(root)
    write_events = {"os.remove", "os.rmdir", "os.mkdir", "os.rename", "os.chmod", "os.chown", "os.link",
                    "os.symlink", "os.truncate", "os.utime", "shutil.rmtree", "shutil.copyfile",
                    "shutil.move", "sqlite3.connect", "os.chflags", "os.mkfifo", "os.mknod"}
    denied = {"socket.__new__", "socket.connect", "socket.bind", "socket.getaddrinfo", "os.system",
              "os.exec", "os.posix_spawn", "os.spawn", "subprocess.Popen", "ctypes.dlopen", "ctypes.dlsym",
              "os.kill", "os.killpg", "pty.spawn", "os.setuid", "os.setgid"}

    def inside(path):
        if isinstance(path, int):
            return True  # an already-open descriptor: its opening was checked
        if isinstance(path, bytes):
            path = os.fsdecode(path)
        real = os.path.realpath(os.path.join(os.getcwd(), os.fspath(path)))
        return real == root or real.startswith(root + os.sep) or real == "/dev/null"

    def hook(event, args):
        if event in denied:
            raise PermissionError(f"sandbox: {event} is not allowed")
        if event == "open":
            path, mode, flags = args
            writing = (mode and any(c in str(mode) for c in "wax+")) or (
                isinstance(flags, int) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC))
            if writing and path is not None and not inside(path):
                raise PermissionError(f"sandbox: writing {path!r} outside the sandbox directory")
        elif event in write_events:
            for path in args[:2]:
                if isinstance(path, (str, bytes, os.PathLike)) and not inside(path):
                    raise PermissionError(f"sandbox: {event} on {path!r} outside the sandbox directory")

    sys.addaudithook(hook)


def describe(exc):
    """``Type: message`` on one line, cut short: what the test said, never a dump of anything else."""
    text = " ".join(f"{type(exc).__name__}: {exc}".split()) if str(exc) else type(exc).__name__
    return text[:MESSAGE_CHARS]


def run_tests(job, ns):
    """Execute the solution, then each test; returns per-test outcomes (True or a failure message)."""
    import contextlib
    import io

    results = []
    if job["tests"]:  # assert-style tests need the solution's names; stdin/stdout cases run it per case
        try:
            exec(compile(job["code"], "<solution>", "exec"), ns)
        except BaseException as exc:  # SystemExit and KeyboardInterrupt too: the code failed to load
            return {"loaded": False, "error": f"the code failed to run: {describe(exc)}", "results": []}
    for i, test in enumerate(job["tests"]):
        try:
            exec(compile(test, f"<test {i}>", "exec"), dict(ns))
            results.append(True)
        except BaseException as exc:
            results.append(describe(exc))
    for i, case in enumerate(job["io"]):
        out = io.StringIO()
        try:
            with contextlib.redirect_stdout(out):
                sys.stdin = io.StringIO(case["input"])
                exec(compile(job["code"], "<solution>", "exec"), {"__name__": "__main__"})
            same = out.getvalue().split() == case["output"].split()
            results.append(True if same else f"wrong output on case {i}")
        except BaseException as exc:
            results.append(describe(exc))
    return {"loaded": True, "error": None, "results": results}


def main():
    job = json.loads(sys.stdin.read())
    nonce = job.pop("nonce")
    sys.stdin = open(os.devnull)  # noqa: SIM115 (lives as long as the process)
    try:
        if job["uid"] is not None:
            drop_privileges(job["uid"])
        set_limits(job["limits"], job["count_own_processes"])
        os.chdir(job["dir"])
        os.environ.update({"HOME": job["dir"], "TMPDIR": job["dir"]})
        if job["audit_hook"]:
            install_guard(job["dir"])
    except Exception as exc:
        report = {"loaded": False, "error": f"sandbox setup failed: {describe(exc)}", "results": []}
    else:
        report = run_tests(job, {"__name__": "__main__"})
    sys.stdout.flush()
    os.write(1, ("\n" + nonce + json.dumps(report) + "\n").encode())


if __name__ == "__main__":
    main()
