"""What the end-to-end web server sites share: the CLI runner and the certkernel dirs.

tests/e2e_nginx and tests/e2e_apache each run a private server on Pebble's
http-01 port and call ``certkernel`` as a user would; only the server and
its ``--<plugin>-server-root`` flag differ, so the command line is built here.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from tests.infra.pebble import Pebble

REPO = Path(__file__).resolve().parents[2]


class CliSite:
    """Mixed into a site dataclass that has these fields (the order is the dataclass's)."""

    root: Path  # the web server's configuration root
    base: Path  # the test's folder: certkernel's etc/, work/, logs/ live here
    http_port: int
    https_port: int
    pebble: Pebble
    server_root_flag = ""  # e.g. "--nginx-server-root"

    @property
    def config_dir(self) -> Path:
        return self.base / "etc"

    @property
    def work_dir(self) -> Path:
        return self.base / "work"

    def argv(self, *args: str) -> list[str]:
        """The command line (without the program) for ``certkernel ARGS`` in this test."""
        return [
            *args, "-n",
            "--server", self.pebble.directory_url, "--ca-bundle", self.pebble.ca_bundle,
            "--config-dir", str(self.config_dir), "--work-dir", str(self.work_dir),
            "--logs-dir", str(self.base / "logs"),
            "--agree-tos", "-m", "admin@example.org",
            "--http-01-port", str(self.http_port), "--https-port", str(self.https_port),
            self.server_root_flag, str(self.root),
        ]

    def cli(self, *args: str, timeout: float = 180.0,
            wrapper: Sequence[str] = ()) -> subprocess.CompletedProcess[str]:
        """``certkernel ARGS`` as a user runs it, pointed at this test's Pebble and server.

        ``wrapper`` is a command that execs the rest (``unshare ...``), for runs
        that need a different view of the machine.
        """
        argv = [*wrapper, sys.executable, "-m", "certkernel", *self.argv(*args)]
        env = {k: v for k, v in os.environ.items() if k != "REQUESTS_CA_BUNDLE"}
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=REPO,
                              env=env, check=False)

    def live_serial(self, name: str = "example.test") -> int:
        from cryptography import x509

        pem = (self.config_dir / "live" / name / "cert.pem").read_bytes()
        return x509.load_pem_x509_certificate(pem).serial_number
