"""An exclusive ``flock`` on a file, with a bounded wait and the holder's PID.

The checkpoint store is shared by every certkernel process using the same
``--work-dir``: a renewal from cron and an admin's ``rollback`` must not
interleave their copies and restores.  ``flock`` is released by the kernel
when the holder dies (even by SIGKILL), so a crash never leaves a stale lock.
The holder writes its PID into the file so the one waiting can say who it is
waiting for.  Only the standard library is imported.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import time
from dataclasses import dataclass, field

from certkernel.errors import LockError

logger = logging.getLogger(__name__)

POLL_INTERVAL = 0.05


def _holder(fd: int) -> str:
    """The PID written by the current holder, or ``unknown``."""
    try:
        data = os.pread(fd, 32, 0)
    except OSError:
        return "unknown"
    text = data.decode("ascii", "replace").strip()
    return text if text.isdigit() else "unknown"


@dataclass
class FileLock:
    """One exclusive lock on ``path``; :meth:`acquire` waits at most ``timeout`` s."""

    path: str
    timeout: float = 30.0
    purpose: str = "the checkpoints"
    _fd: int | None = field(default=None, init=False, repr=False)

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        """Take the lock; raise :class:`LockError` naming the holder on timeout."""
        if self._fd is not None:
            return
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        except OSError as exc:
            raise LockError(f"cannot open lock file {self.path}: {exc.strerror}") from exc
        try:
            self._wait(fd)
        except BaseException:
            os.close(fd)
            raise
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        self._fd = fd

    def _wait(self, fd: int) -> None:
        deadline = time.monotonic() + max(self.timeout, 0.0)
        announced = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                pass
            holder = _holder(fd)
            if time.monotonic() >= deadline:
                raise LockError(
                    f"Another certkernel process (PID {holder}) is using {self.purpose} "
                    f"(lock file {self.path}); waited {self.timeout:g}s. "
                    f"Try again when it has finished."
                )
            if not announced:
                logger.warning(
                    "Waiting up to %gs for %s: locked by PID %s (%s)",
                    self.timeout, self.purpose, holder, self.path,
                )
                announced = True
            time.sleep(POLL_INTERVAL)

    def release(self) -> None:
        """Give the lock up (the file stays; deleting it would race a waiter)."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
