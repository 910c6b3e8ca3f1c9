"""One checkpoint directory in Certbot's format: save into it, restore from it.

A checkpoint directory (``IN_PROGRESS``, ``temp_checkpoint`` or
``backups/<timestamp>``) holds, as Certbot's reverter writes them:

- ``FILEPATHS``: the absolute paths saved, one a line, in the order saved;
- ``<basename>_<index>``: the saved bytes of line ``index`` of FILEPATHS,
  with the original's mode (and owner, when we may set it);
- ``NEW_FILES``: paths created since, one a line (a restore deletes them);
- ``CHANGES_SINCE``: ``-- <title> --`` lines, newest first.

Keeping the format means a work dir Certbot left behind can be rolled back by
certkernel and the other way round.  Every write is atomic (the copy first,
then the list naming it), so a process killed at any instant leaves a
directory that restores to the state before the first change.  Restoring is
idempotent: it is safe to run again after a crash half-way through it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import stat
from dataclasses import dataclass, field

from certkernel.errors import ReverterError, StorageError
from certkernel.fsutil import atomic_write, fsync_dir, is_temp_name, make_dirs

logger = logging.getLogger(__name__)

FILEPATHS = "FILEPATHS"
NEW_FILES = "NEW_FILES"
CHANGES_SINCE = "CHANGES_SINCE"
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


def check_path(path: str) -> str:
    """Refuse paths the list files cannot hold or a restore could misplace."""
    if not isinstance(path, str) or not path:
        raise ReverterError(f"checkpoint path {path!r} must be a non-empty string")
    if "\n" in path or "\r" in path or "\0" in path:
        raise ReverterError(f"checkpoint path {path!r} contains a line break or NUL")
    if not os.path.isabs(path):
        raise ReverterError(f"checkpoint path {path!r} must be absolute")
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


def save_files(cp_dir: str, files: list[str]) -> list[str]:
    """Copy the current bytes of each file not yet saved here; return those copied.

    The first save of a file in a checkpoint wins: later saves are no-ops,
    because the checkpoint must restore the state before the first change.
    """
    ensure_dir(cp_dir)
    saved = read_list(cp_dir, FILEPATHS)
    new = set(read_list(cp_dir, NEW_FILES))
    copied: list[str] = []
    for path in files:
        if path in saved or path in new:
            continue
        try:
            st = os.stat(path)
        except FileNotFoundError:
            raise ReverterError(
                f"cannot checkpoint {path}: it does not exist "
                f"(register files about to be created with register_new)"
            ) from None
        except OSError as exc:
            raise ReverterError(f"cannot checkpoint {path}: {exc.strerror}") from exc
        if not stat.S_ISREG(st.st_mode):
            raise ReverterError(f"cannot checkpoint {path}: not a regular file")
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except OSError as exc:
            raise ReverterError(f"cannot checkpoint {path}: {exc.strerror}") from exc
        copy = os.path.join(cp_dir, copy_name(path, len(saved)))
        try:
            atomic_write(copy, data, stat.S_IMODE(st.st_mode))
        except StorageError as exc:
            raise ReverterError(f"cannot checkpoint {path}: {exc}") from exc
        _try_chown(copy, st.st_uid, st.st_gid)
        saved.append(path)
        copied.append(path)
    # One list write per call: copies not yet listed are inert, and the
    # caller changes nothing before this returns.
    if copied:
        _write_list(cp_dir, FILEPATHS, saved)
    return copied


def add_new_files(cp_dir: str, files: list[str]) -> None:
    """Record paths about to be created (before they are), so a restore deletes them."""
    ensure_dir(cp_dir)
    listed = read_list(cp_dir, NEW_FILES)
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


def _remove_write_leftovers(target: str) -> None:
    """Delete the temp file a restore killed mid-write left next to ``target``.

    Only names of fsutil's atomic writes of this very file are touched
    (``.ck-tmp-<name>.<12 hex>``); left there, a glob include such as
    Apache's ``IncludeOptional conf.d/*`` would load it.
    """
    directory, base = os.path.split(target)
    pattern = re.compile(r"\.ck-tmp-" + re.escape(base) + r"\.[0-9a-f]{12}")
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for name in names:
        if is_temp_name(name) and pattern.fullmatch(name):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(directory, name))


def _restore_one(path: str, copy: str) -> None:
    st = os.stat(copy)
    with open(copy, "rb") as handle:
        data = handle.read()
    # Write through a symlink (sites-enabled/x -> sites-available/x) as the
    # change did, instead of replacing the link with a file.
    target = os.path.realpath(path)
    make_dirs(os.path.dirname(target))
    atomic_write(target, data, stat.S_IMODE(st.st_mode))
    _try_chown(target, st.st_uid, st.st_gid)
    _remove_write_leftovers(target)


def _remove_new(path: str) -> bool:
    """Delete a file the checkpoint saw created; False when it was never made."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return False
    if stat.S_ISDIR(st.st_mode):
        try:
            os.rmdir(path)
        except OSError:
            logger.warning("Not removing directory %s created after the checkpoint: not empty", path)
            return False
    else:
        os.unlink(path)
    fsync_dir(os.path.dirname(path))
    return True


def restore(cp_dir: str, result: Restored) -> Restored:
    """Put every saved file back and delete every new file; then drop the directory.

    All copies are checked before anything is written, so a damaged
    checkpoint changes nothing and stays on disk for inspection.
    """
    saved = read_list(cp_dir, FILEPATHS)
    copies = [os.path.join(cp_dir, copy_name(path, idx)) for idx, path in enumerate(saved)]
    missing = [path for path, copy in zip(saved, copies, strict=True) if not os.path.isfile(copy)]
    if missing:
        raise ReverterError(
            f"checkpoint {cp_dir} is damaged: the saved copy of {missing[0]} is missing; "
            f"nothing was restored"
        )
    for path, copy in zip(saved, copies, strict=True):
        try:
            _restore_one(path, copy)
        except (OSError, StorageError) as exc:
            raise ReverterError(f"cannot restore {path} from {copy}: {exc}") from exc
        result.restored.append(path)
    # Newest first, so files made inside a new directory go before it.
    for path in reversed(read_list(cp_dir, NEW_FILES)):
        try:
            if _remove_new(path):
                result.removed.append(path)
        except OSError as exc:
            raise ReverterError(f"cannot remove {path} (created after the checkpoint): {exc}") from exc
    discard(cp_dir)
    return result


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
