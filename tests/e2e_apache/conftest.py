"""Fixtures for end-to-end CLI runs against the session Pebble and a private apache2.

apache2 (Debian layout, built by tests/infra/apache.py) listens for plain
HTTP on Pebble's http-01 port, so Pebble validates the Apache
authenticator's challenge responses on the real server; the HTTPS port is
free and chosen at run time.  Every certkernel call is a real subprocess with
its own --config-dir/--work-dir/--logs-dir.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.infra.apache_site import Site, running_site
from tests.infra.pebble import Pebble


@pytest.fixture
def site(pebble: Pebble) -> Iterator[Site]:
    """A plain port-80-style Debian apache2 vhost on Pebble's http-01 port."""
    with running_site(pebble, "ck-e2e-apache-") as running:
        yield running
