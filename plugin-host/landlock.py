"""Landlock: confine a plugin that must run as root to the paths its manifest declares.

Why: the nginx and apache installers (and webroot on a root-owned web root)
need root to edit server configuration, but a compromised plugin running as
root could write anywhere — ``/etc/cron.d``, the account key, the kernel's
own code. Landlock (Linux >= 5.13) lets an unprivileged-looking restriction
be put on a process and everything it starts: writes only beneath the
allowed folders, no TCP ``bind`` (and, when declared, no ``connect``).
Reads stay allowed, so the plugin still parses configuration and runs
``nginx -t``.

How: the ruleset is built in the kernel before ``fork`` (it opens paths,
which must not happen between fork and exec), and the child only calls
``landlock_restrict_self`` on the inherited descriptor after setting
``no_new_privs``. The system calls are made directly through ``ctypes``
(x86_64 and aarch64 numbers are the same: 444, 445, 446), so nothing is
needed beyond the C library.
"""

from __future__ import annotations

import ctypes
import errno
import os
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from certkernel import errors

SYS_CREATE_RULESET = 444
SYS_ADD_RULE = 445
SYS_RESTRICT_SELF = 446
CREATE_RULESET_VERSION = 1 << 0
RULE_PATH_BENEATH = 1

# Filesystem access rights (include/uapi/linux/landlock.h).
WRITE_FILE = 1 << 1
REMOVE_DIR = 1 << 4
REMOVE_FILE = 1 << 5
MAKE_CHAR = 1 << 6
MAKE_DIR = 1 << 7
MAKE_REG = 1 << 8
MAKE_SOCK = 1 << 9
MAKE_FIFO = 1 << 10
MAKE_BLOCK = 1 << 11
MAKE_SYM = 1 << 12
REFER = 1 << 13  # ABI 2
TRUNCATE = 1 << 14  # ABI 3
NET_BIND_TCP = 1 << 0  # ABI 4
NET_CONNECT_TCP = 1 << 1  # ABI 4

_WRITE_V1 = (WRITE_FILE | REMOVE_DIR | REMOVE_FILE | MAKE_CHAR | MAKE_DIR | MAKE_REG
             | MAKE_SOCK | MAKE_FIFO | MAKE_BLOCK | MAKE_SYM)
_FILE_RIGHTS = WRITE_FILE | TRUNCATE  # the only handled rights a non-directory rule may carry

# Device files every process may write: Python, nginx and apache2ctl open them.
DEVICE_FILES = ("/dev/null", "/dev/zero", "/dev/full")


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64),
                ("handled_access_net", ctypes.c_uint64)]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


@dataclass(frozen=True)
class Policy:
    """What a confined plugin may still do: write beneath ``write_paths``; connect or not."""

    write_paths: tuple[str, ...]
    allow_connect: bool = False
    allow_bind: bool = False


@dataclass(frozen=True)
class Ruleset:
    """A ruleset descriptor ready to be applied in the child, and what it holds."""

    fd: int
    abi: int
    paths: tuple[str, ...]  # the paths that got a rule (existing ones)
    network: str  # what the network rules enforce, in words


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def abi_version() -> int:
    """The Landlock ABI this kernel offers; 0 when Landlock is missing or disabled."""
    try:
        syscall = _libc().syscall
    except (OSError, AttributeError):
        return 0
    syscall.restype = ctypes.c_long
    version = syscall(SYS_CREATE_RULESET, None, ctypes.c_size_t(0),
                      ctypes.c_uint32(CREATE_RULESET_VERSION))
    return int(version) if version > 0 else 0


def handled_fs(abi: int) -> int:
    """The write rights this ABI can restrict (reads and execution are left alone)."""
    rights = _WRITE_V1
    if abi >= 2:
        rights |= REFER
    if abi >= 3:
        rights |= TRUNCATE
    return rights


def build(policy: Policy, abi: int | None = None) -> Ruleset:
    """Create the ruleset for ``policy``; the caller closes ``fd`` after spawning.

    Paths that do not exist are skipped (nothing there to allow); a path
    that cannot be opened for another reason is an error, since silently
    dropping it would make the plugin fail later in a confusing way.
    """
    version = abi_version() if abi is None else abi
    if version <= 0:
        raise errors.PluginError("Landlock is not available on this kernel")
    libc = _libc()
    syscall = libc.syscall
    syscall.restype = ctypes.c_long
    fs_rights = handled_fs(version)
    net_rights = 0
    network = "not restricted (Landlock ABI < 4)"
    if version >= 4:
        net_rights = (0 if policy.allow_bind else NET_BIND_TCP) | \
            (0 if policy.allow_connect else NET_CONNECT_TCP)
        denied = [word for word, allowed in (("bind", policy.allow_bind),
                                             ("connect", policy.allow_connect)) if not allowed]
        network = f"no TCP {' or '.join(denied)}" if denied else "TCP not restricted"
    attr = _RulesetAttr(fs_rights, net_rights)
    size = ctypes.sizeof(attr) if version >= 4 else 8
    fd = int(syscall(SYS_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size),
                     ctypes.c_uint32(0)))
    if fd < 0:
        err = ctypes.get_errno()
        raise errors.PluginError(f"landlock_create_ruleset failed: {os.strerror(err)}")
    added: list[str] = []
    try:
        for path in _unique([*policy.write_paths, *DEVICE_FILES]):
            if _add_path(syscall, fd, path, fs_rights):
                added.append(path)
    except BaseException:
        os.close(fd)
        raise
    return Ruleset(fd=fd, abi=version, paths=tuple(added), network=network)


def _unique(paths: Iterable[str]) -> list[str]:
    seen: list[str] = []
    for path in paths:
        norm = os.path.normpath(path)
        if norm not in seen:
            seen.append(norm)
    return seen


def _add_path(syscall: Callable[..., int], ruleset: int, path: str, fs_rights: int) -> bool:
    """Allow writes beneath ``path``; False when it does not exist."""
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise errors.PluginError(f"cannot confine the plugin to {path}: {exc.strerror}") from None
    try:
        is_dir = stat.S_ISDIR(os.fstat(fd).st_mode)
        rights = fs_rights if is_dir else fs_rights & _FILE_RIGHTS
        rule = _PathBeneathAttr(rights, fd)
        if syscall(SYS_ADD_RULE, ctypes.c_int(ruleset), ctypes.c_int(RULE_PATH_BENEATH),
                   ctypes.byref(rule), ctypes.c_uint32(0)) != 0:
            err = ctypes.get_errno()
            raise errors.PluginError(
                f"landlock_add_rule for {path} failed: {os.strerror(err)}")
    finally:
        os.close(fd)
    return True


def restrictor() -> Callable[[int], int]:
    """A function for the child: apply the ruleset ``fd`` to itself; 0 or an errno.

    Looked up before fork so the child only makes the system call.
    """
    syscall = _libc().syscall
    syscall.restype = ctypes.c_long

    def restrict(fd: int) -> int:
        if syscall(SYS_RESTRICT_SELF, ctypes.c_int(fd), ctypes.c_uint32(0)) != 0:
            return ctypes.get_errno() or errno.EPERM
        return 0

    return restrict
