"""Per-test installation dirs and the dns-01 hook for the session Pebble."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.commands_certonly.cli_helpers import Dirs, dns_hook
from tests.infra.pebble import Pebble


@pytest.fixture
def dirs(tmp_path: Path) -> Dirs:
    return Dirs.under(tmp_path)


@pytest.fixture
def hook(tmp_path: Path, pebble: Pebble) -> Path:
    return dns_hook(tmp_path, pebble)
