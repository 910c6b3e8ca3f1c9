"""The ``Locker`` contract (certkernel.interfaces), checked against every implementation.

The locks under test are the ones a ``LineageStore`` hands out
(``store.lock(name)``), for every backend in ``tests/infra/store_backends.py``:
a shared store's locker (fleet mode) is added there and must pass the same
tests, including the ones where the holder is another process.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from certkernel.errors import LockError
from certkernel.interfaces import Locker
from certkernel.lock import lineage_lock
from tests.infra.store_backends import (
    BACKENDS,
    NEEDS,
    ROOT,
    child_env,
    counter_argv,
    holder_argv,
    open_store,
)

Factory = Callable[[Path, str, float], Locker]


@pytest.fixture(params=sorted(BACKENDS))
def kind(request: pytest.FixtureRequest) -> str:
    if request.param in NEEDS:
        request.getfixturevalue(NEEDS[request.param])
    return str(request.param)


@pytest.fixture
def make(kind: str) -> Factory:
    """A fresh, not yet taken lock on the lineage called ``name`` of the store at ``base``."""

    def factory(base: Path, name: str, timeout: float) -> Locker:
        return open_store(kind, base, timeout).lock(name)

    return factory


def test_acquire_and_release_are_idempotent(make: Factory, tmp_path: Path) -> None:
    lock = make(tmp_path, "a.example", 1.0)
    assert isinstance(lock, Locker)
    lock.release()  # never taken: harmless
    lock.acquire()
    lock.acquire()  # already held: harmless
    assert lock.held
    lock.release()
    lock.release()
    assert not lock.held
    again = make(tmp_path, "a.example", 0.2)
    again.acquire()  # a released lock is free for anyone
    again.release()


def test_threads_with_their_own_objects_exclude_each_other(make: Factory, tmp_path: Path) -> None:
    inside = 0
    overlaps: list[int] = []
    guard = threading.Lock()

    def worker() -> None:
        nonlocal inside
        for _ in range(20):
            lock = make(tmp_path, "shared.example", 30.0)
            lock.acquire()
            try:
                with guard:
                    inside += 1
                    overlaps.append(inside)
                time.sleep(0.002)
                with guard:
                    inside -= 1
            finally:
                lock.release()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    assert len(overlaps) == 80
    assert max(overlaps) == 1


def test_processes_exclude_each_other(kind: str, tmp_path: Path) -> None:
    counter = tmp_path / "counter"
    counter.write_text("0")
    procs = [subprocess.Popen(counter_argv(kind, tmp_path, "counted.example", counter, 15),
                              cwd=ROOT, env=child_env()) for _ in range(3)]
    for proc in procs:
        assert proc.wait(timeout=240) == 0
    assert counter.read_text() == "45"  # no update lost: never two holders at once


def _holder(kind: str, base: Path, name: str) -> subprocess.Popen[str]:
    """Another process that takes the lock, says so, and holds it until killed."""
    proc = subprocess.Popen(holder_argv(kind, base, name), stdout=subprocess.PIPE, text=True,
                            cwd=ROOT, env=child_env())
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_a_held_lock_times_out_naming_the_holder(make: Factory, kind: str,
                                                 tmp_path: Path) -> None:
    holder = _holder(kind, tmp_path, "busy.example")
    try:
        lock = make(tmp_path, "busy.example", 0.3)
        started = time.monotonic()
        with pytest.raises(LockError) as caught:
            lock.acquire()
        assert time.monotonic() - started < 10  # bounded, not forever
        message = str(caught.value)
        assert f"PID {holder.pid}" in message
        assert "busy.example" in message
        assert "\n" not in message
        assert not lock.held
    finally:
        holder.kill()
        holder.wait(timeout=10)


def test_a_killed_holder_releases_its_lock(make: Factory, kind: str, tmp_path: Path) -> None:
    holder = _holder(kind, tmp_path, "dies.example")
    holder.kill()  # SIGKILL: no cleanup code runs
    holder.wait(timeout=10)
    lock = make(tmp_path, "dies.example", 2.0)
    lock.acquire()
    assert lock.held
    lock.release()


def test_other_names_do_not_wait(make: Factory, kind: str, tmp_path: Path) -> None:
    holder = _holder(kind, tmp_path, "one.example")
    try:
        other = make(tmp_path, "two.example", 0.0)
        other.acquire()  # a zero timeout: must not need to wait at all
        other.release()
    finally:
        holder.kill()
        holder.wait(timeout=10)


def test_lock_files_are_private(tmp_path: Path) -> None:
    lock = lineage_lock(str(tmp_path / "etc"), "private.example", 1.0)
    lock.acquire()
    try:
        assert os.stat(tmp_path / "etc" / ".locks").st_mode & 0o077 == 0
        assert os.stat(lock.path).st_mode & 0o077 == 0
    finally:
        lock.release()
