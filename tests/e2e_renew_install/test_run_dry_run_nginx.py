"""``certkernel run --dry-run --nginx``: a test certificate is obtained, nothing is installed."""

from __future__ import annotations

from tests.infra.nginx import http_get
from tests.infra.nginx_site import Site


def test_dry_run_of_run_says_nothing_was_installed(nginx_site: Site) -> None:
    site = nginx_site
    before = site.snapshot()
    done = site.cli("run", "--nginx", "-d", "example.test", "--dry-run")
    assert done.returncode == 0, done.stderr
    assert ("The dry run was successful. Nothing was installed: a dry run obtains a test "
            "certificate only and leaves the nginx configuration unchanged.") in done.stdout
    assert site.snapshot() == before
    assert not (site.config_dir / "live" / "example.test").exists()
    assert http_get(site.http_port, "example.test")[::2] == (200, b"plain site\n")
