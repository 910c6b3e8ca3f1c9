"""Fixtures the command test folders share: per-test dirs and the dns-01 hook.

Each folder's conftest.py imports them by name, so pytest sees them there
(a non-root conftest may not use ``pytest_plugins``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.infra.cli_run import Dirs, dns_hook
from tests.infra.pebble import Pebble


@pytest.fixture
def dirs(tmp_path: Path) -> Dirs:
    """A fresh installation (config/work/logs) under the test's tmp dir."""
    return Dirs.under(tmp_path)


@pytest.fixture
def hook(tmp_path: Path, pebble: Pebble) -> Path:
    """The manual dns-01 auth hook (cleanup hook beside it) for the session Pebble."""
    return dns_hook(tmp_path, pebble)
