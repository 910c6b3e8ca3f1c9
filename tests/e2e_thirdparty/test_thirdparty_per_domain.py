"""A third-party plugin's per-domain option, through the CLI against Pebble.

``plugins/vhostdrop`` declares ``site`` as a per-domain option that fills
``sites`` (PROTOCOL.md section 8): each ``--vhostdrop-site`` applies to the
``-d`` names after it, as Certbot's ``-w`` does for webroot, and the kernel
knows nothing of the plugin. The web server here serves every name from its
own folder (by the Host header Pebble sends), and the plugin reads only the
map the kernel sent, with no fallback: a certificate is issued only if each
name's challenge went to that name's folder.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from cryptography import x509

from tests.infra.httpd import virtual_hosts
from tests.infra.pebble import Pebble

HERE = Path(__file__).resolve().parent


def certkernel(base: Path, pebble: Pebble, *args: str) -> subprocess.CompletedProcess[str]:
    """``certkernel ARGS`` run from ``base`` with vhostdrop on CERTKERNEL_PLUGIN_PATH."""
    argv = [sys.executable, "-m", "certkernel", *args, "-n",
            "--config-dir", str(base / "etc"), "--work-dir", str(base / "work"),
            "--logs-dir", str(base / "logs"), "--server", pebble.directory_url,
            "--ca-bundle", pebble.ca_bundle, "--agree-tos", "--register-unsafely-without-email"]
    env = {k: v for k, v in os.environ.items() if k != "REQUESTS_CA_BUNDLE"}
    env["CERTKERNEL_PLUGIN_PATH"] = str(HERE / "plugins")
    return subprocess.run(argv, capture_output=True, text=True, timeout=240, cwd=base, env=env,
                          stdin=subprocess.DEVNULL, check=False)


def names_in(cert: Path) -> list[str]:
    parsed = x509.load_pem_x509_certificate(cert.read_bytes())
    san = parsed.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return sorted(san.get_values_for_type(x509.DNSName))


def test_each_site_applies_to_the_names_after_it_on_certonly_and_renew(
        tmp_path: Path, pebble: Pebble) -> None:
    a, b = tmp_path / "site-a", tmp_path / "site-b"
    sites = {"pre.example": a, "a.example": a, "www.a.example": a, "b.example": b}
    with virtual_hosts(pebble.http01_port, sites):
        # Each site serves the names after it; "site-b" is relative: the user's
        # directory, not the plugin's.
        done = certkernel(tmp_path, pebble, "certonly", "-a", "vhostdrop",
                          "--vhostdrop-site", str(a), "-d", "pre.example",
                          "-d", "a.example,www.a.example", "--vhostdrop-site", "site-b",
                          "-d", "b.example")
        assert done.returncode == 0, done.stdout + done.stderr
        live = tmp_path / "etc" / "live" / "pre.example"
        assert names_in(live / "cert.pem") == sorted(sites)
        # Every challenge file was removed from the folder it was put in.
        assert [list((f / ".well-known" / "acme-challenge").iterdir()) for f in (a, b)] \
            == [[], []]
        # The pairing is saved for renewal, as Certbot saves [[webroot_map]].
        conf = (tmp_path / "etc" / "renewal" / "pre.example.conf").read_text()
        assert "authenticator = vhostdrop" in conf
        assert f"vhostdrop_site = {a}, {b}\n" in conf
        saved = conf.split("[[vhostdrop_sites]]\n", 1)[1].splitlines()[:len(sites)]
        assert sorted(saved) == sorted(f"{name} = {folder}" for name, folder in sites.items())

        # Renewal has no -d and no site flags: only the saved map puts each file
        # in its own folder (the plugin has no fallback, the server no shared root).
        renewed = certkernel(tmp_path, pebble, "renew", "--force-renewal",
                             "--no-random-sleep-on-renew", "--cert-name", "pre.example")
        assert renewed.returncode == 0, renewed.stdout + renewed.stderr
        assert os.readlink(live / "cert.pem").endswith("cert2.pem")
        assert names_in(live / "cert.pem") == sorted(sites)


def test_the_map_option_wins_over_the_pairing_and_adds_its_names(
        tmp_path: Path, pebble: Pebble) -> None:
    a, c = tmp_path / "site-a", tmp_path / "site-c"
    sites = {"x.example": c, "a.example": a, "c.example": c, "d.example": c}
    with virtual_hosts(pebble.http01_port, sites):
        # x.example follows --vhostdrop-site A, but the map names it: the map wins
        # (A does not serve it). c and d are only in the map: they join the names.
        done = certkernel(tmp_path, pebble, "certonly", "-a", "vhostdrop",
                          "--vhostdrop-site", str(a), "-d", "x.example,a.example",
                          "--vhostdrop-sites",
                          json.dumps({"x.example": str(c), "c.example,d.example": str(c)}))
    assert done.returncode == 0, done.stdout + done.stderr
    assert names_in(tmp_path / "etc" / "live" / "x.example" / "cert.pem") == sorted(sites)


def test_a_name_paired_with_no_site_is_refused_by_the_plugin_not_guessed(
        tmp_path: Path, pebble: Pebble) -> None:
    # Without any --vhostdrop-site there is nothing to pair: the kernel sends an
    # empty map and the plugin's own error reaches the user in one line.
    with virtual_hosts(pebble.http01_port, {"lone.example": tmp_path / "site"}):
        done = certkernel(tmp_path, pebble, "certonly", "-a", "vhostdrop", "-d", "lone.example")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "vhostdrop: no site folder for lone.example (sites: [])" in done.stderr
    assert not (tmp_path / "etc" / "live" / "lone.example").exists()


def test_a_plugin_that_does_not_read_challenge_values_keeps_a_process_per_lineage(
        tmp_path: Path, pebble: Pebble) -> None:
    # vhostdrop predates the challenges' per_domain field and reads only its
    # options, so it does not declare [needs] per_domain_from_challenge: each
    # lineage's map gets a process of its own, and a name two lineages share
    # is written into each lineage's own folder, never the other's.
    a, b = tmp_path / "site-a", tmp_path / "site-b"
    sites: dict[str, Path | list[Path]] = {"one.example": a, "two.example": b,
                                           "same.example": [a, b]}
    with virtual_hosts(pebble.http01_port, sites) as answers:
        for site, name in ((a, "one.example"), (b, "two.example")):
            done = certkernel(tmp_path, pebble, "certonly", "-a", "vhostdrop",
                              "--vhostdrop-site", str(site), "-d", name, "-d", "same.example")
            assert done.returncode == 0, done.stdout + done.stderr
        answers.clear()
        renewed = certkernel(tmp_path, pebble, "renew", "--force-renewal",
                             "--no-random-sleep-on-renew")
    assert renewed.returncode == 0, renewed.stdout + renewed.stderr
    for name in ("one.example", "two.example"):
        assert os.readlink(tmp_path / "etc" / "live" / name / "cert.pem").endswith("cert2.pem")
    log = (tmp_path / "logs" / "letsencrypt.log").read_text()
    assert log.count("Started plugin vhostdrop (pid ") == 2
    # One token per lineage (Pebble may fetch each more than once), each from its folder.
    same = {(x.folder.name, x.name) for x in answers if x.host == "same.example"}
    assert sorted(folder for folder, _token in same) == ["site-a", "site-b"]
