"""The unattended ``renew`` path as cron runs it (issue 13's "Bugs on the cron path").

Every test runs the real CLI against a real Pebble; each one failed before
its fix. Lineages come from ``certonly -a webroot`` (the session Pebble of
this folder) unless the test needs a CA of its own.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.infra.httpd import static_site
from tests.infra.pebble import Pebble
from tests.renew.renew_env import Host, hook_script, log_lines


def _account_dirs(config_dir: Path, pebble: Pebble) -> list[Path]:
    """The accounts stored for one Pebble (Certbot's layout: accounts/<host:port>/dir/<id>)."""
    base = config_dir / "accounts" / f"127.0.0.1:{pebble.acme_port}" / "dir"
    return sorted(p for p in base.iterdir() if p.is_dir()) if base.is_dir() else []


# -- 1. saved http-01 settings ------------------------------------------------

@pytest.fixture(scope="module")
def standalone_ca(pebble_factory: Callable[..., Pebble]) -> Pebble:
    """A CA whose http-01 port nothing serves: the standalone plugin binds it."""
    return pebble_factory()


def _standalone_host(ca: Pebble, tmp_path: Path) -> Host:
    return Host(SimpleNamespace(pebble=ca, webroot=tmp_path / "unused"), tmp_path)  # type: ignore[arg-type]


def test_renew_binds_the_http01_port_and_address_saved_in_the_conf(
        standalone_ca: Pebble, tmp_path: Path) -> None:
    """A lineage made with --http-01-port X is renewed on X, not on port 80."""
    own = standalone_ca
    host = _standalone_host(own, tmp_path)
    issued = host.run("certonly", "--standalone", "-d", "port.example.com",
                      "--http-01-port", str(own.http01_port), "--http-01-address", "127.0.0.1",
                      "--server", own.directory_url, "--ca-bundle", own.ca_bundle,
                      "--agree-tos", "-m", "cron@example.org")
    assert issued.returncode == 0, issued.stderr
    conf = host.conf_path("port.example.com").read_text()
    assert f"http01_port = {own.http01_port}" in conf
    assert "http01_address = 127.0.0.1" in conf
    host.forget_authorizations()  # the renewal must bind the port to prove the name

    result = host.renew("--force-renewal")

    assert result.returncode == 0, result.stderr
    assert host.version("port.example.com") == 2


def test_one_run_serves_each_lineage_on_its_own_saved_port(
        standalone_ca: Pebble, pebble_factory: Callable[..., Pebble], tmp_path: Path) -> None:
    """Two lineages from two CAs, each validated on another port, in one renew run."""
    cas = [standalone_ca, pebble_factory()]
    host = _standalone_host(standalone_ca, tmp_path)
    for index, ca in enumerate(cas):
        issued = host.run("certonly", "--standalone", "-d", f"ca{index}.example.com",
                          "--http-01-port", str(ca.http01_port),
                          "--server", ca.directory_url, "--ca-bundle", ca.ca_bundle,
                          "--agree-tos", "-m", "cron@example.org")
        assert issued.returncode == 0, issued.stderr
        host.forget_authorizations(ca)  # each port is bound again

    result = host.renew("--force-renewal")

    assert result.returncode == 0, result.stderr
    assert [host.version(f"ca{i}.example.com") for i in range(2)] == [2, 2]


def test_lineages_on_one_port_share_it_whatever_their_other_settings(
        standalone_ca: Pebble, tmp_path: Path) -> None:
    """Saved settings that do not say where to serve (here ``redirect``) must not
    start a second standalone process that would bind the same port again."""
    own = standalone_ca
    host = _standalone_host(own, tmp_path)
    for name in ("one.example.com", "two.example.com"):
        issued = host.run("certonly", "--standalone", "-d", name,
                          "--http-01-port", str(own.http01_port),
                          "--server", own.directory_url, "--ca-bundle", own.ca_bundle,
                          "--agree-tos", "-m", "cron@example.org")
        assert issued.returncode == 0, issued.stderr
    conf = host.conf_path("two.example.com")
    conf.write_text(conf.read_text().replace("[renewalparams]\n", "[renewalparams]\nredirect = True\n"))
    assert "redirect = True" in conf.read_text()
    host.forget_authorizations()  # both names are proved on the port again

    result = host.renew("--force-renewal")

    assert result.returncode == 0, result.stderr
    assert host.version("one.example.com") == 2
    assert host.version("two.example.com") == 2


# -- 2. dry run on another CA than the lineage's ---------------------------------

@pytest.fixture(scope="module")
def other_ca(pebble_factory: Callable[..., Pebble], served: object) -> Iterator[Pebble]:
    """A second CA whose http-01 validations read the same webroot as the first."""
    second = pebble_factory()
    with static_site(served.webroot, second.http01_port):  # type: ignore[attr-defined]
        yield second


def test_dry_run_against_another_ca_drops_the_saved_account_and_keeps_the_new_one(
        host: Host, other_ca: Pebble) -> None:
    """Certbot's rule: the saved account belongs to the saved CA; a dry run elsewhere
    does not look for it there, registers (no questions) and keeps that account."""
    host.issue("elsewhere.example.com")
    conf_before = host.conf_path("elsewhere.example.com").read_text()
    args = ("--dry-run", "--server", other_ca.directory_url, "--ca-bundle", other_ca.ca_bundle)

    first = host.renew(*args)

    assert first.returncode == 0, first.stderr
    assert "Congratulations, all simulated renewals succeeded" in first.stdout
    accounts = _account_dirs(host.config_dir, other_ca)
    assert len(accounts) == 1
    assert host.version("elsewhere.example.com") == 1
    assert host.conf_path("elsewhere.example.com").read_text() == conf_before

    second = host.renew(*args)

    assert second.returncode == 0, second.stderr
    assert _account_dirs(host.config_dir, other_ca) == accounts


# -- 5. post hooks get RENEWED_DOMAINS and FAILED_DOMAINS -----------------------

def test_post_hook_gets_renewed_and_failed_domains(host: Host, tmp_path: Path) -> None:
    host.issue("renewed.example.com", "www.renewed.example.com")
    host.issue("broken.example.com")
    conf = host.conf_path("broken.example.com")
    conf.write_text(conf.read_text().replace(str(host.served.webroot), str(tmp_path / "nowhere")))
    log = tmp_path / "post.log"
    post = hook_script(tmp_path / "post", log, "post")

    result = host.renew("--force-renewal", "--post-hook", str(post))

    assert result.returncode == 1
    assert log_lines(log) == [
        "post lineage= domains=renewed.example.com www.renewed.example.com "
        "failed=broken.example.com"]


def test_dry_run_post_hook_gets_the_simulated_domains(host: Host, tmp_path: Path) -> None:
    host.issue("simulated.example.com")
    log = tmp_path / "post.log"
    post = hook_script(tmp_path / "post", log, "post")

    result = host.renew("--dry-run", "--post-hook", str(post))

    assert result.returncode == 0, result.stderr
    assert log_lines(log) == ["post lineage= domains=simulated.example.com failed="]


# -- 7. a revoked certificate is due ----------------------------------------------

def test_renew_renews_a_revoked_certificate(host: Host) -> None:
    host.issue("revoked.example.com")
    pebble = host.served.pebble
    serial = _serial(host.config_dir / "live" / "revoked.example.com" / "cert.pem")
    # A first run fills the renewal cache with "not due" for this lineage.
    quiet = host.renew()
    assert quiet.returncode == 0, quiet.stderr
    assert "No renewals were attempted." in quiet.stdout

    revoked = host.run("revoke", "--cert-name", "revoked.example.com",
                       "--no-delete-after-revoke", "--server", pebble.directory_url,
                       "--ca-bundle", pebble.ca_bundle)
    assert revoked.returncode == 0, revoked.stderr
    assert pebble.cert_status(serial)["Status"] == "Revoked"

    result = host.renew()

    assert result.returncode == 0, result.stderr
    assert host.version("revoked.example.com") == 2
    assert "live/revoked.example.com/fullchain.pem (success)" in result.stdout
    again = host.renew()
    assert "No renewals were attempted." in again.stdout
    assert host.version("revoked.example.com") == 2


def _serial(path: Path) -> int:
    from cryptography import x509

    return x509.load_pem_x509_certificate(path.read_bytes()).serial_number


# -- 3. revoke --cert-name uses the lineage's CA --------------------------------

def test_revoke_by_cert_name_uses_the_server_saved_in_the_conf(host: Host) -> None:
    host.issue("revoke-me.example.com")
    pebble = host.served.pebble
    serial = _serial(host.config_dir / "live" / "revoke-me.example.com" / "cert.pem")

    # No --server: the lineage's CA (Pebble) must be used, not the default one.
    result = host.run("revoke", "--cert-name", "revoke-me.example.com",
                      "--ca-bundle", pebble.ca_bundle)

    assert result.returncode == 0, result.stderr
    assert pebble.cert_status(serial)["Status"] == "Revoked"
    assert not host.conf_path("revoke-me.example.com").exists()


def test_revoke_by_cert_name_uses_the_servers_account_when_the_saved_one_is_gone(
        host: Host) -> None:
    """As Certbot: revoke picks the server's account; a conf naming an account that
    no longer exists here does not stop it."""
    import re

    host.issue("orphan.example.com")
    pebble = host.served.pebble
    serial = _serial(host.config_dir / "live" / "orphan.example.com" / "cert.pem")
    conf = host.conf_path("orphan.example.com")
    conf.write_text(re.sub(r"^account = .*$", "account = 0123456789abcdef0123456789abcdef",
                           conf.read_text(), flags=re.M))

    result = host.run("revoke", "--cert-name", "orphan.example.com",
                      "--ca-bundle", pebble.ca_bundle)

    assert result.returncode == 0, result.stderr
    assert pebble.cert_status(serial)["Status"] == "Revoked"


# -- 8. an archive shared with another lineage survives revoke --------------------

def _twin_of(host: Host, name: str) -> Path:
    """A second lineage ``twin`` on ``name``'s archive (hand-made, as migrations leave them)."""
    original = host.conf_path(name).read_text()
    twin_live = host.config_dir / "live" / "twin"
    twin_live.mkdir()
    for kind in ("cert", "chain", "fullchain", "privkey"):
        (twin_live / f"{kind}.pem").symlink_to(f"../../archive/{name}/{kind}1.pem")
    host.conf_path("twin").write_text(original.replace(f"/live/{name}/", "/live/twin/"))
    assert f"archive/{name}" in host.conf_path("twin").read_text()
    return host.config_dir / "archive" / name


def _twin_still_works(host: Host) -> None:
    listed = host.run("certificates")
    assert listed.returncode == 0, listed.stderr
    assert "Certificate Name: twin" in listed.stdout
    renewed = host.renew("--force-renewal", "--cert-name", "twin")
    assert renewed.returncode == 0, renewed.stderr
    assert host.version("twin") == 2


def test_revoke_keeps_an_archive_another_lineage_uses(host: Host) -> None:
    host.issue("shared.example.com")
    archive = _twin_of(host, "shared.example.com")
    before = sorted(p.name for p in archive.iterdir())

    pebble = host.served.pebble
    result = host.run("revoke", "--cert-name", "shared.example.com",
                      "--server", pebble.directory_url, "--ca-bundle", pebble.ca_bundle)

    assert result.returncode == 0, result.stderr
    assert "Not deleting revoked certificates due to overlapping archive dirs" in result.stderr
    assert host.conf_path("shared.example.com").exists()  # Certbot deletes nothing then
    assert sorted(p.name for p in archive.iterdir()) == sorted([*before, "revocations.json"])
    _twin_still_works(host)


def test_delete_keeps_an_archive_another_lineage_uses(host: Host) -> None:
    host.issue("deleted.example.com")
    archive = _twin_of(host, "deleted.example.com")
    before = sorted(p.name for p in archive.iterdir())

    result = host.run("delete", "--cert-name", "deleted.example.com")

    assert result.returncode == 0, result.stderr
    assert not host.conf_path("deleted.example.com").exists()
    assert sorted(p.name for p in archive.iterdir()) == before
    assert "still uses it" in result.stderr
    _twin_still_works(host)


# -- 4. an early failure exits 1, never SIGABRT ----------------------------------

def test_early_failure_always_exits_1(host: Host) -> None:
    """Port taken: 40 runs (4 at a time, to add load) must all exit 1."""
    pebble = host.served.pebble
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        args = ("certonly", "--standalone", "-d", "early.example.com",
                "--http-01-port", str(port), "--http-01-address", "127.0.0.1",
                "--server", pebble.directory_url, "--ca-bundle", pebble.ca_bundle,
                "--agree-tos", "-m", "cron@example.org")
        codes: list[int] = []
        for _round in range(10):
            procs = [host.popen(*args) for _ in range(4)]
            for proc in procs:
                out, err = proc.communicate(timeout=120)
                codes.append(proc.returncode)
                if proc.returncode != 1:
                    pytest.fail(f"exit {proc.returncode}:\n{out}\n{err}")
        assert codes == [1] * 40
    assert "already in use" in err


def test_dry_run_of_a_production_lineage_uses_staging_without_the_production_account(
        host: Host) -> None:
    """The mapping behind bug 2 (real Let's Encrypt is out of reach of the tests):
    a lineage saved against LE production is dry-run against staging, and its
    production account is not looked for there."""
    import os

    from certkernel.ca.acme_setup import effective_server
    from certkernel.cmdline.cli import parse
    from certkernel.cmdline.cli_flags import LE_PRODUCTION, LE_STAGING
    from certkernel.config import Config
    from certkernel.lineages.named_lineage import lineage_config
    from certkernel.lineages.storage import Lineage
    from certkernel.plugin_host.discovery import discover

    host.issue("prod.example.com")
    conf = host.conf_path("prod.example.com")
    conf.write_text(conf.read_text().replace(host.served.pebble.directory_url, LE_PRODUCTION))
    lineage = Lineage.load(str(host.config_dir), "prod.example.com")
    assert lineage.renewalparams.get_str("account")

    def config_for(*args: str) -> Config:
        parsed = parse(["renew", *args, *host.dirs()], discover(env=dict(os.environ)),
                       dict(os.environ))
        assert isinstance(parsed, Config)
        return lineage_config(parsed, lineage)

    dry = config_for("--dry-run")
    assert effective_server(dry) == LE_STAGING
    assert dry.account is None
    real = config_for()
    assert effective_server(real) == LE_PRODUCTION
    assert real.account == lineage.renewalparams.get_str("account")
