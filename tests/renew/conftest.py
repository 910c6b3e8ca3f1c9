"""A Pebble of our own, a web server for webroot, and a CLI runner for renew tests.

Renew tests issue real certificates through ``certkernel certonly -a
webroot`` against Pebble, then run ``certkernel renew`` as a subprocess,
exactly as cron would. The http-01 port of this Pebble is served from one
directory by a small threaded HTTP server started here, so the webroot
plugin's files are what Pebble validates.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.infra.httpd import static_site
from tests.infra.pebble import Pebble
from tests.renew.renew_env import Host


@dataclass
class Served:
    """A Pebble plus the directory its http-01 validations are answered from."""

    pebble: Pebble
    webroot: Path


@pytest.fixture(scope="session")
def served(pebble_factory: Callable[..., Pebble],
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    server = pebble_factory()
    root = tmp_path_factory.mktemp("renew-webroot")
    with static_site(root, server.http01_port):
        yield Served(server, root)


@pytest.fixture
def host(served: Served, tmp_path: Path) -> Host:
    return Host(served, tmp_path)
