"""Files and directories beneath a directory, reached without following links.

Why plugins need this: a plugin that runs as root writes into directories
other users own (a web root belongs to its site, often to ``www-data``).
Whoever owns such a directory can plant a symbolic link in it at any time,
so a path that looked fine a moment ago may lead to ``/etc/cron.daily`` now.
``O_NOFOLLOW`` on ``open(path)`` guards only the last component. These
helpers therefore walk one component at a time from an open directory fd,
each step ``openat(..., O_NOFOLLOW | O_DIRECTORY)``, and create, remove and
check entries relative to the fd of the directory that holds them: what is
checked is what is used, with no window in between (no realpath-then-open).

Plugins may import only ``certkernel.sdk`` and the protocol, not the kernel,
so this lives in the SDK. Every refusal is a :class:`PluginError` with one
line that names the path and says what to do.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass

from certkernel.protocol.errors import PluginError

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_NEW_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


@dataclass(frozen=True)
class FileId:
    """Which inode a name pointed to when we made it (device and inode number)."""

    dev: int
    ino: int

    @classmethod
    def of(cls, st: os.stat_result) -> FileId:
        return cls(st.st_dev, st.st_ino)


def check_name(name: str) -> None:
    """Refuse anything but one plain path component (no ``/``, ``.``, ``..``, NUL)."""
    if not name or name in (".", "..") or "/" in name or "\0" in name:
        raise PluginError(f"refusing path component {name!r}: it must be one plain name")


def open_dir(path: str) -> int:
    """Open a directory the operator named (links in ``path`` itself are followed).

    The operator chose this path; what lies beneath it is reached with the
    ``*_at`` helpers below, which never follow a link.
    """
    try:
        return os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as exc:
        raise PluginError(f"cannot open directory {path}: {exc.strerror}") from None


def _is_link(dir_fd: int, name: str) -> bool:
    try:
        return stat.S_ISLNK(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode)
    except OSError:
        return False


def _refusal(shown: str, exc: OSError, link: bool) -> PluginError:
    """The message for a failed no-follow open (Linux says ENOTDIR or ELOOP for a link)."""
    if link or exc.errno == errno.ELOOP:
        return PluginError(
            f"Refusing to use {shown}: it is a symbolic link, and links beneath the "
            "directory are never followed (its owner could point them anywhere); "
            "replace it with a real directory"
        )
    if exc.errno == errno.ENOTDIR:
        return PluginError(f"Refusing to use {shown}: it exists and is not a directory")
    return PluginError(f"cannot open {shown}: {exc.strerror or exc}")


def open_dir_at(dir_fd: int, name: str, shown: str) -> int:
    """Open the subdirectory ``name`` of ``dir_fd``; a link or a non-directory is refused.

    ``shown`` is the path used in messages. A missing entry raises
    :class:`FileNotFoundError` so callers can decide whether to create it.
    """
    check_name(name)
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise _refusal(shown, exc, _is_link(dir_fd, name)) from None


def make_dir_at(dir_fd: int, name: str, mode: int, shown: str) -> tuple[int, FileId | None]:
    """Open ``name`` under ``dir_fd``, creating it with ``mode`` when missing.

    Returns the directory's fd and, when this call created it, its
    :class:`FileId` (so a later cleanup removes that directory and no other).
    A link put in its place between ``mkdir`` and ``open`` is refused like any
    other link.
    """
    check_name(name)
    created = False
    try:
        os.mkdir(name, mode, dir_fd=dir_fd)
        created = True
    except FileExistsError:
        pass
    fd = open_dir_at(dir_fd, name, shown)
    if not created:
        return fd, None
    try:
        os.fchmod(fd, mode)  # the umask must not make it unreadable to the server
        return fd, FileId.of(os.fstat(fd))
    except OSError:
        os.close(fd)
        raise


def create_file_at(dir_fd: int, name: str, data: bytes, mode: int) -> FileId:
    """Create a new regular file ``name`` in ``dir_fd`` holding ``data``, mode ``mode``.

    An entry already there (a file, a link, anything but a directory) is
    unlinked first, by name: ``unlink`` never follows a link, so the old
    entry's target is untouched. Creation is ``O_CREAT | O_EXCL |
    O_NOFOLLOW``: nothing that appears meanwhile is ever opened.
    """
    check_name(name)
    try:
        fd = os.open(name, _NEW_FILE_FLAGS, mode, dir_fd=dir_fd)
    except FileExistsError:
        os.unlink(name, dir_fd=dir_fd)  # IsADirectoryError for a directory: the caller says so
        fd = os.open(name, _NEW_FILE_FLAGS, mode, dir_fd=dir_fd)
    try:
        os.fchmod(fd, mode)  # exactly ``mode``: the umask neither narrows nor widens it
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        return FileId.of(os.fstat(fd))
    finally:
        os.close(fd)


def read_file_at(dir_fd: int, name: str, limit: int) -> bytes | None:
    """The first ``limit`` bytes of regular file ``name`` in ``dir_fd``; None if absent or not a file."""
    check_name(name)
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK,
                     dir_fd=dir_fd)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        return os.read(fd, limit)
    finally:
        os.close(fd)


def remove_file_at(dir_fd: int, name: str) -> bool:
    """Unlink ``name`` in ``dir_fd`` (never a directory); False when it was not there."""
    check_name(name)
    try:
        os.unlink(name, dir_fd=dir_fd)
    except FileNotFoundError:
        return False
    return True


def remove_dir_at(dir_fd: int, name: str, made: FileId) -> bool:
    """Remove the directory ``name`` in ``dir_fd`` if it is still the one we made and empty.

    Returns False (and leaves it) when it is gone, was replaced (a link,
    a file, another directory) or holds entries. A swap between the check
    and ``rmdir`` can at worst remove another *empty* directory of that
    name; ``rmdir`` never follows a link.
    """
    check_name(name)
    try:
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return False
    if not stat.S_ISDIR(st.st_mode) or FileId.of(st) != made:
        return False
    try:
        os.rmdir(name, dir_fd=dir_fd)
    except FileNotFoundError:
        return False
    except OSError as exc:
        if exc.errno in (errno.ENOTEMPTY, errno.EEXIST, errno.EBUSY, errno.ENOTDIR):
            return False
        raise
    return True
