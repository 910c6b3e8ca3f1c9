"""``certkernel run --nginx`` and friends, end to end: real CLI, real Pebble, real nginx.

What a user checks after each command: which certificate a TLS handshake on
the HTTPS port presents, whether plain HTTP answers 301, whether the HSTS
header is there, and that the configuration files are exactly what they were
after a rollback or a rejected change.
"""

from __future__ import annotations

import socket
from pathlib import Path

from tests.infra.nginx import NGINX_BIN, http_get, https_get
from tests.infra.nginx_site import Site
from tests.infra.tls import served_certificate


def _refuses(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return False
    except OSError:
        return True


def test_run_installs_redirects_renews_and_rolls_back(site: Site) -> None:
    before = site.snapshot()
    done = site.cli("run", "--nginx", "-d", "example.test", "--hsts")
    assert done.returncode == 0, done.stderr
    assert "Deploying certificate" in done.stdout
    assert "Successfully deployed certificate for example.test" in done.stdout
    assert (f"Congratulations! You have successfully enabled HTTPS on "
            f"https://example.test:{site.https_port}") in done.stdout
    first = site.live_serial()
    site.nginx.wait_for_certificate(site.https_port, "example.test", first)
    cert = served_certificate("127.0.0.1", site.https_port, "example.test")
    assert cert.serial_number == first
    status, headers, body = https_get(site.https_port, "example.test")
    assert (status, body) == (200, b"plain site\n")
    assert headers["strict-transport-security"].startswith("max-age=")
    status, headers, _ = http_get(site.http_port, "example.test", "/page?x=1")
    assert status == 301  # redirect is on by default for run
    assert headers["location"] == f"https://example.test:{site.https_port}/page?x=1"
    installed = site.snapshot()

    # Renewal: a new certificate through the redirected site, served after the reload.
    again = site.cli("run", "--nginx", "-d", "example.test", "--force-renewal")
    assert again.returncode == 0, again.stderr
    second = site.live_serial()
    assert second != first
    site.nginx.wait_for_certificate(site.https_port, "example.test", second)
    assert site.snapshot() == installed  # live/ paths: the files need no change

    # Rollback (installer taken from the lineage's renewal conf) restores the bytes and reloads.
    back = site.cli("rollback", "--checkpoints", "1")
    assert back.returncode == 0, back.stderr
    assert "Restarted the nginx server" in back.stdout
    assert site.snapshot() == before
    assert http_get(site.http_port, "example.test")[::2] == (200, b"plain site\n")
    assert _refuses(site.https_port)


def test_failing_config_test_leaves_the_original_active(site: Site, tmp_path: Path) -> None:
    wrapper = tmp_path / "nginx-refuses-tls"
    wrapper.write_text(
        "#!/bin/sh\n"
        "# nginx, except that 'nginx -t' refuses any configuration with a certificate in it\n"
        'for arg in "$@"; do\n'
        f'  if [ "$arg" = "-t" ] && grep -rqs ssl_certificate "{site.root}"; then\n'
        '    echo "nginx: [emerg] refused by the test wrapper" >&2; exit 1\n'
        "  fi\n"
        "done\n"
        f'exec {NGINX_BIN} "$@"\n'
    )
    wrapper.chmod(0o755)
    before = site.snapshot()
    done = site.cli("run", "--nginx", "-d", "example.test", "--nginx-ctl", str(wrapper))
    assert done.returncode == 1
    error = done.stderr.strip().splitlines()[-1]  # the one error line comes last
    assert "refused by the test wrapper" in error and "reverted" in error, done.stderr
    assert "previous server configuration was restored" in done.stdout, done.stdout
    assert "certkernel install --cert-name example.test" in done.stdout + done.stderr
    assert site.snapshot() == before
    assert http_get(site.http_port, "example.test")[::2] == (200, b"plain site\n")
    assert _refuses(site.https_port)
    assert not (site.work_dir / "IN_PROGRESS").exists()

    # The certificate was kept: installing it with a working nginx needs no new order
    # (the flag overrides the broken ctl the renewal conf remembered).
    serial = site.live_serial()
    fixed = site.cli("install", "--cert-name", "example.test", "--nginx-ctl", NGINX_BIN)
    assert fixed.returncode == 0, fixed.stderr
    site.nginx.wait_for_certificate(site.https_port, "example.test", serial)
    assert http_get(site.http_port, "example.test")[0] == 301


def test_enhance_adds_redirect_and_warns_about_missing_ocsp(site: Site) -> None:
    done = site.cli("run", "--nginx", "-d", "example.test", "--no-redirect")
    assert done.returncode == 0, done.stderr
    site.nginx.wait_for_certificate(site.https_port, "example.test", site.live_serial())
    assert http_get(site.http_port, "example.test")[::2] == (200, b"plain site\n")
    assert "strict-transport-security" not in https_get(site.https_port, "example.test")[1]

    nothing = site.cli("enhance", "--cert-name", "example.test")
    assert nothing.returncode == 1
    assert "--redirect" in nothing.stderr

    enhanced = site.cli("enhance", "--cert-name", "example.test", "--redirect", "--hsts")
    assert enhanced.returncode == 0, enhanced.stderr
    assert http_get(site.http_port, "example.test")[0] == 301
    assert "strict-transport-security" in https_get(site.https_port, "example.test")[1]

    stapled = site.cli("enhance", "--cert-name", "example.test", "--staple-ocsp")
    assert stapled.returncode == 0, stapled.stderr
    assert "no OCSP responder" in stapled.stdout
    assert "ssl_stapling on;" in (site.root / "sites" / "example.conf").read_text()


def test_name_without_server_block_is_a_clear_error(site: Site) -> None:
    before = site.snapshot()
    done = site.cli("run", "--nginx", "-d", "other.test")
    assert done.returncode == 1
    assert "server_name other.test" in done.stderr
    assert "certkernel install --cert-name other.test" in done.stdout
    assert site.snapshot() == before
    assert http_get(site.http_port, "example.test")[::2] == (200, b"plain site\n")


def test_install_loose_files_and_missing_flags(site: Site, tmp_path: Path) -> None:
    done = site.cli("certonly", "--nginx", "-d", "example.test")
    assert done.returncode == 0, done.stderr
    live = site.config_dir / "live" / "example.test"
    # Files kept outside certkernel's store, installed by path (names read from the certificate).
    for name in ("cert.pem", "privkey.pem", "fullchain.pem"):
        (tmp_path / name).write_bytes((live / name).read_bytes())
    (tmp_path / "privkey.pem").chmod(0o600)

    missing = site.cli("install", "--nginx")
    assert missing.returncode == 1
    assert "--cert-name" in missing.stderr.strip().splitlines()[-1]
    no_installer = site.cli("install", "--cert-name", "nope")
    assert no_installer.returncode == 1
    assert "No certificate named nope" in no_installer.stderr
    assert "example.test" in no_installer.stderr

    installed = site.cli("install", "--nginx", "--no-redirect",
                         "--cert-path", str(tmp_path / "cert.pem"),
                         "--key-path", str(tmp_path / "privkey.pem"),
                         "--fullchain-path", str(tmp_path / "fullchain.pem"))
    assert installed.returncode == 0, installed.stderr
    assert "Successfully deployed certificate for example.test" in installed.stdout
    site.nginx.wait_for_certificate(site.https_port, "example.test", site.live_serial())
    assert str(tmp_path / "fullchain.pem") in (site.root / "sites" / "example.conf").read_text()
    assert http_get(site.http_port, "example.test")[::2] == (200, b"plain site\n")
