"""A seccomp filter that stops sandboxed code from creating user namespaces (bwrap ``--seccomp FD``).

When rewardlab runs as root, bwrap runs privileged without a user namespace and the harness drops to a
fresh unprivileged uid, so bwrap's own ``--disable-userns`` (which needs ``--unshare-user``) is not
available. Without this filter the code could still create a user namespace of its own (the kernel lets
unprivileged users do so) and, inside it, mount a tmpfs with no size cap, outside the sandbox's disk
budget. The filter answers EPERM to ``unshare`` / ``clone`` with ``CLONE_NEWUSER`` and ENOSYS to
``clone3`` (whose flags sit in memory a filter cannot read; glibc then falls back to ``clone``), and
refuses system calls of any other ABI (i386 / x32 on x86-64). Everything else is allowed: the OS
boundary is bwrap's namespaces and mounts, this only closes the one door they leave open.

The program is classic BPF over ``struct seccomp_data`` (nr at 0, arch at 4, args at 16 + 8 * i, little
endian), see seccomp(2). Only x86-64 and aarch64 are known; elsewhere `program()` returns None.
"""

from __future__ import annotations

import errno
import platform
import struct

CLONE_NEWUSER = 0x10000000
X32_SYSCALL_BIT = 0x40000000
_ARCHES = {  # machine: (AUDIT_ARCH_*, unshare, clone, clone3)
    "x86_64": (0xC000003E, 272, 56, 435),
    "aarch64": (0xC00000B7, 97, 220, 435),
}
_LD_W_ABS, _JEQ_K, _JGE_K, _JSET_K, _RET_K = 0x20, 0x15, 0x35, 0x45, 0x06
_ALLOW, _ERRNO = 0x7FFF0000, 0x00050000


def _insn(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


def program(machine: str | None = None) -> bytes | None:
    """The filter as bytes for bwrap's ``--seccomp FD``, or None on an architecture not listed."""
    known = _ARCHES.get(machine or platform.machine())
    if known is None:
        return None
    arch, unshare, clone, clone3 = known
    deny, nosys = _ERRNO | errno.EPERM, _ERRNO | errno.ENOSYS
    return b"".join([
        _insn(_LD_W_ABS, 4),                   # 0: A = arch
        _insn(_JEQ_K, arch, 0, 8),             # 1: a foreign ABI -> 10 (deny)
        _insn(_LD_W_ABS, 0),                   # 2: A = syscall number
        _insn(_JGE_K, X32_SYSCALL_BIT, 6, 0),  # 3: x32 -> 10 (deny)
        _insn(_JEQ_K, clone3, 6, 0),           # 4: clone3 -> 11 (ENOSYS)
        _insn(_JEQ_K, unshare, 1, 0),          # 5: unshare -> 7
        _insn(_JEQ_K, clone, 0, 2),            # 6: clone -> 7; any other call -> 9 (allow)
        _insn(_LD_W_ABS, 16),                  # 7: A = low word of the flags argument
        _insn(_JSET_K, CLONE_NEWUSER, 1, 0),   # 8: a new user namespace -> 10 (deny)
        _insn(_RET_K, _ALLOW),                 # 9
        _insn(_RET_K, deny),                   # 10
        _insn(_RET_K, nosys),                  # 11
    ])
