"""Per-lineage, per-account and per-server-root locks for concurrent runs.

Certbot takes one lock on the whole config dir, so a second ``renew``
refuses to start. certkernel locks what a run actually touches: the
lineage it writes a new version of, the account whose key it signs with
while registering or updating, and the installer's server root. Two runs on
different lineages therefore proceed in parallel; two runs on the same
lineage serialize (the second waits, bounded, then fails with a
:class:`LockError` naming the holder's PID).

Locks are ``flock`` on files under ``<config-dir>/.locks/``: the kernel
releases them when the holder dies, even by SIGKILL, so a killed run never
leaves a stale lock; the PID it wrote stays in the file only as a hint.
Only the standard library is imported.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING

from certkernel.errors import LockError
from certkernel.reverter_lock import FileLock

if TYPE_CHECKING:
    from certkernel.config import Config

LOCK_DIR = ".locks"
DEFAULT_TIMEOUT = 60.0
_SAFE = re.compile(r"[^A-Za-z0-9._-]")


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


def make_lock(config_dir: str, kind: str, key: str, what: str,
              timeout: float = DEFAULT_TIMEOUT) -> FileLock:
    """A (not yet taken) lock on one ``kind`` of thing named ``key``."""
    path = os.path.join(lock_dir(config_dir), _file_name(kind, key))
    return FileLock(path, timeout=timeout, purpose=what)


@contextmanager
def held(lock: FileLock) -> Iterator[FileLock]:
    """Hold ``lock`` for the block."""
    lock.acquire()
    try:
        yield lock
    finally:
        lock.release()


def lineage_lock(config_dir: str, name: str, timeout: float = DEFAULT_TIMEOUT) -> FileLock:
    """The lock a run holds while it makes or changes lineage ``name``."""
    return make_lock(config_dir, "lineage", name, f"the certificate lineage {name}", timeout)


def account_lock(config_dir: str, server: str, timeout: float = DEFAULT_TIMEOUT) -> FileLock:
    """The lock around loading/registering the accounts of one ACME server."""
    return make_lock(config_dir, "account", server, f"the accounts for {server}", timeout)


def server_root_lock(config_dir: str, root: str, timeout: float = DEFAULT_TIMEOUT) -> FileLock:
    """The lock around changing one installer server root (nginx/apache config)."""
    real = os.path.realpath(root)
    return make_lock(config_dir, "root", real, f"the server configuration in {real}", timeout)


@contextmanager
def lineage_locked(config_dir: str, name: str,
                   timeout: float = DEFAULT_TIMEOUT) -> Iterator[FileLock]:
    """Hold the lock of lineage ``name`` for the block."""
    with held(lineage_lock(config_dir, name, timeout)) as lock:
        yield lock


def lock_server_root(root: str, config: Config) -> AbstractContextManager[FileLock]:
    """Hold one installer server root for a block (used by ``certkernel.deploy``)."""
    return held(server_root_lock(config.config_dir, root, lock_timeout(config)))


def lock_timeout(config: Config | None = None) -> float:
    """How long to wait for a lock: ``CERTKERNEL_LOCK_TIMEOUT`` seconds, else 60."""
    raw = os.environ.get("CERTKERNEL_LOCK_TIMEOUT", "")
    try:
        return max(0.0, float(raw)) if raw else DEFAULT_TIMEOUT
    except ValueError:
        return DEFAULT_TIMEOUT
