"""Plugin key-value storage in Certbot's ``<config_dir>/.pluginstorage.json``.

The file is one JSON object keyed by plugin name; each plugin sees only its
own object: the plugin host names the section from the manifest of the
process that called ``storage/get|put|delete``, never from anything the
plugin sends, so one plugin cannot reach another's keys. Certbot plugins
kept state here (for example the nginx/apache auto-HSTS data), so the same
file and shape are used.

Why a lock: a put is read-modify-write of the whole file, and ``renew``
runs plugins in parallel (threads of one kernel) while a second certkernel
may run beside it (another process). Without a lock two writers each read
the old file and the later save drops the earlier key. Every put/delete
therefore holds a thread lock (writers of this process) and an ``flock``
on ``<config_dir>/.locks/pluginstorage.lock`` (other processes), both
waited for a bounded time, and rewrites the file atomically, mode 0600 (a
plugin may keep something private in it). Reads need no lock: they see the
old file or the new one, whole.

Why a cap: a plugin is hostile until shown otherwise; its section of the
shared file is capped (:data:`MAX_PLUGIN_BYTES` of JSON) so it cannot fill
the disk or make every other plugin's load slow.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from certkernel import fsutil
from certkernel.errors import LockError, PluginStorageError
from certkernel.lock import DEFAULT_TIMEOUT, FileLock

FILENAME = ".pluginstorage.json"
LOCK_NAME = "pluginstorage.lock"
MAX_PLUGIN_BYTES = 1 << 20  # JSON bytes of one plugin's section

_thread_locks: dict[str, threading.Lock] = {}
_thread_locks_guard = threading.Lock()


def _thread_lock(path: str) -> threading.Lock:
    """One lock per storage file for all writers in this process."""
    with _thread_locks_guard:
        return _thread_locks.setdefault(os.path.abspath(path), threading.Lock())


def _section_bytes(section: dict[str, Any]) -> int:
    return len(json.dumps(section, sort_keys=True).encode("utf-8"))


@dataclass
class PluginStorage:
    """The storage of all plugins of one config dir (see the module docstring).

    Reads the file on each call rather than caching it, so two plugins (or
    two runs) saving in turn never drop each other's keys.
    """

    config_dir: str
    max_bytes: int = MAX_PLUGIN_BYTES
    lock_timeout: float = DEFAULT_TIMEOUT

    @property
    def path(self) -> str:
        return os.path.join(self.config_dir, FILENAME)

    @property
    def lock_path(self) -> str:
        return os.path.join(self.config_dir, ".locks", LOCK_NAME)

    # -- locking ---------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Hold this process's writer lock and the cross-process file lock."""
        thread_lock = _thread_lock(self.path)
        if not thread_lock.acquire(timeout=self.lock_timeout):
            raise self._busy()
        try:
            try:
                os.makedirs(os.path.dirname(self.lock_path), 0o700, exist_ok=True)
            except OSError as exc:
                raise PluginStorageError(
                    f"cannot open the plugin storage lock {self.lock_path}: {exc.strerror}"
                ) from exc
            lock = FileLock(self.lock_path, self.lock_timeout,
                            purpose=f"the plugin storage {self.path}")
            try:
                lock.acquire()
            except LockError as exc:
                raise PluginStorageError(str(exc)) from None
            try:
                yield
            finally:
                lock.release()
        finally:
            thread_lock.release()

    def _busy(self) -> PluginStorageError:
        """The thread lock timed out: its holder is another thread of this very process."""
        return PluginStorageError(
            f"Another writer in this certkernel process (PID {os.getpid()}) is using the "
            f"plugin storage {self.path}; waited {self.lock_timeout:g}s. "
            "Try again when it has finished."
        )

    # -- file ------------------------------------------------------------------

    def _load(self) -> dict[str, Any]:
        try:
            with open(self.path, "rb") as handle:
                data = handle.read()
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise PluginStorageError(f"cannot read {self.path}: {exc.strerror}") from exc
        if not data.strip():
            return {}
        try:
            loaded = json.loads(data)
        except ValueError as exc:
            raise PluginStorageError(
                f"{self.path} is not valid JSON ({exc}); fix or remove it"
            ) from exc
        if not isinstance(loaded, dict):
            raise PluginStorageError(f"{self.path} must hold a JSON object")
        return loaded

    def _save(self, everything: dict[str, Any]) -> None:
        text = json.dumps(everything, indent=4, sort_keys=True)
        fsutil.make_dirs(self.config_dir, 0o755)
        try:
            fsutil.atomic_write(self.path, text + "\n", 0o600)
        except Exception as exc:
            raise PluginStorageError(str(exc)) from exc

    def _check_value(self, plugin: str, key: str, value: Any) -> None:
        try:
            size = len(json.dumps({key: value}).encode("utf-8"))
        except (TypeError, ValueError) as exc:
            raise PluginStorageError(f"value cannot be stored as JSON: {exc}") from exc
        if size > self.max_bytes:
            raise self._over(plugin, key, size)

    def _over(self, plugin: str, key: str, size: int) -> PluginStorageError:
        return PluginStorageError(
            f"plugin storage of {plugin!r} would hold {size} bytes after putting {key!r}, "
            f"over the cap of {self.max_bytes} bytes per plugin; store less or delete "
            "keys it no longer needs"
        )

    # -- the API ---------------------------------------------------------------

    def get(self, plugin: str, key: str, default: Any = None) -> Any:
        section = self._load().get(plugin)
        if not isinstance(section, dict):
            return default
        return section.get(key, default)

    def put(self, plugin: str, key: str, value: Any) -> None:
        """Store ``value`` under ``key`` in ``plugin``'s section; refused over the cap."""
        self._check_value(plugin, key, value)  # cheap refusals before waiting for the lock
        with self._locked():
            everything = self._load()
            section = everything.get(plugin)
            if not isinstance(section, dict):
                section = {}
            section = {**section, key: value}
            size = _section_bytes(section)
            if size > self.max_bytes:
                raise self._over(plugin, key, size)
            everything[plugin] = section
            self._save(everything)

    def delete(self, plugin: str, key: str) -> bool:
        """Remove a key; returns whether it was there."""
        with self._locked():
            everything = self._load()
            section = everything.get(plugin)
            if not isinstance(section, dict) or key not in section:
                return False
            del section[key]
            if not section:
                del everything[plugin]
            self._save(everything)
            return True
