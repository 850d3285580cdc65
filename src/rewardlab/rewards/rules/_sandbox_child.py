"""The process that runs untrusted code for `rewardlab.rewards.rules.sandbox`. Standard library only.

Started as ``python -I _sandbox_child.py`` with a JSON job on stdin. Containment, outermost first:
1. (host side) a new session, so a wall-clock timeout kills the whole process group. The process cap:
   RLIMIT_NPROC, which the kernel does not apply to root; so as root a pids cgroup, or where none can be
   made, running as ``nobody`` (when the interpreter is readable by other users).
2. New network and PID namespaces when the kernel allows (``unshare``; as root, or through an
   unprivileged user namespace): no interface but a downed loopback, and when the namespace's first
   process exits every process left inside it is killed, so a fork bomb cannot outlive the run.
3. rlimits: CPU seconds, address space, processes (not as root), file size, open files, no core dumps.
4. A ``sys.addaudithook`` hook (cannot be removed once added): no socket creation, no writes, renames or
   deletions outside the temp dir, no new programs (exec, system, posix_spawn), no ctypes loading.
   This also blocks the network where namespaces are unavailable. It guards the Python-level doors;
   layers 1-3 are what the kernel enforces.
The report goes to stdout as one line prefixed with a per-run nonce, after the solution and tests ran.
"""

import json
import os
import resource
import sys

CLONE_NEWNET = 0x40000000
CLONE_NEWPID = 0x20000000
CLONE_NEWUSER = 0x10000000


def unshare_namespaces():
    """Enter new network + PID namespaces; returns a label of what was obtained ('' when none)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        flags = CLONE_NEWNET | CLONE_NEWPID
        if libc.unshare(flags) == 0:
            return "netns+pidns"
        if libc.unshare(flags | CLONE_NEWUSER) == 0:
            return "userns+netns+pidns"
    except Exception:
        pass
    return ""


def own_process_count():
    """Processes owned by this real uid right now (RLIMIT_NPROC counts them all, not just ours)."""
    uid, count = os.getuid(), 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    count += 1
            except OSError:
                pass
    return count


def set_limits(limits):
    mb = 1024 * 1024
    cpu = int(limits["cpu_seconds"])
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_AS, (limits["memory_mb"] * mb, limits["memory_mb"] * mb))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits["file_mb"] * mb, limits["file_mb"] * mb))
    resource.setrlimit(resource.RLIMIT_NOFILE, (limits["open_files"], limits["open_files"]))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if os.geteuid() != 0:  # root ignores RLIMIT_NPROC; the host side uses a pids cgroup instead
        n = own_process_count() + limits["processes"]
        resource.setrlimit(resource.RLIMIT_NPROC, (n, n))


def install_guard(root, block_network=True):
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

    if not block_network:  # only to check the network namespace on its own
        denied -= {"socket.__new__", "socket.connect", "socket.bind", "socket.getaddrinfo"}

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


def run_tests(job, ns):
    """Execute the solution, then each test; returns per-test outcomes (True or an error string)."""
    import contextlib
    import io
    import traceback

    def describe(exc):
        line = traceback.format_exception_only(type(exc), exc)[-1].strip()
        return line[:300]

    results = []
    if job["tests"]:  # assert-style tests need the solution's names; stdin/stdout cases run it per case
        try:
            exec(compile(job["code"], "<solution>", "exec"), ns)
        except BaseException as exc:  # SystemExit and KeyboardInterrupt too: the code failed to load
            return {"loaded": False, "error": describe(exc), "results": []}
    for i, test in enumerate(job["tests"]):
        try:
            exec(compile(test, f"<test {i}>", "exec"), dict(ns))
            results.append(True)
        except BaseException as exc:
            results.append(describe(exc))
    for case in job["io"]:
        out = io.StringIO()
        try:
            with contextlib.redirect_stdout(out):
                sys.stdin = io.StringIO(case["input"])
                exec(compile(job["code"], "<solution>", "exec"), {"__name__": "__main__"})
            same = out.getvalue().split() == case["output"].split()
            results.append(True if same else f"wrong output: {out.getvalue()[:80]!r}")
        except BaseException as exc:
            results.append(describe(exc))
    return {"loaded": True, "error": None, "results": results}


def workload(job, nonce, isolation):
    if job["drop_to"] is not None and os.geteuid() == 0:  # root without a cgroup: become nobody so that
        uid, gid = job["drop_to"]                            # RLIMIT_NPROC applies
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)
    set_limits(job["limits"])
    os.chdir(job["dir"])
    os.environ.update({"HOME": job["dir"], "TMPDIR": job["dir"]})
    install_guard(job["dir"], job["audit_network"])
    report = run_tests(job, {"__name__": "__main__"})
    report["isolation"] = isolation
    sys.stdout.flush()
    os.write(1, ("\n" + nonce + json.dumps(report) + "\n").encode())


def main():
    job = json.loads(sys.stdin.read())
    nonce = job.pop("nonce")
    sys.stdin = open(os.devnull)  # noqa: SIM115 (lives as long as the process)
    if job["cgroup"]:
        with open(os.path.join(job["cgroup"], "cgroup.procs"), "w") as f:
            f.write(str(os.getpid()))
    namespaces = unshare_namespaces() if job["namespaces"] else ""
    isolation = {"namespaces": namespaces, "process_cap": job["process_cap"], "audit_hook": True}
    if "pidns" not in namespaces:
        workload(job, nonce, isolation)
        return
    # The outer process stays in the host namespace and relays the exit status. Its child is PID 1 of the
    # new namespace: a bare reaper, because PID 1 ignores default-action signals such as SIGXCPU and
    # because when it exits the kernel kills every process left inside (fork bombs included).
    pid = os.fork()
    if pid == 0:
        os._exit(_reap(os.fork(), job, nonce, isolation))
    sys.exit(_exit_code(os.waitpid(pid, 0)[1]))


def _reap(pid, job, nonce, isolation):
    if pid == 0:
        code = 1
        try:
            workload(job, nonce, isolation)
            code = 0
        finally:
            os._exit(code)
    return _exit_code(os.waitpid(pid, 0)[1])


def _exit_code(status):
    """A wait status as an exit code, with death by signal N relayed as 128 + N (as shells do)."""
    code = os.waitstatus_to_exitcode(status)
    return code if code >= 0 else 128 - code

if __name__ == "__main__":
    main()
