"""Fixtures for end-to-end CLI runs against the session Pebble and a private apache2.

apache2 (Debian layout, built by tests/infra/apache.py) listens for plain
HTTP on Pebble's http-01 port, so Pebble validates the Apache
authenticator's challenge responses on the real server; the HTTPS port is
free and chosen at run time.  Every certkernel call is a real subprocess with
its own --config-dir/--work-dir/--logs-dir.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.infra.apache import ApacheServer, DebianTree, free_port, readable_tempdir
from tests.infra.e2e_site import CliSite
from tests.infra.pebble import Pebble

SITE = """<VirtualHost 127.0.0.1:{port}>
    ServerName example.test
    ServerAlias www.example.test
    DocumentRoot {var}/htdocs
</VirtualHost>
"""


@dataclass
class Site(CliSite):
    """A running private apache2, its ports, and the certkernel directories of the test."""

    server: ApacheServer
    root: Path
    base: Path
    http_port: int
    https_port: int
    pebble: Pebble
    server_root_flag = "--apache-server-root"

    def snapshot(self) -> dict[str, bytes | str]:
        """Every file (bytes) and symlink (target) under the server root."""
        found: dict[str, bytes | str] = {}
        for path in sorted(self.root.rglob("*")):
            rel = str(path.relative_to(self.root))
            if path.is_symlink():
                found[rel] = "-> " + os.readlink(path)
            elif path.is_file():
                found[rel] = path.read_bytes()
        return found


@contextmanager
def running_site(pebble: Pebble, prefix: str) -> Iterator[Site]:
    """The Debian-layout apache2 with the example.test vhost, in a fresh readable tempdir."""
    base = readable_tempdir(prefix)
    root = base / "apache2"
    conf = DebianTree(root, pebble.http01_port, {"example.conf": SITE}).build()
    server = ApacheServer(root, conf)
    server.start([pebble.http01_port])
    try:
        yield Site(server, root, base, pebble.http01_port, free_port(), pebble)
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def site(pebble: Pebble) -> Iterator[Site]:
    """A plain port-80-style Debian apache2 vhost on Pebble's http-01 port."""
    with running_site(pebble, "ck-e2e-apache-") as running:
        yield running
