"""Run a command on a kernel that seems to have no Landlock (for tests).

A seccomp filter makes ``landlock_create_ruleset`` (444 on x86_64 and
aarch64) fail with ENOSYS, exactly as on a kernel built without Landlock,
for the process and everything it starts. Used as a ``preexec_fn``.
"""

from __future__ import annotations

import ctypes
import platform
import struct

_AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
_PR_SET_SECCOMP = 22
_SECCOMP_MODE_FILTER = 2
_RET_ERRNO_ENOSYS = 0x00050000 | 38
_RET_ALLOW = 0x7FFF0000


class _Prog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def _insn(code: int, jt: int, jf: int, k: int) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


def hide_landlock() -> None:
    """Install the filter in this process (root, or after no_new_privs)."""
    arch = _AUDIT_ARCH[platform.machine()]
    program = b"".join([
        _insn(0x20, 0, 0, 4),          # A = seccomp_data.arch
        _insn(0x15, 1, 0, arch),       # if A == arch: go on, else allow
        _insn(0x06, 0, 0, _RET_ALLOW),
        _insn(0x20, 0, 0, 0),          # A = seccomp_data.nr
        _insn(0x15, 0, 1, 444),        # landlock_create_ruleset?
        _insn(0x06, 0, 0, _RET_ERRNO_ENOSYS),
        _insn(0x06, 0, 0, _RET_ALLOW),
    ])
    buffer = ctypes.create_string_buffer(program, len(program))
    prog = _Prog(len(program) // 8, ctypes.cast(buffer, ctypes.c_void_p).value)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "seccomp filter refused")
