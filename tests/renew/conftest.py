"""A Pebble of our own, a web server for webroot, and a CLI runner for renew tests.

Renew tests issue real certificates through ``certkernel certonly -a
webroot`` against Pebble, then run ``certkernel renew`` as a subprocess,
exactly as cron would. The http-01 port of this Pebble is served from one
directory by a small threaded HTTP server started here, so the webroot
plugin's files are what Pebble validates.
"""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.infra.pebble import Pebble
from tests.renew.renew_env import Host


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


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
    handler = functools.partial(_Quiet, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", server.http01_port), handler)
    thread = threading.Thread(target=httpd.serve_forever, name="renew-http01", daemon=True)
    thread.start()
    yield Served(server, root)
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


@pytest.fixture
def host(served: Served, tmp_path: Path) -> Host:
    return Host(served, tmp_path)
