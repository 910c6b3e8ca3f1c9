"""An nginx lineage made with a non-default ``--http-01-port`` renews on that port.

Issue 13, cron-path bug 1: ``renew`` handed the nginx plugin the run's
http-01 port (80) instead of the one saved in the renewal conf, so the
challenge was published in a port-80 block while the CA asked the real
site's port and got a 404. Real nginx, real Pebble, through the CLI.
"""

from __future__ import annotations

import os
import subprocess
import sys

from tests.infra.nginx_site import Site as NginxSite


def test_nginx_lineage_renews_on_the_saved_http01_port(nginx_site: NginxSite) -> None:
    site = nginx_site
    issued = site.cli("certonly", "--nginx", "-d", "example.test")
    assert issued.returncode == 0, issued.stderr
    conf = (site.config_dir / "renewal" / "example.test.conf").read_text()
    assert f"http01_port = {site.http_port}" in conf
    before = site.live_serial()

    # What cron runs: no port, no server root, no CA flags; all from the conf.
    argv = [sys.executable, "-m", "certkernel", "renew", "--force-renewal",
            "--no-random-sleep-on-renew", "-n", "--config-dir", str(site.config_dir),
            "--work-dir", str(site.work_dir), "--logs-dir", str(site.base / "logs")]
    env = {k: v for k, v in os.environ.items() if k != "REQUESTS_CA_BUNDLE"}
    renewed = subprocess.run(argv, capture_output=True, text=True, timeout=180, env=env,
                             check=False)

    assert renewed.returncode == 0, renewed.stderr
    assert site.live_serial() != before
    assert "live/example.test/fullchain.pem (success)" in renewed.stdout
