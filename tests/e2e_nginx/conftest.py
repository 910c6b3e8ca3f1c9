"""Fixtures for end-to-end CLI runs against the session Pebble and a private nginx.

nginx listens for plain HTTP on Pebble's http-01 port (127.0.0.1), so Pebble
validates the nginx authenticator's challenge responses on the real server;
the HTTPS port is free and chosen at run time.  Every certkernel call is a
real subprocess with its own --config-dir/--work-dir/--logs-dir.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.infra.e2e_site import CliSite
from tests.infra.nginx import Nginx
from tests.infra.pebble import Pebble, free_port

SITE = (
    "# the example site\n"
    "server {{\n"
    "    listen 127.0.0.1:{port};\n"
    "    server_name example.test www.example.test;\n"
    "\n"
    "    location / {{\n"
    '        return 200 "plain site\\n";\n'
    "    }}\n"
    "}}\n"
)


@dataclass
class Site(CliSite):
    """A running private nginx, its ports, and the certkernel directories of the test."""

    nginx: Nginx
    root: Path
    base: Path
    http_port: int
    https_port: int
    pebble: Pebble
    server_root_flag = "--nginx-server-root"

    def snapshot(self) -> dict[str, bytes]:
        """Every configuration file under the server root, by relative path."""
        return {str(p.relative_to(self.root)): p.read_bytes() for p in sorted(self.root.rglob("*"))
                if p.is_file() and p.suffix == ".conf"}


@contextmanager
def running_site(base: Path, pebble: Pebble, sites: dict[str, str]) -> Iterator[Site]:
    """nginx under ``base/nginx`` including ``sites/*.conf`` (name -> SITE-style template)."""
    root = base / "nginx"
    (root / "sites").mkdir(parents=True)
    server = Nginx(root)
    server.write("    include sites/*.conf;\n")
    for name, template in sites.items():
        (root / "sites" / name).write_text(template.format(port=pebble.http01_port))
    with server:
        yield Site(server, root, base, pebble.http01_port, free_port(), pebble)


@pytest.fixture
def site(tmp_path: Path, pebble: Pebble) -> Iterator[Site]:
    """A plain port-80-style nginx site on Pebble's http-01 port."""
    with running_site(tmp_path, pebble, {"example.conf": SITE}) as running:
        yield running
