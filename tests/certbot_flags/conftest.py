"""Per-test dirs and the dns-01 hook for the session Pebble; an acme2certifier with profiles."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.infra.a2c import A2C, A2CSettings, ensure_installed
from tests.infra.cli_fixtures import dirs, hook  # noqa: F401 (fixtures)

# acme2certifier's profiles here: the default (first) one issues 30-day
# certificates, "shortlived" issues 6-day ones.
PROFILES = {"classic": 30, "shortlived": 6}


@pytest.fixture(scope="session")
def a2c_profiles(tmp_path_factory: pytest.TempPathFactory) -> Iterator[A2C]:
    """A real acme2certifier whose directory advertises two profiles (and ARI)."""
    server = A2C(tmp_path_factory.mktemp("a2c-profiles"), ensure_installed(),
                 A2CSettings(profiles=dict(PROFILES), renewal_force=False, retry_after=7200))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def a2c_plain(tmp_path: Path) -> Iterator[A2C]:
    """An acme2certifier with no profiles in its directory (one per test: cheap to start)."""
    server = A2C(tmp_path / "a2c-plain", ensure_installed(), A2CSettings())
    server.start()
    try:
        yield server
    finally:
        server.stop()
