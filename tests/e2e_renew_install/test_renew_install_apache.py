"""``certkernel renew`` on a lineage installed in apache2 with ``--auto-hsts``.

Real CLI, Pebble and apache2; the lineage is obtained with dns-01 so every
graceful restart the control wrapper logs during ``renew`` belongs to the
deployment.  What a user checks: the HSTS max-age served over HTTPS grows
by one step per renewal, the renewed certificate is served after exactly one
graceful restart, ``rollback --checkpoints 1`` undoes exactly the last
renewal's change (no empty checkpoint in between), and a renewal whose
reload fails leaves the served configuration and files as they were.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from cryptography import x509

from tests.infra.apache import http_get, served_cert_der
from tests.infra.apache_site import Site
from tests.infra.cli_run import dns_hooks

from .conftest import ctl_wrapper, reloads

GRACEFUL = ("-k", "graceful")


def _served(site: Site) -> tuple[int, str]:
    """(serial, Strict-Transport-Security) a client sees on the HTTPS port."""
    serial = x509.load_der_x509_certificate(served_cert_der(site.https_port, "example.test"))
    _status, headers, _body = http_get(site.https_port, "example.test", tls=True)
    return serial.serial_number, headers.get("strict-transport-security", "")


def _wait_served(site: Site, serial: int, hsts: str, timeout: float = 15.0) -> None:
    """Graceful restarts finish asynchronously: wait (bounded) for what must be served."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            last = _served(site)
            if last == (serial, hsts):
                return
        except OSError as exc:
            last = exc
        time.sleep(0.1)
    raise AssertionError(f"expected serial {serial:x} with {hsts!r}, last saw {last}")


def _checkpoints(site: Site) -> int:
    backups = site.work_dir / "backups"
    return len(list(backups.iterdir())) if backups.is_dir() else 0


def _renew(site: Site) -> tuple[int, str]:
    done = site.cli("renew", "--force-renewal", "--no-random-sleep-on-renew")
    return done.returncode, done.stdout + done.stderr


def test_auto_hsts_grows_per_renewal_with_one_graceful_and_rolls_back(
        apache_site: Site, tmp_path: Path) -> None:
    site = apache_site
    real = shutil.which("apache2ctl")
    assert real is not None
    logs = tmp_path / "ctl-logs"
    logs.mkdir()
    wrapper, log, _ = ctl_wrapper(tmp_path, "apache-ctl", real, log_dir=logs)
    auth = dns_hooks(tmp_path, site.pebble)
    done = site.cli("run", *auth, "-i", "apache", "-d", "example.test", "--auto-hsts",
                    "--apache-ctl", str(wrapper), "--apache-logs-root", str(logs))
    assert done.returncode == 0, done.stderr
    _wait_served(site, site.live_serial(), "max-age=60")

    seen = []
    for expected in ("max-age=300", "max-age=900"):
        before = _checkpoints(site)
        log.unlink()
        code, output = _renew(site)
        assert code == 0, output
        assert reloads(log, GRACEFUL) == 1, log.read_text()
        _wait_served(site, site.live_serial(), expected)
        # One checkpoint per renewal: the max-age step; re-pointing the vhost at the
        # same live/ files changes no byte and makes none.
        assert _checkpoints(site) == before + 1
        seen.append(site.live_serial())
    assert seen[0] != seen[1]

    back = site.cli("rollback", "--checkpoints", "1")
    assert back.returncode == 0, back.stderr
    _wait_served(site, site.live_serial(), "max-age=300")


def test_failed_reload_during_renewal_is_restored_from_the_kernel_checkpoints(
        apache_site: Site, tmp_path: Path) -> None:
    site = apache_site
    real = shutil.which("apache2ctl")
    assert real is not None
    logs = tmp_path / "ctl-logs"
    logs.mkdir()
    wrapper, log, refuse = ctl_wrapper(tmp_path, "apache-ctl", real, refuse="graceful",
                                       log_dir=logs)
    auth = dns_hooks(tmp_path, site.pebble)
    done = site.cli("run", *auth, "-i", "apache", "-d", "example.test", "--auto-hsts",
                    "--apache-ctl", str(wrapper), "--apache-logs-root", str(logs))
    assert done.returncode == 0, done.stderr
    first = site.live_serial()
    _wait_served(site, first, "max-age=60")
    files = site.snapshot()
    before = _checkpoints(site)
    refuse.touch()  # graceful restarts now fail; config tests still pass
    log.unlink()

    code, output = _renew(site)
    assert code == 1, output
    assert "live/example.test/fullchain.pem (failure)" in output
    assert "apache installer could not deploy it" in output
    assert "refused by the test wrapper" in output
    # The plugin had saved, tested and finalized the max-age step before the reload
    # failed; only the kernel's checkpoints could put those bytes back.
    assert "the previous server configuration was restored (1 file(s))" in output
    assert site.snapshot() == files
    assert _checkpoints(site) == before
    assert not (site.work_dir / "IN_PROGRESS").exists()
    assert any("-t" in line.split() for line in log.read_text().splitlines())
    assert _served(site) == (first, "max-age=60")
