"""``certkernel renew`` on lineages installed in nginx: real CLI, Pebble and nginx.

The lineages are obtained with dns-01 (a manual hook talking to
challtestsrv) and installed with ``-i nginx``, so every reload the nginx
control wrapper logs during ``renew`` is a deployment reload: the test can
count them.  What a user checks: the served certificate changes, nginx was
reloaded once for all lineages, deploy hooks saw the new certificate in
place, and a failed deployment leaves the server configuration untouched.
"""

from __future__ import annotations

from pathlib import Path

from tests.infra.cli_run import dns_hooks
from tests.infra.nginx_site import Site
from tests.infra.tls import served_certificate

from .conftest import ctl_wrapper, reloads

RELOAD = ("-s", "reload")


def _served(site: Site, name: str) -> int:
    return served_certificate("127.0.0.1", site.https_port, name).serial_number


def _hook(folder: Path, name: str, wrapper_log: Path) -> Path:
    """A deploy/post hook recording its variables and how many reloads happened before it."""
    out = folder / f"{name}.out"
    script = folder / name
    script.write_text(
        "#!/bin/sh\n"
        f'n=$(grep -c -- "-s reload" "{wrapper_log}" 2>/dev/null || echo 0)\n'
        f'echo "domains=$RENEWED_DOMAINS failed=$FAILED_DOMAINS reloads=$n" >> "{out}"\n'
    )
    script.chmod(0o755)
    return script


def test_renew_redeploys_both_lineages_with_one_reload_then_deploy_hooks(
        nginx_site: Site, nginx_bin: str, tmp_path: Path) -> None:
    site = nginx_site
    wrapper, log, _ = ctl_wrapper(tmp_path, "nginx-ctl", nginx_bin, log_dir=site.root)
    auth = dns_hooks(tmp_path, site.pebble)
    for name in ("example.test", "other.test"):
        done = site.cli("run", *auth, "-i", "nginx", "-d", name, "--nginx-ctl", str(wrapper))
        assert done.returncode == 0, done.stderr
    first = {n: site.live_serial(n) for n in ("example.test", "other.test")}
    for name, serial in first.items():
        site.nginx.wait_for_certificate(site.https_port, name, serial)
    installed = site.snapshot()
    backups = len(list((site.work_dir / "backups").iterdir()))
    hook = _hook(tmp_path, "deploy-hook", log)
    log.unlink()

    done = site.cli("renew", "--force-renewal", "--no-random-sleep-on-renew",
                    "--deploy-hook", str(hook))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Congratulations, all renewals succeeded" in done.stdout
    assert reloads(log, RELOAD) == 1, log.read_text()  # one reload for both lineages
    for name, serial in first.items():
        new = site.live_serial(name)
        assert new != serial
        site.nginx.wait_for_certificate(site.https_port, name, new)
    # Deploy hooks ran once per lineage, after the reload that put the new certificates in.
    lines = sorted((tmp_path / "deploy-hook.out").read_text().splitlines())
    assert lines == ["domains=example.test failed= reloads=1",
                     "domains=other.test failed= reloads=1"]
    # live/ paths: nothing to change in the files, and no empty checkpoint either.
    assert site.snapshot() == installed
    assert len(list((site.work_dir / "backups").iterdir())) == backups


def test_failed_deployment_keeps_the_config_reports_and_exits_1(
        nginx_site: Site, nginx_bin: str, tmp_path: Path) -> None:
    site = nginx_site
    broken, broken_log, refuse = ctl_wrapper(tmp_path, "nginx-broken", nginx_bin,
                                              log_dir=site.root)
    good, good_log, _ = ctl_wrapper(tmp_path, "nginx-good", nginx_bin, log_dir=site.root)
    auth = dns_hooks(tmp_path, site.pebble)
    for name, ctl in (("example.test", broken), ("other.test", good)):
        done = site.cli("run", *auth, "-i", "nginx", "-d", name, "--nginx-ctl", str(ctl))
        assert done.returncode == 0, done.stderr
    old = {n: site.live_serial(n) for n in ("example.test", "other.test")}
    installed = site.snapshot()
    refuse.touch()  # from now on, 'nginx -t' through example.test's control script fails
    deploy_hook = _hook(tmp_path, "deploy-hook", good_log)
    post_hook = _hook(tmp_path, "post-hook", good_log)
    broken_log.unlink()
    good_log.unlink()

    done = site.cli("renew", "--force-renewal", "--no-random-sleep-on-renew",
                    "--deploy-hook", str(deploy_hook), "--post-hook", str(post_hook))
    assert done.returncode == 1, done.stdout + done.stderr
    summary = done.stderr
    assert "The following certificates were successfully renewed:" in summary
    assert f"{site.config_dir}/live/other.test/fullchain.pem (success)" in summary
    failure = next(line for line in summary.splitlines()
                   if "live/example.test/fullchain.pem (failure)" in line)
    assert "nginx installer could not deploy it" in failure
    assert "certkernel install --cert-name example.test" in failure
    assert "1 renew failure(s), 0 parse failure(s)" in summary
    assert "refused by the test wrapper" in done.stdout + done.stderr

    # The failed deployment was never reloaded and left every file as it was.
    assert reloads(broken_log, RELOAD) == 0, broken_log.read_text()
    assert site.snapshot() == installed
    assert not (site.work_dir / "IN_PROGRESS").exists()
    # The other lineage renewed and is served; its hooks saw the failure of the first.
    assert site.live_serial("example.test") != old["example.test"]  # obtained and saved
    new_other = site.live_serial("other.test")
    assert new_other != old["other.test"]
    site.nginx.wait_for_certificate(site.https_port, "other.test", new_other)
    assert (tmp_path / "deploy-hook.out").read_text().splitlines() == [
        "domains=other.test failed= reloads=1"]
    assert (tmp_path / "post-hook.out").read_text().splitlines() == [
        "domains=other.test failed=example.test reloads=1"]  # Certbot 5: both variables
