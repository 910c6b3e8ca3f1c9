"""Shared fixtures: real services, started once per session.

Kept small and generic on purpose; subfolders add their own conftest.py.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.infra.pebble import Pebble, PebbleOptions  # noqa: E402


@pytest.fixture(scope="session")
def pebble(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pebble]:
    """The default Pebble: no EAB, no nonce rejection, fresh authzs, instant validation."""
    with Pebble(tmp_path_factory.mktemp("pebble")) as server:
        yield server


@pytest.fixture(scope="session")
def pebble_factory(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[..., Pebble]]:
    """Start special Pebbles (EAB, alternate roots, nonce rejection, custom DNS).

    Call with the fields of :class:`PebbleOptions`; all are stopped at session end.
    """
    started: list[Pebble] = []

    def make(**options: object) -> Pebble:
        server = Pebble(tmp_path_factory.mktemp("pebble-special"), PebbleOptions(**options))
        server.start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


@pytest.fixture(scope="session", autouse=True)
def traversable_tmp(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Let other users pass through pytest's temporary folders (o+x, not o+r).

    Why: run as root, certkernel starts plugins that need no root as its
    unprivileged account, and such a plugin must reach its state directory
    under ``--work-dir`` — as it does under /var/lib/letsencrypt (0755). pytest
    makes its folders 0700; this makes the ones it creates 0711, the way a
    real system's folders are, so the tests exercise that default rather
    than opting out of it.
    """
    import os

    if os.geteuid() != 0:
        return
    base = tmp_path_factory.getbasetemp()
    for folder in (base.parent, base):
        folder.chmod(folder.stat().st_mode | 0o011)
    mktemp = tmp_path_factory.mktemp

    def traversable(basename: str, numbered: bool = True) -> Path:
        path = mktemp(basename, numbered)
        path.chmod(path.stat().st_mode | 0o011)
        return path

    tmp_path_factory.mktemp = traversable  # type: ignore[method-assign]
