"""A private apache2 (Debian layout) on Pebble's http-01 port, with the certkernel dirs of one test.

apache2 (built by tests/infra/apache.py) listens for plain HTTP on Pebble's
http-01 port, so Pebble validates the Apache authenticator's challenge
responses on the real server; the HTTPS port is free and chosen at run time.
Used by tests/e2e_apache and tests/e2e_renew_install.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

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
def running_site(pebble: Pebble, prefix: str, sites: dict[str, str] | None = None) -> Iterator[Site]:
    """The Debian-layout apache2 with ``sites`` (name -> vhost text; the example.test
    vhost by default), in a fresh readable tempdir."""
    base = readable_tempdir(prefix)
    root = base / "apache2"
    conf = DebianTree(root, pebble.http01_port, sites or {"example.conf": SITE}).build()
    server = ApacheServer(root, conf)
    server.start([pebble.http01_port])
    try:
        yield Site(server, root, base, pebble.http01_port, free_port(), pebble)
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)
