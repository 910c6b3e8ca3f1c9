"""The implementations of the storage seams that the contract suites run against.

``tests/storage/test_lineage_store_contract.py`` and ``test_lock_contract.py``
are parametrized over :data:`BACKENDS`: a second implementation of
``certkernel.interfaces.LineageStore`` (and of the ``Locker`` its ``lock``
returns), such as a shared store for fleet mode, is added here and must pass
the same tests. A backend is a function ``(base_dir, lock_timeout) ->
LineageStore``; two calls with the same ``base_dir`` are two handles on one
store (as two hosts, or two processes, would have).

Other processes open the same store through this module too
(``python -m tests.infra.store_backends hold KIND BASE NAME``), so the
cross-process tests stay backend-neutral.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from certkernel.interfaces import LineageStore
from certkernel.lineages.lineage_store import LocalStore

ROOT = Path(__file__).resolve().parents[2]


def _local(base: Path, lock_timeout: float) -> LineageStore:
    return LocalStore(str(base / "etc"), lock_timeout)


def _postgresql(base: Path, lock_timeout: float) -> LineageStore:
    """Fleet mode's store: a database of the session's private cluster (needs ``pg_cluster``)."""
    from tests.infra.fleet import open_pg_store

    return open_pg_store(base, lock_timeout)


BACKENDS: dict[str, Callable[[Path, float], LineageStore]] = {"local": _local,
                                                              "postgresql": _postgresql}
# Backends whose tests need a session fixture first (the fixture's name).
NEEDS: dict[str, str] = {"postgresql": "pg_cluster"}


def open_store(kind: str, base: Path, lock_timeout: float) -> LineageStore:
    return BACKENDS[kind](base, lock_timeout)


def holder_argv(kind: str, base: Path, name: str) -> list[str]:
    """A process that takes lineage ``name``'s lock, prints ``held`` and keeps it (until killed)."""
    return [sys.executable, "-m", "tests.infra.store_backends", "hold", kind, str(base), name]


def child_env() -> dict[str, str]:
    """The environment for those processes: this checkout importable as ``tests``."""
    from tests.infra.postgres import child_env_entry

    env = dict(os.environ)
    env.update(child_env_entry())
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    return env


def _hold(kind: str, base: str, name: str) -> None:
    lock = open_store(kind, Path(base), 5.0).lock(name)
    lock.acquire()
    print("held", flush=True)
    time.sleep(120)


def counter_argv(kind: str, base: Path, name: str, counter: Path, rounds: int) -> list[str]:
    """A process that ``rounds`` times, under lineage ``name``'s lock, reads ``counter``,
    pauses and writes it back plus one: a lost update shows a lock that did not exclude."""
    return [sys.executable, "-m", "tests.infra.store_backends", "count", kind, str(base), name,
            str(counter), str(rounds)]


def _count(kind: str, base: str, name: str, counter: str, rounds: str) -> None:
    store = open_store(kind, Path(base), 60.0)
    for _ in range(int(rounds)):
        lock = store.lock(name)
        lock.acquire()
        try:
            value = int(Path(counter).read_text() or "0")
            time.sleep(0.005)
            Path(counter).write_text(str(value + 1))
        finally:
            lock.release()


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "hold":
        _hold(*sys.argv[2:])
    elif len(sys.argv) == 7 and sys.argv[1] == "count":
        _count(*sys.argv[2:])
    else:
        sys.exit("usage: python -m tests.infra.store_backends hold KIND BASE NAME | "
                 "count KIND BASE NAME COUNTER ROUNDS")
