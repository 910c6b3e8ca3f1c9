"""Fixtures for nginx plugin tests: a private nginx, test certificates, the plugin process."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.infra.nginx import Nginx
from tests.infra.pebble import free_port


@dataclass
class Site:
    nginx: Nginx
    root: Path
    http_port: int
    https_port: int


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    """A running private nginx with one plain port-80-style site (on free ports)."""
    root = tmp_path / "nginx"
    root.mkdir()
    (root / "sites").mkdir()
    http_port, https_port = free_port(), free_port()
    server = Nginx(root)
    server.write("    include sites/*.conf;\n")
    (root / "sites" / "example.conf").write_text(
        "# the example site\n"
        "server {\n"
        f"    listen 127.0.0.1:{http_port};\n"
        "    server_name example.test www.example.test;\n"
        "\n"
        "    location / {\n"
        '        return 200 "plain site\\n";\n'
        "    }\n"
        "}\n"
    )
    with server:
        yield Site(server, root, http_port, https_port)
