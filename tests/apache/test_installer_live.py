"""The installer against a real apache2 on loopback ports.

What a user checks: after deploy + save + graceful, a TLS handshake on the
HTTPS port presents the new certificate for the name; the redirect answers
301; the HSTS header is there; a renewal swaps the served certificate; a
rollback gives back byte-identical files and the old behaviour; a change
httpd rejects never stays on disk.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from certkernel.errors import MisconfigurationError, PluginEnhancementAlreadyPresent
from certkernel.plugins.apache.enhance import enhance, set_hsts_max_age
from certkernel.plugins.apache.installer import ApacheInstaller
from certkernel.plugins.apache.options import resolve
from tests.apache.conftest import LiveApache
from tests.apache.helpers import make_cert, snapshot
from tests.infra.apache import http_get, served_cert_der, settled_get


def _installer(live: LiveApache, version: tuple[int, ...] | None = None) -> ApacheInstaller:
    return ApacheInstaller(
        resolve({"server-root": str(live.root)}),
        live.checkpoints,
        https_port=live.https_port,
        config_dir=live.base / "letsencrypt",
        version=version,
    )


def _deploy(live: LiveApache, inst: ApacheInstaller, name: str, tag: str) -> dict[str, str]:
    cert = make_cert(live.base / "certs", [name], tag)
    inst.deploy_cert(
        name, cert["cert_path"], cert["key_path"], cert["chain_path"], cert["fullchain_path"]
    )
    return cert


def _apply(live: LiveApache, inst: ApacheInstaller) -> None:
    inst.save()
    live.server.graceful()
    live.server.wait_port(live.https_port)


def test_deploy_serves_new_cert_and_rollback_restores_bytes(live_apache: LiveApache) -> None:
    live = live_apache
    before = snapshot(live.root)
    inst = _installer(live)
    assert inst.get_all_names() == ["example.test", "other.test", "www.example.test"]
    cert = _deploy(live, inst, "example.test", "a")
    _apply(live, inst)

    assert served_cert_der(live.https_port, "example.test").hex() == cert["der"]
    status, _, body = http_get(live.https_port, "example.test", tls=True)
    assert (status, body) == (200, b"plain site\n")
    new_conf = live.root / "sites-available" / "example-le-ssl.conf"
    assert (live.root / "sites-enabled" / "example-le-ssl.conf").resolve() == new_conf
    assert (live.root / "mods-enabled" / "ssl.load").is_symlink()
    # every file written was registered before
    registered = {f for _, f, _ in live.checkpoints.log}
    changed = {k for k, v in snapshot(live.root).items() if before.get(k) != v}
    assert changed <= registered

    live.checkpoints.rollback()
    assert snapshot(live.root) == before
    live.server.graceful()
    status, _, body = settled_get(live.http_port, "example.test", "/", 200)
    assert (status, body) == (200, b"plain site\n")


def test_two_names_get_their_own_certificates(live_apache: LiveApache) -> None:
    live = live_apache
    inst = _installer(live)
    a = _deploy(live, inst, "example.test", "a")
    b = _deploy(live, inst, "other.test", "b")
    _apply(live, inst)
    assert served_cert_der(live.https_port, "example.test").hex() == a["der"]
    assert served_cert_der(live.https_port, "other.test").hex() == b["der"]


def test_renewal_swaps_the_served_certificate(live_apache: LiveApache) -> None:
    live = live_apache
    inst = _installer(live)
    _deploy(live, inst, "example.test", "a")
    _apply(live, inst)
    ssl_conf = live.root / "sites-available" / "example-le-ssl.conf"
    first = ssl_conf.read_text()

    inst = _installer(live)
    renewed = _deploy(live, inst, "example.test", "renewed")
    _apply(live, inst)
    assert served_cert_der(live.https_port, "example.test").hex() == renewed["der"]
    second = ssl_conf.read_text()
    assert second == first.replace("fullchain-a.pem", "fullchain-renewed.pem").replace(
        "privkey-a.pem", "privkey-renewed.pem"
    )


def test_redirect_hsts_uir_and_stapling(live_apache: LiveApache) -> None:
    live = live_apache
    inst = _installer(live)
    _deploy(live, inst, "example.test", "a")
    enhance(inst, "example.test", "redirect", None)
    _apply(live, inst)
    inst = _installer(live)
    enhance(inst, "example.test", "ensure-http-header", "Strict-Transport-Security")
    enhance(inst, "example.test", "ensure-http-header", "Upgrade-Insecure-Requests")
    enhance(inst, "example.test", "staple-ocsp", None)
    _apply(live, inst)

    status, headers, _ = http_get(live.http_port, "www.example.test", "/page?q=1")
    assert status == 301
    assert headers["location"] == f"https://www.example.test:{live.https_port}/page?q=1"
    status, headers, _ = http_get(live.https_port, "example.test", tls=True)
    assert status == 200
    assert headers["strict-transport-security"] == "max-age=31536000"
    assert headers["content-security-policy"] == "upgrade-insecure-requests"
    # other.test was not touched
    assert http_get(live.http_port, "other.test")[0] == 200

    inst = _installer(live)
    with pytest.raises(PluginEnhancementAlreadyPresent):
        enhance(inst, "example.test", "redirect", None)
    with pytest.raises(PluginEnhancementAlreadyPresent):
        enhance(inst, "example.test", "ensure-http-header", "Strict-Transport-Security")


def test_autohsts_max_age_changes_are_served(live_apache: LiveApache) -> None:
    live = live_apache
    inst = _installer(live)
    _deploy(live, inst, "example.test", "a")
    _apply(live, inst)
    for seconds in (60, 300, 31536000):
        inst = _installer(live)
        set_hsts_max_age(inst, "example.test", seconds)
        _apply(live, inst)
        headers = http_get(live.https_port, "example.test", tls=True)[1]
        assert headers["strict-transport-security"] == f"max-age={seconds}"


def test_failing_config_test_leaves_original_active(live_apache: LiveApache) -> None:
    live = live_apache
    before = snapshot(live.root)
    inst = _installer(live)
    cert = make_cert(live.base / "certs", ["example.test"], "a")
    missing_key = str(live.base / "certs" / "no-such-key.pem")
    inst.deploy_cert(
        "example.test", cert["cert_path"], missing_key, cert["chain_path"], cert["fullchain_path"]
    )
    with pytest.raises(MisconfigurationError, match="config test failed.*no-such-key.pem"):
        inst.save()
    assert snapshot(live.root) == before
    live.server.graceful()
    assert http_get(live.http_port, "example.test")[0] == 200


def test_old_apache_gets_a_separate_chain_file(live_apache: LiveApache) -> None:
    live = live_apache
    inst = _installer(live, version=(2, 4, 7))
    cert = _deploy(live, inst, "example.test", "a")
    _apply(live, inst)
    text = (live.root / "sites-available" / "example-le-ssl.conf").read_text()
    assert f"SSLCertificateFile {cert['cert_path']}" in text
    assert f"SSLCertificateChainFile {cert['chain_path']}" in text
    assert "fullchain" not in text
    assert served_cert_der(live.https_port, "example.test").hex() == cert["der"]


def test_unknown_name_is_a_clear_error(live_apache: LiveApache) -> None:
    inst = _installer(live_apache)
    with pytest.raises(MisconfigurationError, match="ServerName nothere.test"):
        _deploy(live_apache, inst, "nothere.test", "x")
    assert inst.config.pending() == ([], [])
    assert not Path(live_apache.root / "sites-available" / "example-le-ssl.conf").exists()
