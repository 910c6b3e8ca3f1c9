"""Restoring one checkpoint directory: put saved files back, remove new ones.

Split from :mod:`certkernel.checkpoints.reverter_dir` (which owns the directory format
and saving) because restoring is where a hostile tree can bite: every path is
re-checked against the roots recorded when it was saved, reached from a
directory fd opened beneath its root without following a symlink, and
written as a temp file plus ``renameat``, so a link planted after the save is
replaced and never written through. Restoring is idempotent: it is safe to
run again after a crash half-way through it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import stat
from collections.abc import Sequence

from certkernel.checkpoints.reverter_dir import (
    FILEPATHS,
    NEW_FILES,
    Restored,
    copy_name,
    discard,
    parent_of,
    read_list,
    read_roots,
    root_for,
)
from certkernel.errors import PathRefused, ReverterError
from certkernel.fsutil import is_temp_name, read_all

logger = logging.getLogger(__name__)


def _remove_write_leftovers(dir_fd: int, base: str) -> None:
    """Delete the temp file a restore killed mid-write left next to ``base``.

    Only names of this very file's atomic writes are touched
    (``.ck-tmp-<name>.<12 hex>``); left there, a glob include such as
    Apache's ``IncludeOptional conf.d/*`` would load it.
    """
    pattern = re.compile(r"\.ck-tmp-" + re.escape(base) + r"\.[0-9a-f]{12}")
    try:
        names = os.listdir(dir_fd)
    except OSError:
        return
    for name in names:
        if is_temp_name(name) and pattern.fullmatch(name):
            with contextlib.suppress(FileNotFoundError, IsADirectoryError):
                os.unlink(name, dir_fd=dir_fd)


def _read_copy(copy: str) -> tuple[bytes, os.stat_result]:
    """A saved copy (in the kernel's own checkpoint dir) with the mode and owner it recorded."""
    fd = os.open(copy, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        st = os.fstat(fd)
        return read_all(fd), st
    finally:
        os.close(fd)


def _write_at(dir_fd: int, name: str, data: bytes, st: os.stat_result) -> None:
    """Replace ``name`` in ``dir_fd`` atomically: temp file there, then renameat.

    The rename replaces whatever ``name`` is now (a symlink included) and
    never writes through it; mode and owner are the ones recorded at
    checkpoint time, set on the descriptor before the rename.
    """
    tmp = f".ck-tmp-{name}.{os.urandom(6).hex()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                 0o600, dir_fd=dir_fd)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            if (os.fstat(fd).st_uid, os.fstat(fd).st_gid) != (st.st_uid, st.st_gid):
                with contextlib.suppress(PermissionError):
                    os.fchown(fd, st.st_uid, st.st_gid)
            os.fchmod(fd, stat.S_IMODE(st.st_mode))
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp, dir_fd=dir_fd)
        raise
    os.fsync(dir_fd)


def _restore_one(path: str, copy: str, roots: Sequence[str]) -> None:
    data, st = _read_copy(copy)
    dir_fd, name = parent_of(root_for(path, roots), path)
    try:
        _write_at(dir_fd, name, data, st)
        _remove_write_leftovers(dir_fd, name)
    finally:
        os.close(dir_fd)


def _remove_new(path: str, roots: Sequence[str]) -> bool:
    """Delete a file the checkpoint saw created; False when it was never made.

    The entry itself is removed (a symlink, never what it points to).
    """
    try:
        dir_fd, name = parent_of(root_for(path, roots), path)
    except FileNotFoundError:
        return False
    try:
        try:
            st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            return False
        if stat.S_ISDIR(st.st_mode):
            try:
                os.rmdir(name, dir_fd=dir_fd)
            except OSError:
                logger.warning("Not removing directory %s created after the checkpoint: "
                               "not empty", path)
                return False
        else:
            os.unlink(name, dir_fd=dir_fd)
        os.fsync(dir_fd)
        return True
    finally:
        os.close(dir_fd)


def _refuse(result: Restored, path: str, why: str) -> None:
    logger.warning("Not restoring %s: %s", path, why)
    result.refused.append(f"{path}: {why}")


def restore(cp_dir: str, result: Restored, forbidden: Sequence[str] = ()) -> Restored:
    """Put every saved file back and delete every new file; then drop the directory.

    All copies are checked before anything is written, so a damaged
    checkpoint changes nothing and stays on disk for inspection.  Every
    path is re-checked against the roots recorded with the checkpoint and
    reached without following a symlink; a missing directory is never
    created.  A path that fails those checks is skipped and reported in
    ``result.refused`` (the rest is still restored).  Roots overlapping
    ``forbidden`` (the kernel's own folders) are never written into.
    """
    saved = read_list(cp_dir, FILEPATHS)
    copies = [os.path.join(cp_dir, copy_name(path, idx)) for idx, path in enumerate(saved)]
    missing = [path for path, copy in zip(saved, copies, strict=True) if not os.path.isfile(copy)]
    if missing:
        raise ReverterError(
            f"checkpoint {cp_dir} is damaged: the saved copy of {missing[0]} is missing; "
            f"nothing was restored"
        )
    roots = read_roots(cp_dir)
    for path, copy in zip(saved, copies, strict=True):
        try:
            _check_allowed(path, forbidden)
            _restore_one(path, copy, roots)
        except PathRefused as exc:
            _refuse(result, path, str(exc))
            continue
        except FileNotFoundError:
            _refuse(result, path, "its directory no longer exists (the kernel creates none)")
            continue
        except IsADirectoryError:
            _refuse(result, path, "a directory now stands there")
            continue
        except OSError as exc:
            raise ReverterError(f"cannot restore {path} from {copy}: {exc}") from exc
        result.restored.append(path)
    # Newest first, so files made inside a new directory go before it.
    for path in reversed(read_list(cp_dir, NEW_FILES)):
        try:
            _check_allowed(path, forbidden)
            if _remove_new(path, roots):
                result.removed.append(path)
        except PathRefused as exc:
            _refuse(result, path, str(exc))
        except OSError as exc:
            raise ReverterError(f"cannot remove {path} (created after the checkpoint): {exc}") from exc
    discard(cp_dir)
    return result


def _check_allowed(path: str, forbidden: Sequence[str]) -> None:
    for directory in forbidden:
        if path == directory or path.startswith(directory.rstrip("/") + "/"):
            raise PathRefused(f"{path} is inside {directory}, where the kernel never restores")
