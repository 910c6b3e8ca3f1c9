"""Fixtures for end-to-end CLI runs against the session Pebble and a private nginx.

nginx listens for plain HTTP on Pebble's http-01 port (127.0.0.1), so Pebble
validates the nginx authenticator's challenge responses on the real server;
the HTTPS port is free and chosen at run time.  Every certkernel call is a
real subprocess with its own --config-dir/--work-dir/--logs-dir.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.infra.nginx_site import SITE, Site, running_site
from tests.infra.pebble import Pebble


@pytest.fixture
def site(tmp_path: Path, pebble: Pebble) -> Iterator[Site]:
    """A plain port-80-style nginx site on Pebble's http-01 port."""
    with running_site(tmp_path, pebble, {"example.conf": SITE}) as running:
        yield running
