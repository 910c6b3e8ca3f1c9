"""``certkernel certonly`` as a user runs it, against the session Pebble, and what they check after.

Shared by the certonly tests of each built-in authenticator and the webroot attack tests.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

CERTKERNEL = str(Path(sys.executable).with_name("certkernel"))
RUN_TIMEOUT = 120


def certonly(pebble, tmp: Path, *args: str, cwd: Path | None = None
             ) -> subprocess.CompletedProcess[str]:
    argv = [
        CERTKERNEL, "certonly", *args,
        "--server", pebble.directory_url, "--ca-bundle", pebble.ca_bundle,
        "--config-dir", str(tmp / "config"), "--work-dir", str(tmp / "work"),
        "--logs-dir", str(tmp / "logs"), "--agree-tos", "-m", "a@example.org", "-n",
        "--http-01-port", str(pebble.http01_port), "--http-01-address", "127.0.0.1",
    ]
    env = {k: v for k, v in os.environ.items() if k != "REQUESTS_CA_BUNDLE"}
    return subprocess.run(argv, capture_output=True, text=True, timeout=RUN_TIMEOUT,
                          stdin=subprocess.DEVNULL, env=env, cwd=cwd)


def assert_issued(tmp: Path, lineage: str, names: list[str]) -> None:
    """What a user checks: the live files exist, the key fits the cert, the names are right."""
    live = tmp / "config" / "live" / lineage
    cert = x509.load_pem_x509_certificate((live / "cert.pem").read_bytes())
    key = serialization.load_pem_private_key((live / "privkey.pem").read_bytes(), None)
    assert cert.public_key().public_numbers() == key.public_key().public_numbers()
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sorted(san.get_values_for_type(x509.DNSName)) == sorted(names)
    assert stat.S_IMODE(os.stat(live / "privkey.pem").st_mode) == 0o600
    fullchain = (live / "fullchain.pem").read_text()
    assert fullchain == (live / "cert.pem").read_text() + (live / "chain.pem").read_text()


def explain(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
