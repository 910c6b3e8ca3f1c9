"""Fixtures for end-to-end CLI runs against the session Pebble and a private nginx.

nginx listens for plain HTTP on Pebble's http-01 port (127.0.0.1), so Pebble
validates the nginx authenticator's challenge responses on the real server;
the HTTPS port is free and chosen at run time.  Every certkernel call is a
real subprocess with its own --config-dir/--work-dir/--logs-dir.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.infra.nginx import Nginx
from tests.infra.pebble import Pebble, free_port

REPO = Path(__file__).resolve().parents[2]
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
class Site:
    """A running private nginx, its ports, and the certkernel directories of the test."""

    nginx: Nginx
    root: Path
    base: Path
    http_port: int
    https_port: int
    pebble: Pebble

    @property
    def config_dir(self) -> Path:
        return self.base / "etc"

    @property
    def work_dir(self) -> Path:
        return self.base / "work"

    def snapshot(self) -> dict[str, bytes]:
        """Every configuration file under the server root, by relative path."""
        return {str(p.relative_to(self.root)): p.read_bytes() for p in sorted(self.root.rglob("*"))
                if p.is_file() and p.suffix == ".conf"}

    def argv(self, *args: str) -> list[str]:
        """The command line (without the program) for ``certkernel ARGS`` in this test."""
        return [
            *args, "-n",
            "--server", self.pebble.directory_url, "--ca-bundle", self.pebble.ca_bundle,
            "--config-dir", str(self.config_dir), "--work-dir", str(self.work_dir),
            "--logs-dir", str(self.base / "logs"),
            "--agree-tos", "-m", "admin@example.org",
            "--http-01-port", str(self.http_port), "--https-port", str(self.https_port),
            "--nginx-server-root", str(self.root),
        ]

    def cli(self, *args: str, timeout: float = 180.0) -> subprocess.CompletedProcess[str]:
        """``certkernel ARGS`` as a user runs it, pointed at this test's Pebble and nginx."""
        argv = [sys.executable, "-m", "certkernel", *self.argv(*args)]
        env = {k: v for k, v in os.environ.items() if k != "REQUESTS_CA_BUNDLE"}
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=REPO,
                              env=env, check=False)

    def live_serial(self, name: str = "example.test") -> int:
        from cryptography import x509

        pem = (self.config_dir / "live" / name / "cert.pem").read_bytes()
        return x509.load_pem_x509_certificate(pem).serial_number


@pytest.fixture
def site(tmp_path: Path, pebble: Pebble) -> Iterator[Site]:
    """A plain port-80-style nginx site on Pebble's http-01 port."""
    root = tmp_path / "nginx"
    (root / "sites").mkdir(parents=True)
    server = Nginx(root)
    server.write("    include sites/*.conf;\n")
    (root / "sites" / "example.conf").write_text(SITE.format(port=pebble.http01_port))
    with server:
        yield Site(server, root, tmp_path, pebble.http01_port, free_port(), pebble)
