"""Crash recovery at startup, and the renew engineer's ``deploy.redeploy`` on a real nginx."""

from __future__ import annotations

import os
import subprocess
import sys

from certkernel.checkpoints.reverter import Reverter
from tests.infra.nginx import http_get
from tests.infra.nginx_site import Site


def test_run_recovers_changes_a_crashed_run_left_behind(site: Site) -> None:
    conf = site.root / "sites" / "example.conf"
    original = conf.read_bytes()
    # What a run killed in the middle of a save leaves: the backup is taken, the file half-written.
    with Reverter(str(site.work_dir)) as crashed:
        crashed.add([str(conf)], roots=[os.path.realpath(site.root)])
        conf.write_bytes(original[:40])
    done = site.cli("run", "--nginx", "-d", "example.test")
    assert done.returncode == 0, done.stderr
    assert "unfinished configuration changes from an interrupted run" in done.stdout
    assert "restored 1 file(s)" in done.stdout
    site.nginx.wait_for_certificate(site.https_port, "example.test", site.live_serial())
    back = site.cli("rollback", "--checkpoints", "1")
    assert back.returncode == 0, back.stderr
    assert conf.read_bytes() == original


def test_redeploy_serves_renewed_certificates_after_one_reload(site: Site) -> None:
    from certkernel.cmdline.cli import parse
    from certkernel.config import Config
    from certkernel.display import Display
    from certkernel.lineages.storage import Lineage
    from certkernel.plugin_host.discovery import discover_all
    from certkernel.runtime.deploy import redeploy
    from certkernel.runtime.plugin_runtime import PluginLauncher

    assert site.cli("run", "--nginx", "-d", "example.test").returncode == 0
    first = site.live_serial()
    site.nginx.wait_for_certificate(site.https_port, "example.test", first)
    # A new certificate in live/ that nginx has not loaded yet (certonly installs nothing).
    renewed = site.cli("certonly", "--nginx", "-d", "example.test", "--force-renewal")
    assert renewed.returncode == 0, renewed.stderr
    second = site.live_serial()
    assert second != first

    env = {k: v for k, v in os.environ.items() if k != "REQUESTS_CA_BUNDLE"}
    config = parse(site.argv("renew", "--nginx"), discover_all(env=env).manifests, env)
    assert isinstance(config, Config)
    lineage = Lineage.load(str(site.config_dir), "example.test")
    with Reverter(config.work_dir) as reverter, \
            PluginLauncher(config, Display.from_config(config), checkpoints=reverter) as launcher:
        failed = redeploy(config, launcher.installer("nginx"), [lineage], rollback=reverter)
    assert failed == []
    site.nginx.wait_for_certificate(site.https_port, "example.test", second)
    assert http_get(site.http_port, "example.test")[0] == 301


def test_rollback_with_no_plugin_flags_restarts_the_installer_the_checkpoint_recorded(
        site: Site) -> None:
    """Issue 14, gap 7: the checkpoint records the installer and its options, so
    ``rollback`` restarts nginx with no --nginx flags and no lineage to read
    them from, exits 0, and undoes exactly one checkpoint."""
    # An older checkpoint underneath, which rollback 1 must leave alone.
    conf = site.root / "sites" / "example.conf"
    with Reverter(str(site.work_dir)) as rev:
        rev.add([str(conf)], roots=[os.path.realpath(site.root)])
        conf.write_bytes(conf.read_bytes() + b"# an earlier change\n")
        rev.finalize("earlier change")
    before = site.snapshot()
    done = site.cli("run", "--nginx", "-d", "example.test")
    assert done.returncode == 0, done.stderr
    site.nginx.wait_for_certificate(site.https_port, "example.test", site.live_serial())
    assert site.snapshot() != before
    # The lineage, which could also name the installer, is gone.
    gone = site.cli("delete", "--cert-name", "example.test")
    assert gone.returncode == 0, gone.stderr
    plain = [sys.executable, "-m", "certkernel", "rollback", "--checkpoints", "1", "-n",
             "--config-dir", str(site.config_dir), "--work-dir", str(site.work_dir),
             "--logs-dir", str(site.base / "logs")]

    back = subprocess.run(plain, capture_output=True, text=True, timeout=180, check=False)

    assert back.returncode == 0, back.stdout + back.stderr
    assert "Restarted the nginx server" in back.stdout
    assert site.snapshot() == before
    assert http_get(site.http_port, "example.test")[::2] == (200, b"plain site\n")
    assert [info.title for info in Reverter(str(site.work_dir)).view()] == ["earlier change"]
