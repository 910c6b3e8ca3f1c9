"""A lineage made by a real Certbot 5.x, then looked after by certkernel (issue 13).

Certbot issues with ``--standalone --http-01-port X`` against Pebble (whose
http-01 validations go to X only). certkernel then renews it (on X, read
from the renewal conf), dry-run renews it, revokes it by ``--cert-name``
(at the CA saved in the conf), renews the revoked certificate, and Certbot
renews the lineage again afterwards: both programs keep reading what the
other wrote.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509

from tests.infra.pebble import Pebble

NAME = "compat.example.org"
RUN_TIMEOUT = 180


@dataclass
class Machine:
    """One host's Certbot directories, used by both programs."""

    base: Path
    pebble: Pebble
    certbot: Path

    def dirs(self) -> list[str]:
        return ["--config-dir", str(self.base / "etc"), "--work-dir", str(self.base / "work"),
                "--logs-dir", str(self.base / "logs")]

    def env(self) -> dict[str, str]:
        # Both programs trust Pebble through REQUESTS_CA_BUNDLE (Certbot has no --ca-bundle).
        return {**os.environ, "REQUESTS_CA_BUNDLE": self.pebble.ca_bundle}

    def _run(self, argv: list[str]) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([*argv, *self.dirs(), "--non-interactive"], capture_output=True,
                                text=True, env=self.env(), timeout=RUN_TIMEOUT,
                                stdin=subprocess.DEVNULL)
        assert result.returncode == 0, f"{argv[:3]} exit {result.returncode}\n" \
                                       f"{result.stdout}\n{result.stderr}"
        return result

    def certbot_run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self._run([str(self.certbot), *args])

    def certkernel(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self._run([sys.executable, "-m", "certkernel", *args])

    @property
    def live(self) -> Path:
        return self.base / "etc" / "live" / NAME

    def serial(self) -> int:
        cert = x509.load_pem_x509_certificate((self.live / "cert.pem").read_bytes())
        return cert.serial_number

    def version(self) -> int:
        match = re.fullmatch(r"cert(\d+)\.pem", os.path.basename(os.readlink(self.live / "cert.pem")))
        assert match is not None
        return int(match.group(1))

    def conf(self) -> str:
        return (self.base / "etc" / "renewal" / f"{NAME}.conf").read_text()


def test_certbot_lineage_renewed_dry_run_revoked_and_renewed_by_both(
        certbot_bin: Path, pebble_factory: Callable[..., Pebble], tmp_path: Path) -> None:
    pebble = pebble_factory()
    host = Machine(tmp_path, pebble, certbot_bin)
    port = str(pebble.http01_port)
    host.certbot_run("certonly", "--standalone", "--http-01-port", port, "-d", NAME,
                     "--server", pebble.directory_url, "--agree-tos", "-m", "compat@example.org")
    assert f"http01_port = {port}" in host.conf()
    assert host.version() == 1

    # certkernel renews on the saved port (nothing listens on 80 for Pebble).
    host.certkernel("renew", "--force-renewal", "--no-random-sleep-on-renew")
    assert host.version() == 2
    assert f"http01_port = {port}" in host.conf()

    # A dry run saves nothing.
    conf_before = host.conf()
    dry = host.certkernel("renew", "--dry-run", "--no-random-sleep-on-renew")
    assert "Congratulations, all simulated renewals succeeded" in dry.stdout
    assert host.version() == 2
    assert host.conf() == conf_before

    # Revoked by --cert-name alone: the CA comes from the renewal conf.
    revoked_serial = host.serial()
    host.certkernel("revoke", "--cert-name", NAME, "--no-delete-after-revoke")
    assert pebble.cert_status(revoked_serial)["Status"] == "Revoked"

    # A revoked certificate is due: plain renew replaces it.
    renewed = host.certkernel("renew", "--no-random-sleep-on-renew")
    assert f"live/{NAME}/fullchain.pem (success)" in renewed.stdout
    assert host.version() == 3
    assert host.serial() != revoked_serial

    # Certbot still reads and renews the lineage certkernel kept.
    host.certbot_run("renew", "--force-renewal", "--no-random-sleep-on-renew")
    assert host.version() == 4
    listed = host.certbot_run("certificates")
    assert f"Certificate Name: {NAME}" in listed.stdout
    assert "INVALID" not in listed.stdout
