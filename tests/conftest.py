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
