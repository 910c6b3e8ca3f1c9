"""One checkpoint directory in Certbot's format: save into it, restore from it.

A checkpoint directory (``IN_PROGRESS``, ``temp_checkpoint`` or
``backups/<timestamp>``) holds, as Certbot's reverter writes them:

- ``FILEPATHS``: the absolute paths saved, one a line, in the order saved;
- ``<basename>_<index>``: the saved bytes of line ``index`` of FILEPATHS,
  with the original's mode (and owner, when we may set it);
- ``NEW_FILES``: paths created since, one a line (a restore deletes them);
- ``CHANGES_SINCE``: ``-- <title> --`` lines, newest first;
- ``ROOTS`` (certkernel's addition, which Certbot ignores): the directories
  the paths were checked against when they were saved, one a line.  A
  restore re-checks every path against these and reaches it without
  following a symlink (``certkernel.beneath``);
- ``INSTALLER`` (certkernel's addition): JSON, the installer that made the
  change and its options (renewal-conf keys), so ``certkernel rollback``
  can restart that server with no plugin flags.

Keeping the format means a work dir Certbot left behind can be rolled back by
certkernel and the other way round.  Every write is atomic (the copy first,
then the list naming it), so a process killed at any instant leaves a
directory that restores to the state before the first change.  Restoring is
idempotent: it is safe to run again after a crash half-way through it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from certkernel.beneath import beneath, open_beneath, open_dir, open_parent
from certkernel.errors import CheckpointRefused, PathRefused, ReverterError, StorageError
from certkernel.fsutil import atomic_write, fsync_dir, make_dirs, read_all

logger = logging.getLogger(__name__)

FILEPATHS = "FILEPATHS"
NEW_FILES = "NEW_FILES"
CHANGES_SINCE = "CHANGES_SINCE"
ROOTS = "ROOTS"
INSTALLER = "INSTALLER"
DIR_MODE = 0o700
LIST_MODE = 0o600
TRASH_PREFIX = ".ck-tmp-discard-"


@dataclass
class Restored:
    """What restoring one checkpoint did, for the user and the log."""

    kind: str  # "finalized", "in-progress" or "temporary"
    name: str
    title: str
    timestamp: float | None
    restored: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # "<path>: <why>", left as they are


def check_path(path: str) -> str:
    """Refuse paths the list files cannot hold or a restore could misplace."""
    if not isinstance(path, str) or not path:
        raise CheckpointRefused(f"checkpoint path {path!r} must be a non-empty string")
    if "\n" in path or "\r" in path or "\0" in path:
        raise CheckpointRefused(f"checkpoint path {path!r} contains a line break or NUL")
    if not os.path.isabs(path):
        raise CheckpointRefused(f"checkpoint path {path!r} must be absolute")
    return os.path.normpath(path)


def read_list(cp_dir: str, name: str) -> list[str]:
    """The lines of a list file (missing file: empty list)."""
    try:
        with open(os.path.join(cp_dir, name), encoding="utf-8") as handle:
            return [line for line in handle.read().splitlines() if line]
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError) as exc:
        raise ReverterError(f"cannot read {os.path.join(cp_dir, name)}: {exc}") from exc


def _write_list(cp_dir: str, name: str, items: list[str]) -> None:
    text = "".join(item + "\n" for item in items)
    try:
        atomic_write(os.path.join(cp_dir, name), text, LIST_MODE)
    except StorageError as exc:
        raise ReverterError(str(exc)) from exc


def copy_name(path: str, index: int) -> str:
    """Certbot's name for the saved copy of FILEPATHS line ``index``."""
    return f"{os.path.basename(path)}_{index}"


def ensure_dir(cp_dir: str) -> None:
    try:
        make_dirs(cp_dir, DIR_MODE)
    except StorageError as exc:
        raise ReverterError(str(exc)) from exc


def _try_chown(path: str, uid: int, gid: int) -> None:
    """Give ``path`` an owner back when we may (root); otherwise keep ours."""
    try:
        st = os.lstat(path)
    except OSError:
        return
    if (st.st_uid, st.st_gid) != (uid, gid):
        with contextlib.suppress(PermissionError):
            os.chown(path, uid, gid)


def check_roots(roots: Sequence[str]) -> list[str]:
    """Roots as a checkpoint records them: absolute, normalized, not ``/``."""
    out: list[str] = []
    for root in roots:
        if not isinstance(root, str) or not os.path.isabs(root) or root == "/" \
                or os.path.normpath(root) != root or "\n" in root or "\0" in root:
            raise ReverterError(f"checkpoint root {root!r} must be an absolute, normalized "
                                "directory other than /")
        if root not in out:
            out.append(root)
    return out


def record_roots(cp_dir: str, roots: Sequence[str]) -> None:
    """Add ``roots`` to the checkpoint's ROOTS list, before any path under them is listed.

    A restore (maybe in a later run, maybe ``certkernel rollback``) re-checks
    every path against exactly these, whatever the plugin asks for then.
    """
    ensure_dir(cp_dir)
    listed = read_list(cp_dir, ROOTS)
    added = [root for root in check_roots(roots) if root not in listed]
    if added:
        _write_list(cp_dir, ROOTS, listed + added)


def record_installer(cp_dir: str, record: Mapping[str, Any]) -> None:
    """Write the INSTALLER record once per checkpoint (the first installer to change a file)."""
    path = os.path.join(cp_dir, INSTALLER)
    if os.path.exists(path):
        return
    ensure_dir(cp_dir)
    try:
        atomic_write(path, json.dumps(dict(record), sort_keys=True, default=str) + "\n", LIST_MODE)
    except StorageError as exc:
        raise ReverterError(str(exc)) from exc


def read_installer(cp_dir: str) -> dict[str, Any] | None:
    """The INSTALLER record, or None (none written, or unreadable: a restart is only a courtesy)."""
    try:
        with open(os.path.join(cp_dir, INSTALLER), encoding="utf-8") as handle:
            value = json.load(handle)
    except (OSError, ValueError):
        return None
    if not isinstance(value, dict) or not isinstance(value.get("installer"), str):
        return None
    return value


def read_roots(cp_dir: str) -> list[str]:
    """The roots recorded with a checkpoint; ``/`` for one Certbot wrote (no ROOTS file).

    Certbot's checkpoints were made by a root process from its own plugins'
    paths; they are still restored only without following any symlink and
    without creating a directory.
    """
    roots = read_list(cp_dir, ROOTS)
    if roots:
        return check_roots(roots)
    return ["/"] if not os.path.exists(os.path.join(cp_dir, ROOTS)) else []


def root_for(path: str, roots: Sequence[str]) -> str:
    """The recorded root ``path`` is beneath; PathRefused when there is none."""
    for root in roots:
        if root == "/" and path != "/":
            return root
        with contextlib.suppress(PathRefused):
            beneath(root, path)
            return root
    raise PathRefused(f"{path} is outside the checkpoint's roots ({', '.join(roots) or 'none'})")


def _open_beneath_root(root: str, path: str, flags: int) -> int:
    if root == "/":
        root_fd = os.open("/", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        rel = path.lstrip("/")
    else:
        rel = beneath(root, path)
        root_fd = open_dir(root)
    try:
        return open_beneath(root_fd, rel, flags, where=path)
    finally:
        os.close(root_fd)


def parent_of(root: str, path: str) -> tuple[int, str]:
    if root != "/":
        return open_parent(root, path)
    head, name = os.path.split(path)
    return open_dir(head), name


def _read_original(path: str, roots: Sequence[str]) -> tuple[bytes, os.stat_result]:
    """The file's bytes and stat, read through one descriptor opened beneath its root."""
    root = root_for(path, roots)
    fd = _open_beneath_root(root, path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise CheckpointRefused(f"cannot checkpoint {path}: not a regular file")
        if st.st_nlink > 1:
            raise CheckpointRefused(f"cannot checkpoint {path}: it has {st.st_nlink} hard links; "
                                "the kernel checkpoints only files with a single name")
        return read_all(fd), st
    finally:
        os.close(fd)


def save_files(cp_dir: str, files: list[str], roots: Sequence[str]) -> list[str]:
    """Copy the current bytes of each file not yet saved here; return those copied.

    The first save of a file in a checkpoint wins: later saves are no-ops,
    because the checkpoint must restore the state before the first change.
    Each file is opened beneath one of ``roots`` without following a
    symlink, and its type, mode and owner are taken from that same
    descriptor: nothing is checked on one path and read from another.  All
    files are read before anything is written, so a refused call leaves no
    trace; then the roots are recorded, then the copies, then the list.
    """
    saved = read_list(cp_dir, FILEPATHS)
    new = set(read_list(cp_dir, NEW_FILES))
    wanted = [path for path in dict.fromkeys(files) if path not in saved and path not in new]
    originals: list[tuple[str, bytes, os.stat_result]] = []
    for path in wanted:
        try:
            data, st = _read_original(path, roots)
        except FileNotFoundError:
            raise CheckpointRefused(
                f"cannot checkpoint {path}: it does not exist "
                f"(register files about to be created with register_new)"
            ) from None
        except PathRefused as exc:
            raise CheckpointRefused(f"cannot checkpoint {path}: {exc}") from exc
        except OSError as exc:
            raise CheckpointRefused(f"cannot checkpoint {path}: {exc.strerror}") from exc
        originals.append((path, data, st))
    if not originals:
        return []
    record_roots(cp_dir, roots)
    for path, data, st in originals:
        copy = os.path.join(cp_dir, copy_name(path, len(saved)))
        try:
            atomic_write(copy, data, stat.S_IMODE(st.st_mode))
        except StorageError as exc:
            raise ReverterError(f"cannot checkpoint {path}: {exc}") from exc
        _try_chown(copy, st.st_uid, st.st_gid)
        saved.append(path)
    # One list write per call: copies not yet listed are inert, and the
    # caller changes nothing before this returns.
    _write_list(cp_dir, FILEPATHS, saved)
    return [path for path, _data, _st in originals]


def _check_new(path: str, roots: Sequence[str]) -> None:
    """A path about to be created: beneath a root, every existing ancestor a real directory.

    It must not exist yet. A restore deletes what was registered as new, as
    root: registering an existing file would let a plugin have the kernel
    delete one it could not delete itself (a root-owned file in its roots).
    """
    root = root_for(path, roots)
    probe = path
    while True:
        try:
            fd, name = parent_of(root, probe)
        except FileNotFoundError:
            parent = os.path.dirname(probe)
            if parent == root or parent == probe:
                raise
            probe = parent
            continue
        try:
            if probe == path:
                try:
                    os.stat(name, dir_fd=fd, follow_symlinks=False)
                except FileNotFoundError:
                    pass
                else:
                    raise PathRefused(
                        "it already exists; register_new is for files about to be created "
                        "(checkpoint an existing file with checkpoint/add)")
        finally:
            os.close(fd)
        return


def add_new_files(cp_dir: str, files: list[str], roots: Sequence[str]) -> None:
    """Record paths about to be created (before they are), so a restore deletes them."""
    listed = read_list(cp_dir, NEW_FILES)
    for path in files:
        if path in listed:
            continue  # registered (and maybe created) earlier in this checkpoint
        try:
            _check_new(path, roots)
        except PathRefused as exc:
            raise CheckpointRefused(f"cannot register {path}: {exc}") from exc
        except OSError as exc:
            raise CheckpointRefused(f"cannot register {path}: {exc.strerror or exc}") from exc
    record_roots(cp_dir, roots)
    added = [path for path in dict.fromkeys(files) if path not in listed]
    if added:
        _write_list(cp_dir, NEW_FILES, listed + added)


def read_title(cp_dir: str) -> str:
    """The newest ``-- title --`` line of CHANGES_SINCE, without the dashes."""
    try:
        with open(os.path.join(cp_dir, CHANGES_SINCE), encoding="utf-8", errors="replace") as fh:
            lines = fh.read().splitlines()
    except FileNotFoundError:
        return ""
    except OSError as exc:
        raise ReverterError(f"cannot read {os.path.join(cp_dir, CHANGES_SINCE)}: {exc}") from exc
    for line in lines:
        line = line.strip()
        if line.startswith("-- ") and line.endswith(" --"):
            return line[3:-3]
        if line:
            return line
    return ""


def write_title(cp_dir: str, title: str) -> None:
    """Prepend ``-- title --`` to CHANGES_SINCE, as Certbot's finalize does."""
    one_line = " ".join(title.split()) or "(untitled)"
    path = os.path.join(cp_dir, CHANGES_SINCE)
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            old = handle.read()
    except FileNotFoundError:
        old = ""
    try:
        atomic_write(path, f"-- {one_line} --\n{old}", LIST_MODE)
    except StorageError as exc:
        raise ReverterError(str(exc)) from exc


def discard(cp_dir: str) -> None:
    """Remove a checkpoint directory: an atomic rename out of sight, then delete.

    After the rename the checkpoint no longer exists for any reader, so a
    crash in the middle of the delete cannot leave a half checkpoint behind.
    """
    parent, base = os.path.split(os.path.abspath(cp_dir))
    trash = os.path.join(parent, f"{TRASH_PREFIX}{base}.{os.urandom(4).hex()}")
    try:
        os.rename(cp_dir, trash)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise ReverterError(f"cannot remove checkpoint {cp_dir}: {exc.strerror}") from exc
    fsync_dir(parent)
    shutil.rmtree(trash, ignore_errors=True)


def remove_trash(parent: str) -> None:
    """Finish deletes a killed process left half done."""
    try:
        names = os.listdir(parent)
    except FileNotFoundError:
        return
    for name in names:
        if name.startswith(TRASH_PREFIX):
            shutil.rmtree(os.path.join(parent, name), ignore_errors=True)
