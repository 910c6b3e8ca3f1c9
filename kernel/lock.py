"""The kernel's one lock API: bounded, exclusive ``flock`` locks that name their holder.

Certbot takes one lock on the whole config dir, so a second ``renew``
refuses to start. certkernel locks what a run actually touches: the
lineage it writes a new version of, the account whose key it signs with
while registering or updating, the installer's server root, and the
checkpoint store. Two runs on different lineages therefore proceed in
parallel; two runs on the same lineage serialize (the second waits, bounded,
then fails with a :class:`LockError` naming the holder's PID).

Locks are ``flock`` on files under ``<config-dir>/.locks/`` (the checkpoint
store keeps its own under ``--work-dir``): the kernel releases them when the
holder dies, even by SIGKILL, so a killed run never leaves a stale lock; the
PID it wrote stays in the file only as a hint. Only the standard library is
imported.

The contract every caller relies on (and any other :class:`Locker`, such as
a shared store's, must keep) is written on :class:`certkernel.interfaces.Locker`.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from certkernel.errors import ConfigurationError, LockError

if TYPE_CHECKING:
    from certkernel.interfaces import Locker

logger = logging.getLogger(__name__)

LOCK_DIR = ".locks"
DEFAULT_TIMEOUT = 60.0
POLL_FIRST, POLL_MAX = 0.002, 0.05  # a short wait is noticed soon, a long one polls slowly
_SAFE = re.compile(r"[^A-Za-z0-9._-]")


def _holder(fd: int) -> str:
    """The current holder's PID: as it wrote it in the file, else from ``/proc/locks``.

    A lock on a file the holder cannot write (``/etc/passwd`` while an
    account is created) carries no PID; the kernel's own table of locks
    still names the process. ``unknown`` when neither does.
    """
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        text = ""
    if text.isdigit():
        return text
    return _holder_from_proc(fd)


def _holder_from_proc(fd: int) -> str:
    try:
        st = os.fstat(fd)
        with open("/proc/locks", encoding="ascii", errors="replace") as table:
            lines = table.read(1 << 20).splitlines()
    except OSError:
        return "unknown"
    wanted = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    for line in lines:
        fields = line.split()
        # "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF"; waiters are marked "->"
        if len(fields) >= 6 and fields[1] == "FLOCK" and fields[5] == wanted:
            return fields[4]
    return "unknown"


@dataclass
class FileLock:
    """One exclusive lock on ``path``; :meth:`acquire` waits at most ``timeout`` s.

    Satisfies :class:`certkernel.interfaces.Locker`. One object is one holder:
    it is not shared between threads (each thread makes its own; ``flock``
    on separate open files excludes them from each other as it does
    processes).
    """

    path: str
    timeout: float
    purpose: str
    _fd: int | None = field(default=None, init=False, repr=False)

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        """Take the lock; raise :class:`LockError` naming the holder on timeout.

        Idempotent: taking a lock this object already holds does nothing.
        """
        if self._fd is not None:
            return
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
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
        wait_exclusive(fd, self.timeout, self.purpose, self.path)

    def release(self) -> None:
        """Give the lock up; idempotent (the file stays: deleting it would race a waiter)."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def wait_exclusive(fd: int, timeout: float, purpose: str, path: str) -> None:
    """Take an exclusive ``flock`` on the open ``fd``, waiting at most ``timeout`` s.

    The one bounded wait behind every lock of the kernel and the plugin host.
    Polls (backing off to :data:`POLL_MAX`) rather than blocking, so the wait
    has a deadline; logs once who it waits for; on timeout raises
    :class:`LockError`: one line naming the holder's PID (as it wrote it in
    the file, else ``unknown``), the lock file and what to do.
    """
    deadline = time.monotonic() + max(timeout, 0.0)
    announced = False
    pause = POLL_FIRST
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            pass
        holder = _holder(fd)
        if time.monotonic() >= deadline:
            raise LockError(
                f"Another certkernel process (PID {holder}) is using {purpose} "
                f"(lock file {path}); waited {timeout:g}s. Try again when it has finished."
            )
        if not announced:
            logger.warning("Waiting up to %gs for %s: locked by PID %s (%s)",
                           timeout, purpose, holder, path)
            announced = True
        time.sleep(pause)
        pause = min(pause * 2, POLL_MAX)


def lock_dir(config_dir: str) -> str:
    """``<config-dir>/.locks`` (made 0700 on first use)."""
    path = os.path.join(config_dir, LOCK_DIR)
    try:
        os.makedirs(path, 0o700, exist_ok=True)
    except OSError as exc:
        raise LockError(f"cannot create lock directory {path}: {exc.strerror}") from exc
    return path


def _file_name(kind: str, key: str) -> str:
    """A file name for ``key``: readable when it is safe, hashed when it is a path."""
    cleaned = _SAFE.sub("_", key)
    if cleaned == key and len(key) <= 120 and not key.startswith("."):
        return f"{kind}-{key}.lock"
    digest = hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()[:24]
    return f"{kind}-{cleaned[-60:].lstrip('.')}-{digest}.lock"


def make_lock(config_dir: str, kind: str, key: str, what: str, timeout: float) -> FileLock:
    """A (not yet taken) lock on one ``kind`` of thing named ``key``."""
    path = os.path.join(lock_dir(config_dir), _file_name(kind, key))
    return FileLock(path, timeout=timeout, purpose=what)


L = TypeVar("L", bound="Locker")


@contextmanager
def held(lock: L) -> Iterator[L]:
    """Hold ``lock`` (any :class:`~certkernel.interfaces.Locker`) for the block."""
    lock.acquire()
    try:
        yield lock
    finally:
        lock.release()


def lineage_lock(config_dir: str, name: str, timeout: float) -> FileLock:
    """The lock a run holds while it makes or changes lineage ``name``."""
    return make_lock(config_dir, "lineage", name, f"the certificate lineage {name}", timeout)


def account_lock(config_dir: str, server: str, timeout: float) -> FileLock:
    """The lock around loading/registering the accounts of one ACME server."""
    return make_lock(config_dir, "account", server, f"the accounts for {server}", timeout)


def server_root_lock(config_dir: str, root: str, timeout: float) -> FileLock:
    """The lock around changing one installer server root (nginx/apache config).

    Keyed by the resolved path, so two spellings of one tree share one lock
    (the path is only a name here: nothing is opened through it).
    """
    real = os.path.realpath(root)
    return make_lock(config_dir, "root", real, f"the server configuration in {real}", timeout)


def parse_timeout(raw: str | None) -> float:
    """``CERTKERNEL_LOCK_TIMEOUT``'s value in seconds (unset or empty: 60).

    Read once, when the config is resolved; a value that is not a number is
    a :class:`ConfigurationError` rather than a silent default.
    """
    if not raw:
        return DEFAULT_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        raise ConfigurationError(
            f"CERTKERNEL_LOCK_TIMEOUT={raw!r} is not a number of seconds; "
            f"set it to e.g. 60, or unset it") from None
    return max(0.0, value)
