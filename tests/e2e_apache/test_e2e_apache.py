"""``certkernel run --apache`` and friends, end to end: real CLI, real Pebble, real apache2.

What a user checks: the certificate a TLS handshake on the HTTPS port
presents, the 301 on plain HTTP, the HSTS/UIR headers, and that the
configuration tree (files and sites/mods links) is exactly what it was after
a rollback or a rejected change.
"""

from __future__ import annotations

import socket
import time
from pathlib import Path

from cryptography import x509

from tests.infra.apache import http_get, served_cert_der
from tests.infra.apache_site import Site


def _served_serial(site: Site, name: str = "example.test") -> int:
    return x509.load_der_x509_certificate(served_cert_der(site.https_port, name)).serial_number


def _wait_serial(site: Site, serial: int, timeout: float = 15.0) -> None:
    """Graceful reloads finish asynchronously: wait (bounded) for the expected certificate."""
    deadline = time.monotonic() + timeout
    last = "no handshake"
    while time.monotonic() < deadline:
        try:
            got = _served_serial(site)
            if got == serial:
                return
            last = f"serial {got:x}"
        except OSError as exc:
            last = str(exc)
        time.sleep(0.1)
    raise AssertionError(f"port {site.https_port} did not present {serial:x} ({last})")


def _wait_refused(port: int, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                pass
        except OSError:
            return True
        time.sleep(0.1)
    return False


def test_run_installs_redirects_renews_and_rolls_back(site: Site) -> None:
    before = site.snapshot()
    done = site.cli("run", "--apache", "-d", "example.test", "--hsts", "--uir")
    assert done.returncode == 0, done.stderr
    assert "Successfully deployed certificate for example.test" in done.stdout
    assert (f"Congratulations! You have successfully enabled HTTPS on "
            f"https://example.test:{site.https_port}") in done.stdout
    first = site.live_serial()
    _wait_serial(site, first)
    status, headers, body = http_get(site.https_port, "example.test", tls=True)
    assert (status, body) == (200, b"plain site\n")
    assert headers["strict-transport-security"].startswith("max-age=")
    assert headers["content-security-policy"] == "upgrade-insecure-requests"
    status, headers, _ = http_get(site.http_port, "example.test", "/page?x=1")
    assert status == 301  # redirect is on by default for run
    assert headers["location"] == f"https://example.test:{site.https_port}/page?x=1"
    assert (site.root / "sites-enabled" / "example-le-ssl.conf").is_symlink()

    again = site.cli("run", "--apache", "-d", "example.test", "--force-renewal")
    assert again.returncode == 0, again.stderr
    second = site.live_serial()
    assert second != first
    _wait_serial(site, second)

    # Every checkpoint these runs made (the renewal's rewrite of the SSL vhost is one too).
    made = len(list((site.work_dir / "backups").iterdir()))
    assert made >= 1
    back = site.cli("rollback", "--checkpoints", str(made))
    assert back.returncode == 0, back.stderr
    assert "Restarted the apache server" in back.stdout
    assert site.snapshot() == before
    assert _wait_refused(site.https_port)
    assert http_get(site.http_port, "example.test")[::2] == (200, b"plain site\n")


def test_failing_config_test_leaves_the_original_active(site: Site, tmp_path: Path) -> None:
    wrapper = tmp_path / "apache2ctl-refuses-tls"
    wrapper.write_text(
        "#!/bin/sh\n"
        "# apache2ctl, except that '-t' refuses any configuration with a certificate in it\n"
        f'if [ "$1" = "-t" ] && grep -rqs SSLCertificateFile "{site.root}"; then\n'
        '  echo "AH00526: Syntax error: refused by the test wrapper" >&2; exit 1\n'
        "fi\n"
        'exec apache2ctl "$@"\n'
    )
    wrapper.chmod(0o755)
    before = site.snapshot()
    done = site.cli("run", "--apache", "-d", "example.test", "--apache-ctl", str(wrapper))
    assert done.returncode == 1
    error = done.stderr.strip().splitlines()[-1]
    assert "refused by the test wrapper" in error, done.stderr
    assert "certkernel install --cert-name example.test" in done.stdout
    assert site.snapshot() == before
    assert http_get(site.http_port, "example.test")[::2] == (200, b"plain site\n")
    assert not (site.work_dir / "IN_PROGRESS").exists()

    fixed = site.cli("install", "--cert-name", "example.test", "--apache-ctl", "apache2ctl")
    assert fixed.returncode == 0, fixed.stderr
    _wait_serial(site, site.live_serial())
    assert http_get(site.http_port, "example.test")[0] == 301
