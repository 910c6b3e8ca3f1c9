"""acme2certifier CAs with ARI (one saying "renew now", one "renew later"), and a CLI runner.

The virtualenv is installed once per machine (tests/infra/a2c.py); each CA
is a real acme2certifier process on a free loopback port, stopped by PID.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.infra.a2c import A2C, A2CSettings, ensure_installed

REPO = Path(__file__).resolve().parents[2]
RUN_TIMEOUT = 120.0
RETRY_AFTER = 7200


@pytest.fixture(scope="session")
def a2c_python() -> Path:
    return ensure_installed()


def _serve(python: Path, state: Path, settings: A2CSettings) -> Iterator[A2C]:
    server = A2C(state, python, settings)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def a2c_now(a2c_python: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[A2C]:
    """renewal_force: every certificate's window has begun ("renew now")."""
    yield from _serve(a2c_python, tmp_path_factory.mktemp("a2c-now"),
                      A2CSettings(renewal_force=True, retry_after=RETRY_AFTER))


@pytest.fixture(scope="session")
def a2c_later(a2c_python: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[A2C]:
    """30-day certs whose window starts at 85 % of their life: weeks away."""
    yield from _serve(a2c_python, tmp_path_factory.mktemp("a2c-later"),
                      A2CSettings(renewal_force=False, retry_after=RETRY_AFTER))


@dataclass
class Host:
    """One machine's certkernel directories and the CLI run against them."""

    base: Path

    @property
    def config_dir(self) -> Path:
        return self.base / "etc"

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, "-m", "certkernel", *args,
                "--config-dir", str(self.config_dir), "--work-dir", str(self.base / "work"),
                "--logs-dir", str(self.base / "logs"), "-n"]
        env = dict(os.environ)
        env.pop("REQUESTS_CA_BUNDLE", None)
        return subprocess.run(argv, capture_output=True, text=True, env=env, cwd=REPO,
                              timeout=RUN_TIMEOUT, stdin=subprocess.DEVNULL)

    def issue(self, name: str, server: str, *extra: str) -> subprocess.CompletedProcess[str]:
        """certonly with the manual plugin (the CAs here do not validate)."""
        result = self.run("certonly", "--manual", "--manual-auth-hook", "true",
                          "--preferred-challenges", "http", "-d", name, "--server", server,
                          "--agree-tos", "-m", "ari@example.org", *extra)
        assert result.returncode == 0, result.stderr
        return result

    def renew(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.run("renew", "--no-random-sleep-on-renew", *args)

    def archive(self, name: str) -> Path:
        return self.config_dir / "archive" / name

    def ari_file(self, name: str) -> Path:
        return self.archive(name) / "ari.json"

    def current_cert(self, name: str) -> bytes:
        return (self.config_dir / "live" / name / "cert.pem").read_bytes()

    def conf_path(self, name: str) -> Path:
        return self.config_dir / "renewal" / f"{name}.conf"


@pytest.fixture
def host(tmp_path: Path) -> Host:
    return Host(tmp_path)


from tests.infra.postgres import pg_cluster  # noqa: E402, F401  (the session fixture, for fleet mode)
