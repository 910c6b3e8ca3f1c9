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


def pytest_configure(config: pytest.Config) -> None:
    """As root, keep this session's temporary folders in a private base (see below).

    pytest's shared ``/tmp/pytest-of-root`` is reset to 0700 by every pytest
    session that starts, so a folder of our own is used instead (removed at
    the end) unless ``--basetemp`` was given.
    """
    import os
    import tempfile

    if os.geteuid() == 0 and not config.option.basetemp and \
            not hasattr(config, "workerinput"):
        config.option.basetemp = tempfile.mkdtemp(prefix="certkernel-tests-")
        config._certkernel_basetemp = config.option.basetemp  # type: ignore[attr-defined]


def pytest_unconfigure(config: pytest.Config) -> None:
    import shutil

    base = getattr(config, "_certkernel_basetemp", None)
    if base:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session", autouse=True)
def traversable_tmp(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Let other users pass through pytest's temporary folders (o+x, not o+r).

    Why: run as root, certkernel starts plugins that need no root as its
    unprivileged account, and such a plugin must reach its state directory
    under ``--work-dir`` — as it does under /var/lib/letsencrypt (0755). pytest
    makes its folders 0700; this makes the ones it creates 0711 (in a base
    of their own, see pytest_configure), the way a
    real system's folders are, so the tests exercise that default rather
    than opting out of it.
    """
    import os

    if os.geteuid() != 0:
        return
    base = tmp_path_factory.getbasetemp()
    base.chmod(base.stat().st_mode | 0o011)
    mktemp = tmp_path_factory.mktemp

    def traversable(basename: str, numbered: bool = True) -> Path:
        path = mktemp(basename, numbered)
        path.chmod(path.stat().st_mode | 0o011)
        return path

    tmp_path_factory.mktemp = traversable  # type: ignore[method-assign]
