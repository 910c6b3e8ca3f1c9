"""Open paths beneath a directory without ever following a symlink.

The kernel (often root) reads, writes and deletes files a plugin named.  A
check on a path string followed by a later ``open`` of the same string
leaves a window in which the plugin can swap a directory for a symlink.
So a path is never resolved first and used later: the directory it must be
beneath is opened once, and each use goes through that descriptor with
``openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)`` (Linux 5.6+), which
fails instead of following a symlink, ``..`` or a magic link anywhere in
the path.  Where ``openat2`` is missing the same guarantee comes from a
walk, one component at a time, each opened with ``O_NOFOLLOW`` relative to
the descriptor of the one before.

Only the standard library is imported.
"""

from __future__ import annotations

import ctypes
import errno
import os

from certkernel.errors import PathRefused

__all__ = [
    "PathRefused",
    "beneath",
    "open_beneath",
    "open_dir",
    "open_parent",
    "openat2_available",
]

SYS_OPENAT2 = 437  # the same number on every Linux architecture
RESOLVE_NO_MAGICLINKS = 0x02
RESOLVE_NO_SYMLINKS = 0x04
RESOLVE_BENEATH = 0x08
_RESOLVE = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC


class _OpenHow(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64),
                ("resolve", ctypes.c_uint64)]


_libc: ctypes.CDLL | None = None
_available: bool | None = None


def _syscall_openat2(dirfd: int, path: str, flags: int, mode: int) -> int:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    how = _OpenHow(flags | os.O_CLOEXEC, mode if flags & os.O_CREAT else 0, _RESOLVE)
    encoded = os.fsencode(path)
    for _ in range(16):  # EAGAIN: a concurrent rename somewhere; bounded retries
        fd = int(_libc.syscall(SYS_OPENAT2, dirfd, encoded, ctypes.byref(how),
                               ctypes.sizeof(how)))
        if fd >= 0:
            return fd
        err = ctypes.get_errno()
        if err != errno.EAGAIN:
            raise OSError(err, os.strerror(err), path)
    raise OSError(errno.EAGAIN, os.strerror(errno.EAGAIN), path)


def openat2_available() -> bool:
    """Whether this kernel has ``openat2`` (probed once)."""
    global _available
    if _available is None:
        try:
            os.close(_syscall_openat2(-100, ".", _DIR_FLAGS, 0))  # AT_FDCWD
            _available = True
        except OSError as exc:
            if exc.errno not in (errno.ENOSYS, errno.EPERM):
                raise
            _available = False
    return _available


def _components(rel: str) -> list[str]:
    parts = rel.split("/")
    if not rel or rel.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise PathRefused(f"{rel!r} is not a plain relative path (no '.', '..', '//')")
    return parts


def _walk_open(dirfd: int, rel: str, flags: int, mode: int) -> int:
    """``O_NOFOLLOW`` at every step, each relative to the previous directory's fd."""
    parts = _components(rel)
    current = dirfd
    try:
        for part in parts[:-1]:
            nxt = os.open(part, _DIR_FLAGS | os.O_NOFOLLOW, dir_fd=current)
            if current != dirfd:
                os.close(current)
            current = nxt
        return os.open(parts[-1], flags | os.O_NOFOLLOW | os.O_CLOEXEC, mode, dir_fd=current)
    finally:
        if current != dirfd:
            os.close(current)


def _refusal(exc: OSError, rel: str, where: str) -> Exception:
    if exc.errno == errno.ELOOP:
        return PathRefused(f"{where}: {rel} is, or passes through, a symbolic link; "
                           "refused (the kernel never follows one there)")
    if exc.errno == errno.EXDEV:
        return PathRefused(f"{where}: {rel} leads outside the directory")
    if exc.errno == errno.ENOTDIR:
        return PathRefused(f"{where}: a parent of {rel} is not a directory (or is a symbolic link)")
    return exc


def open_beneath(dirfd: int, rel: str, flags: int, mode: int = 0o600, *,
                 where: str = "", walk: bool | None = None) -> int:
    """Open ``rel`` beneath the directory ``dirfd`` refers to; no symlink is followed.

    Raises PathRefused for a symlink anywhere, ``..``, or an escape; other
    OSErrors (FileNotFoundError...) pass through.  ``walk`` forces the
    fallback (tests); by default ``openat2`` is used when the kernel has it.
    """
    _components(rel)
    use_walk = (not openat2_available()) if walk is None else walk
    try:
        if use_walk:
            return _walk_open(dirfd, rel, flags, mode)
        return _syscall_openat2(dirfd, rel, flags | os.O_NOFOLLOW, mode)
    except OSError as exc:
        raise _refusal(exc, rel, where or "open") from exc


def open_dir(path: str, *, walk: bool | None = None) -> int:
    """Open the absolute directory ``path``, refusing a symlink in any component."""
    if not os.path.isabs(path) or os.path.normpath(path) != path:
        raise PathRefused(f"{path!r} is not an absolute, normalized path")
    root = os.open("/", _DIR_FLAGS)
    if path == "/":
        return root
    try:
        return open_beneath(root, path.lstrip("/"), _DIR_FLAGS, where=path, walk=walk)
    finally:
        os.close(root)


def beneath(root: str, path: str) -> str:
    """``path`` relative to ``root`` when strictly beneath it (string check only).

    Both must be absolute and normalized; ``path`` equal to ``root`` is
    refused (a root itself is never replaced or deleted).
    """
    for value in (root, path):
        if not isinstance(value, str) or not os.path.isabs(value) or "\0" in value \
                or os.path.normpath(value) != value:
            raise PathRefused(f"{value!r} is not an absolute, normalized path")
    prefix = root.rstrip("/") + "/"
    if not path.startswith(prefix) or path == root:
        raise PathRefused(f"{path} is not beneath {root}")
    return path[len(prefix):]


def open_parent(root: str, path: str, *, walk: bool | None = None) -> tuple[int, str]:
    """(fd of ``path``'s directory, its last component), all beneath ``root``.

    The directory is opened through ``root`` without following any symlink;
    it must exist (nothing is created).  The caller closes the fd.
    """
    rel = beneath(root, path)
    root_fd = open_dir(root, walk=walk)
    head, _, name = rel.rpartition("/")
    if not head:
        return root_fd, name
    try:
        return open_beneath(root_fd, head, _DIR_FLAGS, where=path, walk=walk), name
    finally:
        os.close(root_fd)
