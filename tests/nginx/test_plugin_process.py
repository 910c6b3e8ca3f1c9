"""The nginx plugin as users run it: its own process, through the plugin host, against a real nginx."""

from __future__ import annotations

from pathlib import Path

import pytest

from certkernel.errors import MisconfigurationError
from certkernel.plugin_host.discovery import discover
from certkernel.protocol.messages import Challenge, LineageInfo
from tests.infra.nginx import http_get, https_get
from tests.infra.selfsigned import make_cert
from tests.infra.tls import served_certificate
from tests.nginx.checkpoints import FileCheckpoints
from tests.nginx.conftest import Site
from tests.nginx.plugin_run import nginx_plugin


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*")
            if p.is_file() and p.suffix in (".conf", ".inc")}


def test_manifest_declares_installer_and_authenticator() -> None:
    manifest = discover()["nginx"]
    assert set(manifest.roles) == {"authenticator", "installer"}
    assert {o.flag for o in manifest.options} >= {"--nginx-server-root", "--nginx-ctl", "--nginx-sleep-seconds"}


def test_get_all_names(site: Site, tmp_path: Path) -> None:
    with nginx_plugin(site, tmp_path, FileCheckpoints()) as (installer, _auth):
        assert installer.get_all_names() == ["example.test", "www.example.test"]


def test_deploy_redirect_hsts_on_a_plain_site(site: Site, tmp_path: Path) -> None:
    cert = make_cert(tmp_path / "certs", ["example.test"], "one")
    cps = FileCheckpoints()
    before = _snapshot(site.root)
    with nginx_plugin(site, tmp_path, cps) as (installer, _auth):
        installer.deploy_cert("example.test", "", cert.key, "", cert.fullchain)
        installer.enhance("example.test", "redirect", None)
        installer.enhance("example.test", "ensure-http-header", "Strict-Transport-Security")
        installer.save("Deployed example.test", False)
        installer.config_test()
        installer.restart()
    # Registered with the checkpoints before it was written: the saved bytes are the old ones.
    assert [(kind, Path(p).name, data) for kind, p, data in cps.log] == [
        ("add", "example.conf", before["sites/example.conf"])]
    site.nginx.wait_for_certificate(site.https_port, "example.test", cert.serial)
    assert served_certificate("127.0.0.1", site.https_port, "example.test").serial_number == cert.serial
    status, headers, body = https_get(site.https_port, "example.test")
    assert (status, body) == (200, b"plain site\n")
    assert headers["strict-transport-security"] == "max-age=31536000"
    status, headers, _ = http_get(site.http_port, "example.test", "/a?b=1")
    assert status == 301
    assert headers["location"] == f"https://example.test:{site.https_port}/a?b=1"
    assert (tmp_path / "le" / "options-ssl-nginx.conf").exists()
    # Rolling back restores the exact bytes and nginx serves as before.
    cps.rollback(1)
    assert _snapshot(site.root) == before
    with nginx_plugin(site, tmp_path, cps) as (installer, _auth):
        installer.restart()
    assert http_get(site.http_port, "example.test") == (200, http_get(site.http_port, "example.test")[1], b"plain site\n")


def test_http01_challenge_served_then_reverted(site: Site, tmp_path: Path) -> None:
    cps = FileCheckpoints()
    before = _snapshot(site.root)
    challs = [
        Challenge(identifier="example.test", type="http-01", token="tok-A_1", key_authorization="tok-A_1.thumb",
                  validation="tok-A_1.thumb", uri_path="/.well-known/acme-challenge/tok-A_1"),
        Challenge(identifier="other.test", type="http-01", token="tokB", key_authorization="tokB.thumb",
                  validation="tokB.thumb", uri_path="/.well-known/acme-challenge/tokB"),
    ]
    with nginx_plugin(site, tmp_path, cps) as (_installer, auth):
        assert auth.get_chall_pref("example.test") == ["http-01"]
        auth.perform(challs)
        for chall in challs:
            status, headers, body = http_get(site.http_port, chall.identifier, chall.uri_path)
            assert (status, body) == (200, chall.validation.encode())
            assert headers["content-type"] == "text/plain"
        assert http_get(site.http_port, "example.test", "/")[2] == b"plain site\n"
        auth.cleanup(challs)
        assert _snapshot(site.root) == before
        assert http_get(site.http_port, "example.test", challs[0].uri_path)[2] == b"plain site\n"


def test_http01_after_redirect_still_answers(site: Site, tmp_path: Path) -> None:
    cert = make_cert(tmp_path / "certs", ["example.test"], "one")
    cps = FileCheckpoints()
    chall = Challenge(identifier="example.test", type="http-01", token="t1", key_authorization="t1.k",
                      validation="t1.k", uri_path="/.well-known/acme-challenge/t1")
    with nginx_plugin(site, tmp_path, cps) as (installer, auth):
        installer.deploy_cert("example.test", "", cert.key, "", cert.fullchain)
        installer.enhance("example.test", "redirect", None)
        installer.save("Deployed", False)
        installer.restart()
        auth.perform([chall])
        assert http_get(site.http_port, "example.test", chall.uri_path)[::2] == (200, b"t1.k")
        auth.cleanup([chall])
        assert http_get(site.http_port, "example.test", chall.uri_path)[0] == 301


def test_failing_config_test_is_reverted_and_nginx_keeps_serving(site: Site, tmp_path: Path) -> None:
    before = _snapshot(site.root)
    missing = str(tmp_path / "no-such-fullchain.pem")
    with nginx_plugin(site, tmp_path, FileCheckpoints()) as (installer, _auth):
        installer.deploy_cert("example.test", "", str(tmp_path / "no-such-key.pem"), "", missing)
        with pytest.raises(MisconfigurationError) as info:
            installer.save("broken", False)
    assert "nginx -t failed" in str(info.value) and "reverted" in str(info.value)
    assert _snapshot(site.root) == before
    assert site.nginx.running()
    assert http_get(site.http_port, "example.test")[2] == b"plain site\n"


def test_renew_deploy_swaps_the_served_certificate(site: Site, tmp_path: Path) -> None:
    first = make_cert(tmp_path / "certs", ["example.test"], "one")
    second = make_cert(tmp_path / "certs", ["example.test"], "two")
    with nginx_plugin(site, tmp_path, FileCheckpoints()) as (installer, _auth):
        installer.deploy_cert("example.test", "", first.key, "", first.fullchain)
        installer.save("first", False)
        installer.restart()
        site.nginx.wait_for_certificate(site.https_port, "example.test", first.serial)
        lineage = LineageInfo(name="example.test", cert_path="", key_path=second.key, chain_path="",
                              fullchain_path=second.fullchain, domains=["example.test"])
        assert "renew_deploy" in installer.capabilities
        installer.renew_deploy(lineage)
        installer.restart()
    site.nginx.wait_for_certificate(site.https_port, "example.test", second.serial)


def test_unknown_name_fails_with_advice_non_interactive(site: Site, tmp_path: Path) -> None:
    cert = make_cert(tmp_path / "certs", ["nomatch.test"], "x")
    with nginx_plugin(site, tmp_path, FileCheckpoints()) as (installer, _auth):
        with pytest.raises(MisconfigurationError, match="server_name nomatch.test"):
            installer.deploy_cert("nomatch.test", "", cert.key, "", cert.fullchain)
