"""A third-party plugin dropped into a plugin directory, run through the CLI against Pebble.

``plugins/flatconf`` is found through CERTKERNEL_PLUGIN_PATH, as an
operator's plugin folder is; it edits a one-file "server configuration"
under a checkpoint root it declares, and serves http-01 tokens from a
real web server on Pebble's http-01 port.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.infra.httpd import static_site
from tests.infra.pebble import Pebble

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
ORIGINAL = b"# flat server configuration\nlisten 443 ssl;\nserver_name flat.example;\n"


@dataclass
class Flat:
    """The plugin's server configuration, its webroot and the test's certkernel folders."""

    base: Path
    conf_dir: Path
    webroot: Path
    pebble: Pebble

    @property
    def conf(self) -> Path:
        return self.conf_dir / "server.conf"

    @property
    def work_dir(self) -> Path:
        return self.base / "work"

    @property
    def config_dir(self) -> Path:
        return self.base / "etc"

    def dirs(self) -> list[str]:
        return ["--config-dir", str(self.config_dir), "--work-dir", str(self.work_dir),
                "--logs-dir", str(self.base / "logs")]

    def cli(self, *args: str, plugin_flags: bool = True) -> subprocess.CompletedProcess[str]:
        """``certkernel ARGS`` with the plugin directory on CERTKERNEL_PLUGIN_PATH."""
        flags = ["--flatconf-conf-dir", str(self.conf_dir),
                 "--flatconf-webroot", str(self.webroot)] if plugin_flags else []
        argv = [sys.executable, "-m", "certkernel", *args, "-n", *self.dirs(), *flags,
                "--server", self.pebble.directory_url, "--ca-bundle", self.pebble.ca_bundle,
                "--agree-tos", "--register-unsafely-without-email"]
        env = {k: v for k, v in os.environ.items() if k != "REQUESTS_CA_BUNDLE"}
        env["CERTKERNEL_PLUGIN_PATH"] = str(HERE / "plugins")
        return subprocess.run(argv, capture_output=True, text=True, timeout=180, cwd=REPO,
                              env=env, stdin=subprocess.DEVNULL, check=False)


@pytest.fixture
def flat(tmp_path: Path, pebble: Pebble) -> Iterator[Flat]:
    conf_dir = tmp_path / "server"
    conf_dir.mkdir()
    (conf_dir / "server.conf").write_bytes(ORIGINAL)
    with static_site(tmp_path / "www", pebble.http01_port) as webroot:
        yield Flat(tmp_path, conf_dir, webroot, pebble)
