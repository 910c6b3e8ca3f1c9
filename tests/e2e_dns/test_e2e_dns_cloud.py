"""``certkernel certonly --dns-route53`` / ``--dns-google`` from the command line.

The providers' APIs are local fakes (SigV4-checking Route 53, JWT-checking
Google token endpoint and Cloud DNS); a test-side bridge publishes every
accepted change to the session Pebble's challtestsrv, which is the DNS
Pebble validates against (tests/infra/challtest_bridge.py). What a user
checks: the certificate is issued for the names, the TXT records are gone
afterwards, the renewal conf holds paths and URLs but no secret, and (for
Google) a relative ``--dns-google-credentials`` is saved as the absolute
path the user meant, so a renewal from another directory still finds it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from tests.infra.challtest_bridge import BridgedGoogle, BridgedRoute53, TxtMirror
from tests.infra.pebble import Pebble

R53_ZONE = "r53.example.net"
GOOGLE_ZONE = "gdns.example.net"


def certkernel(tmp: Path, pebble: Pebble, *args: str, env: dict[str, str] | None = None,
               cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "certkernel", *args,
            "--config-dir", str(tmp / "config"), "--work-dir", str(tmp / "work"),
            "--logs-dir", str(tmp / "logs"), "--server", pebble.directory_url,
            "--ca-bundle", pebble.ca_bundle, "--agree-tos", "-m", "dns@example.org", "-n"]
    return subprocess.run(argv, capture_output=True, text=True, timeout=180,  # noqa: S603
                          env=env, cwd=cwd, stdin=subprocess.DEVNULL)


def sans(path: Path) -> list[str]:
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return sorted(ext.get_values_for_type(x509.DNSName))


def aws_env(tmp: Path, secret: str) -> dict[str, str]:
    """The user's environment with only the fake's AWS credentials (no real ~/.aws)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ACCESS_KEY_ID="AKIDFAKE", AWS_SECRET_ACCESS_KEY=secret,
               AWS_CONFIG_FILE=str(tmp / "no-aws-config"),
               AWS_SHARED_CREDENTIALS_FILE=str(tmp / "no-aws-credentials"),
               AWS_EC2_METADATA_DISABLED="true")
    return env


@pytest.fixture
def route53(pebble: Pebble) -> Iterator[BridgedRoute53]:
    fake = BridgedRoute53(secret_key="r53-e2e-secret-value", zones={R53_ZONE: "Z1R53E2E"},
                          private=(), mirror=TxtMirror(pebble)).start()
    yield fake
    fake.stop()


@pytest.fixture
def google(pebble: Pebble) -> Iterator[BridgedGoogle]:
    fake = BridgedGoogle(TxtMirror(pebble), zone=GOOGLE_ZONE).start()
    yield fake
    fake.stop()


def test_route53_issues_cleans_up_and_saves_no_secret(
        tmp_path: Path, pebble: Pebble, route53: BridgedRoute53) -> None:
    names = [R53_ZONE, f"www.{R53_ZONE}"]
    result = certkernel(tmp_path, pebble, "certonly", "--dns-route53",
                        "--dns-route53-endpoint-url", route53.url,
                        "--dns-route53-propagation-seconds", "1",
                        *[a for n in names for a in ("-d", n)],
                        env=aws_env(tmp_path, route53.secret_key))

    assert result.returncode == 0, result.stderr
    assert sans(tmp_path / "config" / "live" / R53_ZONE / "cert.pem") == sorted(names)
    assert any(c.startswith("POST ") for c in route53.calls)  # records went through the API
    for name in names:
        assert route53.txt(f"_acme-challenge.{name}") == []
    assert route53.rrsets == {} and route53.mirror is not None
    assert route53.mirror.published == {}  # and are gone from the DNS Pebble asked
    assert route53.violations == []
    conf = (tmp_path / "config" / "renewal" / f"{R53_ZONE}.conf").read_text()
    assert "authenticator = dns-route53" in conf
    assert f"dns_route53_endpoint_url = {route53.url}" in conf
    assert route53.secret_key not in conf and route53.access_key not in conf
    assert route53.secret_key not in result.stderr + result.stdout


def test_route53_wrong_secret_fails_in_one_line_and_issues_nothing(
        tmp_path: Path, pebble: Pebble, route53: BridgedRoute53) -> None:
    result = certkernel(tmp_path, pebble, "certonly", "--dns-route53",
                        "--dns-route53-endpoint-url", route53.url,
                        "--dns-route53-propagation-seconds", "1", "-d", R53_ZONE,
                        env=aws_env(tmp_path, "not-the-secret"))

    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert "AWS rejected the credentials (SignatureDoesNotMatch" in last, result.stderr
    assert "not-the-secret" not in result.stderr
    assert not (tmp_path / "config" / "live" / R53_ZONE).exists()
    assert not (tmp_path / "config" / "renewal" / f"{R53_ZONE}.conf").exists()


def test_google_wildcard_with_relative_credentials_issues_and_renews_elsewhere(
        tmp_path: Path, pebble: Pebble, google: BridgedGoogle) -> None:
    key_file = google.key_file(tmp_path / "google.json")
    names = [f"*.{GOOGLE_ZONE}", GOOGLE_ZONE]
    env = {k: v for k, v in os.environ.items() if k != "DNS_GOOGLE_API_URL"}
    result = certkernel(tmp_path, pebble, "certonly", "--dns-google",
                        "--dns-google-credentials", "google.json",  # relative to the user's cwd
                        "--dns-google-api-url", google.dns_url,
                        "--dns-google-propagation-seconds", "1",
                        *[a for n in names for a in ("-d", n)], env=env, cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    live = tmp_path / "config" / "live" / GOOGLE_ZONE
    assert sans(live / "cert.pem") == sorted(names)
    assert google.grants >= 1  # the JWT grant was made with the key file
    assert google.txt(f"_acme-challenge.{GOOGLE_ZONE}") == []
    assert google.rrsets == {} and google.mirror.published == {}
    assert google.api.violations == []
    conf = (tmp_path / "config" / "renewal" / f"{GOOGLE_ZONE}.conf").read_text()
    assert f"dns_google_credentials = {key_file}" in conf  # absolute: the file the user meant
    assert f"dns_google_api_url = {google.dns_url}" in conf
    key_pem = google.key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()).decode()
    key_body = key_pem.splitlines()[1]
    assert "PRIVATE KEY" not in conf and key_body not in conf
    assert key_body not in result.stderr + result.stdout

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    first = (live / "cert.pem").read_bytes()
    renewed = certkernel(tmp_path, pebble, "renew", "--cert-name", GOOGLE_ZONE,
                         "--force-renewal", "--no-random-sleep-on-renew", env=env, cwd=elsewhere)
    assert renewed.returncode == 0, renewed.stderr + renewed.stdout
    assert (live / "cert.pem").read_bytes() != first
    assert sans(live / "cert.pem") == sorted(names)
    assert google.txt(f"_acme-challenge.{GOOGLE_ZONE}") == []
    assert google.mirror.published == {}
