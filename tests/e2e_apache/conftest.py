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
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.infra.apache import ApacheServer, DebianTree, free_port, readable_tempdir
from tests.infra.pebble import Pebble

REPO = Path(__file__).resolve().parents[2]
SITE = """<VirtualHost 127.0.0.1:{port}>
    ServerName example.test
    ServerAlias www.example.test
    DocumentRoot {var}/htdocs
</VirtualHost>
"""


@dataclass
class Site:
    """A running private apache2, its ports, and the certkernel directories of the test."""

    server: ApacheServer
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

    def cli(self, *args: str, timeout: float = 180.0) -> subprocess.CompletedProcess[str]:
        """``certkernel ARGS`` as a user runs it, pointed at this test's Pebble and apache2."""
        argv = [
            sys.executable, "-m", "certkernel", *args, "-n",
            "--server", self.pebble.directory_url, "--ca-bundle", self.pebble.ca_bundle,
            "--config-dir", str(self.config_dir), "--work-dir", str(self.work_dir),
            "--logs-dir", str(self.base / "logs"),
            "--agree-tos", "-m", "admin@example.org",
            "--http-01-port", str(self.http_port), "--https-port", str(self.https_port),
            "--apache-server-root", str(self.root),
        ]
        env = {k: v for k, v in os.environ.items() if k != "REQUESTS_CA_BUNDLE"}
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=REPO,
                              env=env, check=False)

    def live_serial(self, name: str = "example.test") -> int:
        from cryptography import x509

        pem = (self.config_dir / "live" / name / "cert.pem").read_bytes()
        return x509.load_pem_x509_certificate(pem).serial_number


@pytest.fixture
def site(pebble: Pebble) -> Iterator[Site]:
    """A plain port-80-style Debian apache2 vhost on Pebble's http-01 port."""
    base = readable_tempdir("ck-e2e-apache-")
    root = base / "apache2"
    conf = DebianTree(root, pebble.http01_port, {"example.conf": SITE}).build()
    server = ApacheServer(root, conf)
    server.start([pebble.http01_port])
    try:
        yield Site(server, root, base, pebble.http01_port, free_port(), pebble)
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)
