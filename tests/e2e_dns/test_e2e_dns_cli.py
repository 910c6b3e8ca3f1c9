"""``certkernel certonly --dns-rfc2136`` from the command line, as a user runs it:
real Pebble validating through a real BIND with TSIG-signed updates.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from cryptography import x509

from tests.infra.bind import Bind
from tests.infra.pebble import Pebble

NAMES = ["*.example.com", "example.com"]


def certkernel(tmp: Path, pebble: Pebble, *args: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "certkernel", *args,
            "--config-dir", str(tmp / "config"), "--work-dir", str(tmp / "work"),
            "--logs-dir", str(tmp / "logs"), "--server", pebble.directory_url,
            "--ca-bundle", pebble.ca_bundle, "--agree-tos", "-m", "dns@example.org", "-n"]
    return subprocess.run(argv, capture_output=True, text=True, timeout=180)  # noqa: S603


def dns_args(creds: Path, *names: str) -> list[str]:
    args = ["certonly", "--dns-rfc2136", "--dns-rfc2136-credentials", str(creds),
            "--dns-rfc2136-propagation-seconds", "20"]
    for name in names:
        args += ["-d", name]
    return args


def leaf(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def sans(cert: x509.Certificate) -> list[str]:
    ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return sorted(ext.get_values_for_type(x509.DNSName))


def test_wildcard_and_apex_issue_and_renew_with_saved_conf(
        tmp_path: Path, e2e_bind: Bind, bind_pebble: Pebble) -> None:
    creds = e2e_bind.write_credentials(tmp_path / "rfc2136.ini")
    result = certkernel(tmp_path, bind_pebble, *dns_args(creds, *NAMES))
    assert result.returncode == 0, result.stderr
    live = tmp_path / "config" / "live" / "example.com"
    first = leaf(live / "cert.pem")
    assert sans(first) == sorted(NAMES)
    assert e2e_bind.txt("_acme-challenge.example.com") == []
    conf = (tmp_path / "config" / "renewal" / "example.com.conf").read_text()
    assert f"dns_rfc2136_credentials = {creds}" in conf
    assert e2e_bind.secret not in conf  # only the path is saved

    renewed = certkernel(tmp_path, bind_pebble, "renew", "--cert-name", "example.com",
                         "--force-renewal", "--no-random-sleep-on-renew")
    assert renewed.returncode == 0, renewed.stderr + renewed.stdout
    second = leaf(live / "cert.pem")
    assert second.serial_number != first.serial_number
    assert sans(second) == sorted(NAMES)
    assert (tmp_path / "config" / "archive" / "example.com" / "cert2.pem").exists()
    assert e2e_bind.txt("_acme-challenge.example.com") == []


def test_wrong_tsig_key_fails_clearly_and_leaves_nothing(
        tmp_path: Path, e2e_bind: Bind, bind_pebble: Pebble) -> None:
    wrong = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3ODk="  # valid base64, not BIND's key
    creds = e2e_bind.write_credentials(tmp_path / "bad.ini", dns_rfc2136_secret=wrong)
    result = certkernel(tmp_path, bind_pebble, *dns_args(creds, "*.example.org", "example.org"))
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert f"rejected TSIG key '{e2e_bind.key_name}' (BadSignature)" in last, result.stderr
    assert "check dns_rfc2136_name, dns_rfc2136_secret and dns_rfc2136_algorithm" in last
    assert wrong not in result.stderr
    assert e2e_bind.txt("_acme-challenge.example.org") == []
    config = tmp_path / "config"
    assert not (config / "live" / "example.org").exists()
    assert not (config / "renewal" / "example.org.conf").exists()
    assert not (config / "archive" / "example.org").exists()


def test_world_readable_credentials_warn_and_still_issue(
        tmp_path: Path, e2e_bind: Bind, bind_pebble: Pebble) -> None:
    creds = e2e_bind.write_credentials(tmp_path / "open.ini")
    creds.chmod(0o644)
    result = certkernel(tmp_path, bind_pebble,
                        *dns_args(creds, "www.validation.example.net"))
    assert result.returncode == 0, result.stderr
    assert f"Unsafe permissions on credentials file {creds}" in result.stderr
    assert f"chmod 600 {creds}" in result.stderr
    assert e2e_bind.secret not in result.stderr
    assert e2e_bind.txt("_acme-challenge.www.validation.example.net") == []
