"""Crash-safe file system primitives used by every writer in the kernel.

A process can be killed at any instant (cron timeouts, OOM, a reboot). Every
file the kernel writes therefore goes to a temporary name in the same
directory, is fsync'ed, and is renamed over its final name, after which the
directory itself is fsync'ed so the rename survives a power cut. Symlinks are
switched the same way (made at a temporary name, renamed over the old one),
so a reader always sees either the old or the new target, never nothing.

Only the standard library is imported here: ``certkernel certificates`` and
``renew`` with nothing due must stay quick.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator

from certkernel.errors import StorageError

_TMP_PREFIX = ".ck-tmp-"


def _tmp_name(directory: str, base: str) -> str:
    """A hidden temporary name next to ``base``, unique for this writer."""
    return os.path.join(directory, f"{_TMP_PREFIX}{base}.{os.urandom(6).hex()}")


def is_temp_name(name: str) -> bool:
    """True for leftovers of an interrupted atomic write (safe to delete)."""
    return name.startswith(_TMP_PREFIX)


def fsync_dir(directory: str) -> None:
    """Flush a directory entry change (create, rename, unlink) to disk."""
    fd = os.open(directory or ".", os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def compute_private_key_mode(previous: str | None, base_mode: int = 0o600) -> int:
    """The mode for a new private key replacing ``previous``.

    Certbot's rule: a renewed key keeps whatever group access the admin gave
    the old one (``chgrp ssl-cert; chmod 0640``), and the others' read bit
    if the admin set it, so the web server can still read it after renewal.
    Nothing beyond what the old key had is ever granted.
    """
    if previous is None:
        return base_mode
    try:
        old = stat.S_IMODE(os.stat(previous).st_mode)
    except FileNotFoundError:
        return base_mode
    return base_mode | (old & 0o074)


def atomic_write(
    path: str,
    data: bytes | str,
    mode: int = 0o644,
    *,
    copy_group_from: str | None = None,
) -> None:
    """Write ``data`` to ``path`` so readers see the old or the new file, whole.

    ``mode`` is applied before any byte is written (the temp file is created
    with it), so a private key is never readable by others, not even for an
    instant. With ``copy_group_from``, the new file takes the group of that
    file (when we may set it); callers compute the mode themselves
    (:func:`compute_private_key_mode`).
    """
    if isinstance(data, str):
        data = data.encode("utf-8")
    directory, base = os.path.split(os.path.abspath(path))
    tmp = _tmp_name(directory, base)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode & 0o777)
    except OSError as exc:
        raise StorageError(f"cannot write {path}: {exc.strerror}") from exc
    try:
        try:
            os.fchmod(fd, mode & 0o7777)  # the umask must not weaken or widen it
            if copy_group_from is not None:
                _copy_group(fd, copy_group_from)
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise StorageError(f"cannot write {path}: {exc.strerror or exc}") from exc
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(directory)


def _copy_group(fd: int, source: str) -> None:
    """Give the open file ``source``'s group, if we are allowed to."""
    try:
        gid = os.stat(source).st_gid
    except FileNotFoundError:
        return
    with contextlib.suppress(PermissionError):
        os.fchown(fd, -1, gid)


def make_dirs(path: str, mode: int = 0o755) -> None:
    """Create ``path`` and missing parents; new directories get ``mode``.

    Existing directories keep their mode: an admin may have opened
    ``live/`` to 0755 on purpose (Certbot's docs suggest it).
    """
    path = os.path.abspath(path)
    missing: list[str] = []
    probe = path
    while not os.path.isdir(probe):
        if os.path.lexists(probe):
            raise StorageError(f"{probe} exists and is not a directory")
        missing.append(probe)
        parent = os.path.dirname(probe)
        if parent == probe:
            break
        probe = parent
    for directory in reversed(missing):
        try:
            os.mkdir(directory, mode)
        except FileExistsError:
            if not os.path.isdir(directory):
                raise StorageError(f"{directory} exists and is not a directory") from None
            continue
        except OSError as exc:
            raise StorageError(f"cannot create directory {directory}: {exc.strerror}") from exc
        os.chmod(directory, mode)
        fsync_dir(os.path.dirname(directory))


def relative_target(link_path: str, target: str) -> str:
    """The relative path a link at ``link_path`` must hold to reach ``target``."""
    link_dir = os.path.dirname(os.path.abspath(link_path))
    return os.path.relpath(os.path.abspath(target), link_dir)


def switch_symlink(link_path: str, target: str, *, relative: bool = True) -> None:
    """Point ``link_path`` at ``target`` atomically (new link, then rename).

    With ``relative`` (the default, as Certbot does) the stored target is
    relative to the link's directory, so the whole config dir can be moved or
    bind-mounted elsewhere.
    """
    value = relative_target(link_path, target) if relative else target
    directory, base = os.path.split(os.path.abspath(link_path))
    tmp = _tmp_name(directory, base)
    try:
        os.symlink(value, tmp)
        os.replace(tmp, link_path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise StorageError(f"cannot point {link_path} at {value}: {exc.strerror}") from exc
    fsync_dir(directory)


def remove_temp_leftovers(directory: str) -> list[str]:
    """Delete temp files an interrupted writer left in ``directory``."""
    removed: list[str] = []
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return removed
    for name in names:
        if is_temp_name(name):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(directory, name))
                removed.append(name)
    return removed


def iter_files(directory: str) -> Iterator[str]:
    """Names of regular entries in ``directory`` (sorted, temp files skipped)."""
    try:
        names = sorted(os.listdir(directory))
    except FileNotFoundError:
        return
    for name in names:
        if not is_temp_name(name):
            yield name


def read_all(fd: int) -> bytes:
    """Everything from ``fd`` to its end: the bytes of the one file already opened and
    checked through it (no second open by path)."""
    chunks: list[bytes] = []
    while chunk := os.read(fd, 1 << 20):
        chunks.append(chunk)
    return b"".join(chunks)
