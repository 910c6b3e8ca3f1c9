"""Write a file whole or not at all: the one atomic-write helper for plugins.

A plugin that rewrites a server's configuration, or its own state, must never
leave half a file behind: a crash, a full disk or a kill between ``open`` and
the last ``write`` would leave nginx or Apache unable to start. So the bytes
go to a temporary file beside the target, are flushed to disk, and replace
the target with one ``rename`` -- readers see the old file or the new one.

Everything happens relative to an open directory fd, with ``O_NOFOLLOW`` and
``O_EXCL``: the temporary name cannot be a planted link, and a target that is
a link (or not a regular file) is refused rather than followed. A plugin that
must stay beneath a root it does not trust walks there itself (as
``safepath`` or the nginx plugin's ``write_beneath`` do) and passes the
directory fd it ended on as ``dir_fd``.

A plugin confined by Landlock may be allowed to rewrite a file but not to
create others beside it; ``in_place_if_denied`` then rewrites the file where
it is (not atomic, but the only write the sandbox permits).
"""

from __future__ import annotations

import os
import stat

from certkernel.protocol.errors import MisconfigurationError

TEMP_SUFFIX = ".certkernel-tmp"
DEFAULT_MODE = 0o644
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC


def temp_name(name: str) -> str:
    """The temporary name used beside ``name``: dot-first, so ``include dir/*`` skips it."""
    return f".{name}{TEMP_SUFFIX}"


def write_atomic(
    path: str | os.PathLike[str],
    data: bytes | str,
    *,
    mode: int | None = None,
    dir_fd: int | None = None,
    in_place_if_denied: bool = False,
    shown_as: str | None = None,
) -> None:
    """Replace (or create) the regular file ``path`` with ``data``, atomically.

    ``path`` is a plain path, or -- with ``dir_fd`` -- one name inside that
    open directory. ``mode`` is the new file's permission bits; by default an
    existing file keeps its mode (and, where allowed, its owner) and a new
    one gets 0644. ``shown_as`` names the file in error messages (the full
    path, when only a name and a fd are given).

    Raises :class:`MisconfigurationError` if the target exists and is not a
    regular file (a symlink included), and ``OSError`` if writing fails; in
    both cases the target is unchanged and no temporary file is left.
    """
    raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    text = os.fspath(path)
    if dir_fd is not None:
        if not text or "/" in text or text in (".", ".."):
            raise ValueError(f"with dir_fd, path must be one name, not {text!r}")
        _write_in(dir_fd, text, raw, mode, in_place_if_denied, shown_as or text)
        return
    parent, name = os.path.split(text)
    if not name:
        raise ValueError(f"{text!r} names a directory, not a file")
    fd = os.open(parent or ".", _DIR_FLAGS)
    try:
        _write_in(fd, name, raw, mode, in_place_if_denied, shown_as or text)
    finally:
        os.close(fd)


def _write_in(dir_fd: int, name: str, raw: bytes, mode: int | None, in_place: bool,
              shown: str) -> None:
    try:
        info: os.stat_result | None = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        info = None
    if info is not None and not stat.S_ISREG(info.st_mode):
        kind = "a symbolic link" if stat.S_ISLNK(info.st_mode) else "not a regular file"
        raise MisconfigurationError(f"{shown} is {kind}; not written")
    if mode is None:
        mode = stat.S_IMODE(info.st_mode) if info is not None else DEFAULT_MODE
    try:
        _replace(dir_fd, name, raw, mode, info)
    except PermissionError:
        if not in_place or info is None:
            raise
        _rewrite_in_place(dir_fd, name, raw)


def _replace(dir_fd: int, name: str, raw: bytes, mode: int,
             info: os.stat_result | None) -> None:
    tmp = temp_name(name)
    try:
        os.unlink(tmp, dir_fd=dir_fd)  # left by a run that was killed
    except FileNotFoundError:
        pass
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                 0o600, dir_fd=dir_fd)
    try:
        try:
            _write_all(fd, raw)
            if info is not None:
                try:
                    os.fchown(fd, info.st_uid, info.st_gid)
                except PermissionError:
                    pass  # not ours to give away: the new file stays the writer's
            os.fchmod(fd, mode)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        try:
            os.unlink(tmp, dir_fd=dir_fd)
        except OSError:
            pass
        raise
    os.fsync(dir_fd)


def _rewrite_in_place(dir_fd: int, name: str, raw: bytes) -> None:
    fd = os.open(name, os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
    try:
        os.ftruncate(fd, 0)
        _write_all(fd, raw)
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_all(fd: int, raw: bytes) -> None:
    view = memoryview(raw)
    while view:
        written = os.write(fd, view)
        view = view[written:]
