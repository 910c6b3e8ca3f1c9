"""The kernel's checkpoint store ("reverter"): backups installers' changes can be undone by.

Installers run as separate processes and may die at any moment, so the kernel,
not the plugin, keeps the bytes of every file before it is changed. Layout
under ``--work-dir`` is Certbot's, so either tool can roll back the other's
changes:

- ``IN_PROGRESS/``: the checkpoint being built (``add``/``register_new``);
- ``temp_checkpoint/``: temporary changes (challenge configs), undone by
  :meth:`Reverter.revert_temporary` once validation is over;
- ``backups/<unix time>/``: finalized checkpoints, each with its title.

Semantics follow Certbot's reverter: the first ``add`` of a file in a
checkpoint copies it, later ones are no-ops; ``finalize`` turns the
in-progress checkpoint into a timestamped backup; ``rollback(n)`` restores
the newest ``n`` backups newest first; ``recovery_routine`` undoes what a
crashed run left in ``temp_checkpoint`` and ``IN_PROGRESS``.  One ``flock``
per work dir keeps two processes from interleaving; it is taken on the first
change and held until :meth:`Reverter.close`.

Temporary changes never outlive the run that made them (PROTOCOL.md §5.5):
the plugin reverts them in its ``cleanup``; the kernel reverts what is left
right after every ``cleanup`` (:meth:`Reverter.revert_own_temporary`) and
again when the run's store is closed, however the run ended.  Only a run
killed outright leaves them, and the next run's recovery undoes them.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from certkernel.checkpoints import reverter_dir as cpdir
from certkernel.checkpoints import reverter_restore
from certkernel.checkpoints.reverter_dir import Restored
from certkernel.errors import CheckpointRefused, ReverterError
from certkernel.fsutil import fsync_dir
from certkernel.lock import DEFAULT_TIMEOUT, FileLock

logger = logging.getLogger(__name__)

BACKUP_DIR = "backups"
TEMP_DIR = "temp_checkpoint"
IN_PROGRESS_DIR = "IN_PROGRESS"
LOCK_FILE = ".certkernel-checkpoints.lock"

__all__ = ["CheckpointInfo", "Restored", "Reverter"]


@dataclass
class CheckpointInfo:
    """One checkpoint as ``rollback`` and the log show it."""

    kind: str  # "finalized", "in-progress" or "temporary"
    name: str  # the directory name (the timestamp for finalized ones)
    path: str
    title: str
    timestamp: float | None
    files: list[str] = field(default_factory=list)
    new_files: list[str] = field(default_factory=list)
    installer: dict[str, Any] | None = None  # who made it, with its options

    @property
    def when(self) -> str:
        """Local time of the checkpoint, or ``unfinished``."""
        if self.timestamp is None:
            return "unfinished"
        return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.timestamp))


def _overlap(a: str, b: str) -> bool:
    """One of two normalized absolute paths contains the other."""
    return a == b or a.startswith(b.rstrip("/") + "/") or b.startswith(a.rstrip("/") + "/")


def _timestamp(name: str) -> float | None:
    try:
        value = float(name)
    except ValueError:
        return None
    return value if value >= 0 else None


class Reverter:
    """Checkpoints under ``work_dir``; implements the plugin host's ``Checkpoints``."""

    def __init__(self, work_dir: str, *, lock_timeout: float = DEFAULT_TIMEOUT) -> None:
        self.work_dir = os.path.abspath(work_dir)
        self.backup_dir = os.path.join(self.work_dir, BACKUP_DIR)
        self.temp_dir = os.path.join(self.work_dir, TEMP_DIR)
        self.in_progress_dir = os.path.join(self.work_dir, IN_PROGRESS_DIR)
        self._lock = FileLock(os.path.join(self.work_dir, LOCK_FILE), lock_timeout,
                              purpose=f"the checkpoints in {self.work_dir}")
        # This store recorded temporary changes: they are its to revert
        # (never another run's, which holds the lock while it works).
        self._made_temporary = False

    # -- lifetime ---------------------------------------------------------
    def __enter__(self) -> Reverter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Revert temporary changes this run left, then release the work dir's lock.

        Runs however the command ended (success, CA or plugin failure, a
        kernel error, Ctrl-C), so a challenge's server block or vhost never
        stays behind to show up in a later ``rollback`` as "left by an
        interrupted run".  A failure to revert is logged, never raised over
        the run's own outcome; the next run's recovery tries again.
        """
        try:
            self.revert_own_temporary()
        except ReverterError as exc:
            logger.error("Reverting this run's temporary (challenge) changes failed: %s. "
                         "The next certkernel run restores them before it changes anything.", exc)
        finally:
            self._lock.release()

    def revert_own_temporary(self) -> Restored | None:
        """Restore the temporary changes this store recorded, if any are still there.

        The kernel calls this after every authenticator ``cleanup`` and at
        the end of the run; a plugin that reverted its own changes (nginx,
        apache) leaves nothing, and then nothing happens.  A store that
        recorded no temporary change never takes the lock for this.
        """
        if not self._made_temporary or not os.path.isdir(self.temp_dir):
            return None
        result = self.revert_temporary()
        if result is not None:
            logger.info("Reverted temporary changes a plugin left: restored %d file(s), "
                        "removed %d", len(result.restored), len(result.removed))
            for why in result.refused:
                logger.warning("Temporary change NOT reverted: %s", why)
        return result

    def _locked(self) -> None:
        if self._lock.held:
            return
        cpdir.ensure_dir(self.work_dir)
        self._lock.acquire()
        cpdir.remove_trash(self.work_dir)
        cpdir.remove_trash(self.backup_dir)

    # -- recording changes ------------------------------------------------
    def _dir(self, temporary: bool) -> str:
        return self.temp_dir if temporary else self.in_progress_dir

    def add(self, files: Sequence[str], temporary: bool = False, *,
            roots: Sequence[str], installer: Mapping[str, Any] | None = None) -> None:
        """Save the current bytes of ``files`` (each beneath one of ``roots``) before they change.

        ``roots`` are recorded with the checkpoint: every later restore of
        these files is confined to them, whoever asks for it.  ``installer``
        (``{"installer": name, <renewal-conf key>: value...}``) is recorded
        too, so ``certkernel rollback`` can restart that server unaided.
        """
        paths = [cpdir.check_path(f) for f in files]
        checked = self._check_roots(roots)
        self._locked()
        if temporary:
            self._made_temporary = True
        else:
            self._refuse_temporary(paths)
        copied = cpdir.save_files(self._dir(temporary), paths, checked)
        if installer is not None and copied:
            cpdir.record_installer(self._dir(temporary), installer)
        if copied:
            logger.debug("checkpoint (%s): saved %s", self._kind(temporary), ", ".join(copied))

    def register_new(self, files: Sequence[str], temporary: bool = False, *,
                     roots: Sequence[str], installer: Mapping[str, Any] | None = None) -> None:
        """Record files about to be created (beneath ``roots``), so reverting deletes them."""
        paths = [cpdir.check_path(f) for f in files]
        checked = self._check_roots(roots)
        self._locked()
        if temporary:
            self._made_temporary = True
        else:
            self._refuse_temporary(paths)
        cpdir.add_new_files(self._dir(temporary), paths, checked)
        if installer is not None:
            cpdir.record_installer(self._dir(temporary), installer)
        logger.debug("checkpoint (%s): new files %s", self._kind(temporary), ", ".join(paths))

    def _check_roots(self, roots: Sequence[str]) -> list[str]:
        """Roots to record: none may hold, or sit inside, this work dir.

        The work dir holds the checkpoints and every plugin's state
        directory; the kernel never restores into either.
        """
        checked = cpdir.check_roots(roots)
        if not checked:
            raise CheckpointRefused("no checkpoint roots: nothing may be checkpointed")
        for root in checked:
            if _overlap(root, self.work_dir):
                raise CheckpointRefused(
                    f"checkpoint root {root} overlaps the work dir {self.work_dir} (checkpoints "
                    "and plugin state directories); the kernel never restores into it"
                )
        return checked

    def _restore(self, path: str, info: Restored) -> Restored:
        return reverter_restore.restore(path, info, forbidden=[self.work_dir])

    def _refuse_temporary(self, paths: list[str]) -> None:
        """A permanent save of a file mid-temporary-change would capture the temp state."""
        held = set(cpdir.read_list(self.temp_dir, cpdir.FILEPATHS))
        held.update(cpdir.read_list(self.temp_dir, cpdir.NEW_FILES))
        for path in paths:
            if path in held:
                raise CheckpointRefused(
                    f"cannot checkpoint {path}: it holds a temporary (challenge) change; "
                    f"revert temporary changes first"
                )

    @staticmethod
    def _kind(temporary: bool) -> str:
        return "temporary" if temporary else "in-progress"

    def finalize(self, title: str) -> str | None:
        """Close the in-progress checkpoint under ``title``; its backup dir name.

        With nothing in progress this does nothing (as Certbot), returning None.
        """
        self._locked()
        if not os.path.isdir(self.in_progress_dir):
            return None
        cpdir.write_title(self.in_progress_dir, title)
        cpdir.ensure_dir(self.backup_dir)
        name = self._next_name()
        final = os.path.join(self.backup_dir, name)
        try:
            os.rename(self.in_progress_dir, final)
        except OSError as exc:
            raise ReverterError(
                f"cannot finalize checkpoint {self.in_progress_dir} as {final}: {exc.strerror}"
            ) from exc
        fsync_dir(self.work_dir)
        fsync_dir(self.backup_dir)
        logger.debug("Saved checkpoint %s: %s", name, title)
        return name

    def _next_name(self) -> str:
        """A timestamp later than every existing backup (clocks can step back)."""
        now = time.time()
        stamps = [ts for _n, ts in self._finalized()]
        if stamps and now <= stamps[-1]:
            now = stamps[-1] + 0.001
        name = f"{now:.6f}"
        while os.path.lexists(os.path.join(self.backup_dir, name)):
            now += 0.001
            name = f"{now:.6f}"
        return name

    # -- undoing changes --------------------------------------------------
    def revert_temporary(self) -> Restored | None:
        """Restore every temporary change exactly; None when there was none."""
        self._locked()
        if not os.path.isdir(self.temp_dir):
            return None
        result = self._restore(self.temp_dir, self._result("temporary", self.temp_dir))
        logger.debug(
            "Reverted temporary changes: restored %d file(s), removed %d",
            len(result.restored), len(result.removed),
        )
        return result

    def recovery_routine(self) -> list[Restored]:
        """Undo what an interrupted run left: temporary, then in-progress changes."""
        self._locked()
        results: list[Restored] = []
        temp = self.revert_temporary()
        if temp is not None:
            results.append(temp)
        if os.path.isdir(self.in_progress_dir):
            done = self._restore(
                self.in_progress_dir, self._result("in-progress", self.in_progress_dir)
            )
            logger.debug(
                "Reverted unfinished changes: restored %d file(s), removed %d",
                len(done.restored), len(done.removed),
            )
            results.append(done)
        return results

    def needs_recovery(self) -> bool:
        """True when a previous run left temporary or unfinished changes."""
        return os.path.isdir(self.temp_dir) or os.path.isdir(self.in_progress_dir)

    def rollback(self, count: int) -> list[Restored]:
        """Restore the newest ``count`` finalized checkpoints, newest first.

        Unfinished and temporary changes sit on top of every finalized
        checkpoint, so they are undone first (else a later recovery would
        re-apply them over the rolled-back files).  Asking for more
        checkpoints than exist restores them all, with a warning.
        """
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ReverterError(f"the number of checkpoints must be a positive integer, not {count!r}")
        self._locked()
        results = self.recovery_routine()
        backups = self._finalized()
        if count == 0:
            return results
        if not backups:
            logger.debug("certkernel has not modified your configuration: nothing to roll back")
        elif len(backups) < count:
            logger.debug("Unable to roll back %d checkpoints, only %d exist", count, len(backups))
        for name, stamp in list(reversed(backups))[:count]:
            path = os.path.join(self.backup_dir, name)
            info = self._result("finalized", path, stamp)
            try:
                results.append(self._restore(path, info))
            except ReverterError as exc:
                raise ReverterError(f"rollback stopped at checkpoint {name}: {exc}") from exc
            logger.debug("Rolled back checkpoint %s (%s)", name, info.title)
        return results

    def _result(self, kind: str, path: str, stamp: float | None = None) -> Restored:
        return Restored(kind, os.path.basename(path), cpdir.read_title(path), stamp)

    # -- listing ----------------------------------------------------------
    def _finalized(self) -> list[tuple[str, float]]:
        """Backup directory names with their timestamps, oldest first."""
        try:
            names = os.listdir(self.backup_dir)
        except FileNotFoundError:
            return []
        found: list[tuple[str, float]] = []
        for name in names:
            stamp = _timestamp(name)
            if stamp is None or not os.path.isdir(os.path.join(self.backup_dir, name)):
                if not name.startswith(cpdir.TRASH_PREFIX):
                    logger.debug("ignoring %s in %s: not a checkpoint", name, self.backup_dir)
                continue
            found.append((name, stamp))
        found.sort(key=lambda item: item[1])
        return found

    def view(self) -> list[CheckpointInfo]:
        """Every checkpoint, newest first: temporary, in-progress, then finalized."""
        infos: list[CheckpointInfo] = []
        for kind, path in (("temporary", self.temp_dir), ("in-progress", self.in_progress_dir)):
            if os.path.isdir(path):
                infos.append(self._info(kind, path, None))
        for name, stamp in reversed(self._finalized()):
            infos.append(self._info("finalized", os.path.join(self.backup_dir, name), stamp))
        return infos

    @staticmethod
    def _info(kind: str, path: str, stamp: float | None) -> CheckpointInfo:
        return CheckpointInfo(
            kind=kind,
            name=os.path.basename(path),
            path=path,
            title=cpdir.read_title(path),
            timestamp=stamp,
            files=cpdir.read_list(path, cpdir.FILEPATHS),
            new_files=cpdir.read_list(path, cpdir.NEW_FILES),
            installer=cpdir.read_installer(path),
        )
