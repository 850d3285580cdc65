"""The bubblewrap (``bwrap``) command line that runs the sandbox harness: the OS-level boundary.

What the code inside sees and can do:
- a root made of read-only binds of only what the interpreter needs: the Python installation (prefix
  with its stdlib and site-packages), the system libraries (``/usr/lib``, ``/lib*``), ``/etc/ld.so.cache``
  and the harness script. Nothing else: no ``/root``, ``/home``, ``/work``, ``/tmp``, ``/etc/shadow``,
  no ``/bin/sh``; the root, ``/dev`` and every bind are read-only;
- one writable place, ``/sandbox`` (also ``/tmp``, ``HOME``, ``TMPDIR``, the working dir): a private tmpfs
  capped at ``disk_mb``, gone when the run ends;
- new PID (with its own ``/proc``), network (no interface but its own loopback), IPC, UTS, cgroup and,
  when not root, user namespaces; a cleared environment; a new session (no terminal); killed when the
  process that started it dies (``--die-with-parent``);
- an unprivileged uid. Not root: bwrap maps the caller into a user namespace (``--disable-userns``: no
  nested one). Root: bwrap runs privileged without a user namespace (a namespace would map to host root,
  which the kernel exempts from the process limit), keeps only CAP_SETUID/CAP_SETGID, and the harness
  drops at once to a fresh uid no other process has, so RLIMIT_NPROC counts this run alone and every
  capability is gone; a seccomp filter (`rewardlab.rewards.rules.seccomp`) stops it making user
  namespaces. bwrap sets no_new_privs, so nothing can regain privileges through exec.
"""

from __future__ import annotations

import functools
import os
import secrets
import shutil
import sys
from collections.abc import Iterable
from pathlib import Path

BWRAP_ENV = "REWARDLAB_BWRAP"
WORKDIR = "/sandbox"
HARNESS_INSIDE = "/run/rewardlab/_sandbox_child.py"
INSTALL_HINT = ("install bubblewrap: `apt-get install bubblewrap` (Debian/Ubuntu), `dnf install bubblewrap` "
                "(Fedora), `apk add bubblewrap` (Alpine)")
SYSTEM_PREFIXES = {"/", "/usr", "/usr/local"}
LIBRARY_DIRS = ("/lib", "/lib64", "/lib32", "/libx32", "/usr/lib", "/usr/lib64", "/usr/lib32", "/usr/libx32")
FRESH_UID_BASE, FRESH_UID_SPAN = 2_000_000_000, 100_000_000
ENVIRONMENT = {"HOME": WORKDIR, "TMPDIR": WORKDIR, "LANG": "C.UTF-8", "PATH": "/usr/bin:/bin",
               "PYTHONDONTWRITEBYTECODE": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
               "MKL_NUM_THREADS": "1"}


def executable() -> str | None:
    """The bwrap binary (``$REWARDLAB_BWRAP`` when set, else from PATH), or None when it is not there."""
    chosen = os.environ.get(BWRAP_ENV)
    if chosen:
        return chosen if os.access(chosen, os.X_OK) else None
    return shutil.which("bwrap") or next((p for p in ("/usr/bin/bwrap", "/bin/bwrap") if os.access(p, os.X_OK)),
                                         None)


def privileged() -> bool:
    """Root runs bwrap without a user namespace and drops to a fresh uid inside (see the module doc)."""
    return os.geteuid() == 0


def fresh_uid() -> int:
    """An unprivileged uid that no account or process uses, new for each run."""
    return FRESH_UID_BASE + secrets.randbelow(FRESH_UID_SPAN)


@functools.lru_cache(maxsize=1)
def interpreter() -> tuple[str, tuple[str, ...]]:
    """(the base Python binary, the host paths it needs read-only): its prefix, or for a system Python
    (prefix /usr or /usr/local) the binary, the prefix's lib dir and Debian's /usr/local dist-packages."""
    binary = os.path.realpath(getattr(sys, "_base_executable", None) or sys.executable)
    paths = {binary}
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for prefix in {os.path.realpath(sys.base_prefix), os.path.realpath(sys.base_exec_prefix)}:
        if prefix in SYSTEM_PREFIXES:
            paths.update(p for p in (f"{prefix.rstrip('/')}/lib/{version}", f"/usr/local/lib/{version}")
                         if os.path.isdir(p))
        else:
            paths.add(prefix)
    return binary, tuple(sorted(_outermost(paths)))


def _outermost(paths: Iterable[str]) -> list[str]:
    """Drop paths that lie inside another path of the set (their bind would be redundant)."""
    ordered = sorted(set(paths))
    return [p for p in ordered if not any(p != q and p.startswith(q.rstrip("/") + "/") for q in ordered)]


def _mount_args(binds: list[tuple[str, str]]) -> list[str]:
    """``--ro-bind`` each (source, dest) in path order, creating every missing parent dir as 0755 first
    (bwrap would make it 0700 when privileged, and the dropped uid could not walk into it)."""
    args: list[str] = []
    made: set[str] = {"/"}
    for source, dest in sorted(binds, key=lambda b: b[1]):
        for parent in reversed(Path(dest).parents):
            if str(parent) not in made:
                args += ["--perms", "0755", "--dir", str(parent)]
                made.add(str(parent))
        args += ["--ro-bind", source, dest]
        made.add(dest)
    return args


def _library_args() -> tuple[list[tuple[str, str]], list[str]]:
    """System library dirs: binds for real dirs, ``--symlink`` for merged-/usr links such as /lib -> usr/lib."""
    binds, links = [], []
    for path in LIBRARY_DIRS:
        if os.path.islink(path):
            links += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            binds.append((path, path))
    return binds, links


def command(harness: str, disk_mb: int, seccomp_fd: int | None) -> list[str]:
    """The full bwrap argv that runs ``harness`` (a host path) under the interpreter in the sandbox."""
    bwrap = executable()
    if bwrap is None:
        raise FileNotFoundError(f"bwrap is not installed; {INSTALL_HINT}")
    binary, python_paths = interpreter()
    lib_binds, links = _library_args()
    binds = [*lib_binds, *((p, p) for p in python_paths), (harness, HARNESS_INSIDE)]
    if os.path.isfile("/etc/ld.so.cache"):
        binds.append(("/etc/ld.so.cache", "/etc/ld.so.cache"))
    covered = _outermost(dest for _, dest in binds)
    binds = [b for b in binds if b[1] in covered]
    if privileged():
        isolation = ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try",
                     "--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
        if seccomp_fd is not None:
            isolation += ["--seccomp", str(seccomp_fd)]
    else:
        isolation = ["--unshare-all", "--unshare-user", "--disable-userns", "--uid", "65534", "--gid", "65534",
                     "--cap-drop", "ALL"]
    env = [arg for key, value in ENVIRONMENT.items() for arg in ("--setenv", key, value)]
    return [bwrap, *isolation, "--hostname", "sandbox", "--die-with-parent", "--new-session", "--clearenv",
            *env, *_mount_args(binds), *links, "--proc", "/proc", "--dev", "/dev",
            "--perms", "1777", "--size", str(disk_mb * 1024 * 1024), "--tmpfs", WORKDIR,
            "--symlink", WORKDIR.lstrip("/"), "/tmp", "--remount-ro", "/dev", "--remount-ro", "/",
            "--chdir", WORKDIR, "--", binary, "-I", HARNESS_INSIDE]
