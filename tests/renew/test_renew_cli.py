"""``certkernel renew`` through the CLI against Pebble: what is due, what is saved, the summary."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.renew.renew_env import Host


def test_only_due_lineages_are_renewed_and_summary_lists_both(host: Host) -> None:
    host.issue("due.example.com")
    host.issue("fresh.example.com")
    host.make_due("due.example.com")

    result = host.renew()

    assert result.returncode == 0, result.stderr
    assert host.version("due.example.com") == 2
    assert host.version("fresh.example.com") == 1
    assert "The following certificates are not due for renewal yet:" in result.stdout
    assert "live/fresh.example.com/fullchain.pem expires on" in result.stdout
    assert "Congratulations, all renewals succeeded:" in result.stdout
    assert "live/due.example.com/fullchain.pem (success)" in result.stdout


def test_nothing_due_needs_no_network(host: Host) -> None:
    """With the CA unreachable, a run where nothing is due still succeeds."""
    host.issue("offline.example.com")
    conf = host.conf_path("offline.example.com")
    text = conf.read_text()
    server = host.served.pebble.directory_url
    conf.write_text(text.replace(server, "https://127.0.0.1:9/dir"))

    result = host.renew()

    assert result.returncode == 0, result.stderr
    assert "No renewals were attempted." in result.stdout
    assert host.version("offline.example.com") == 1


def test_force_renewal_cert_name_and_overrides_saved_back(host: Host) -> None:
    host.issue("a.example.com")
    host.issue("b.example.com")

    result = host.renew("--force-renewal", "--cert-name", "a.example.com",
                        "--rsa-key-size", "3072", "--deploy-hook", "true")

    assert result.returncode == 0, result.stderr
    assert host.version("a.example.com") == 2
    assert host.version("b.example.com") == 1
    conf = host.conf_path("a.example.com").read_text()
    assert "rsa_key_size = 3072" in conf
    assert "key_type = rsa" in conf
    assert "renew_hook = true" in conf
    key = (host.config_dir / "live" / "a.example.com" / "privkey.pem").read_bytes()
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    assert load_pem_private_key(key, None).key_size == 3072  # type: ignore[union-attr]
    # the saved override is used by the next plain renewal
    again = host.renew("--force-renewal", "--cert-name", "a.example.com")
    assert again.returncode == 0, again.stderr
    key3 = load_pem_private_key(
        (host.config_dir / "live" / "a.example.com" / "privkey.pem").read_bytes(), None)
    assert key3.key_size == 3072  # type: ignore[union-attr]


def test_reuse_key_keeps_the_key(host: Host) -> None:
    host.issue("reuse.example.com")
    before = (host.config_dir / "archive" / "reuse.example.com" / "privkey1.pem").read_bytes()

    result = host.renew("--force-renewal", "--reuse-key")

    assert result.returncode == 0, result.stderr
    after = (host.config_dir / "archive" / "reuse.example.com" / "privkey2.pem").read_bytes()
    assert after == before
    assert (host.config_dir / "archive" / "reuse.example.com" / "privkey2.pem").stat().st_mode \
        & 0o077 == 0


def _snapshot(root: Path) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for path in sorted(root.rglob("*")):
        if ".locks" in path.parts:
            continue
        if path.is_symlink():
            out[str(path)] = ("->" + str(path.readlink())).encode()
        elif path.is_file():
            out[str(path)] = path.read_bytes()
    return out


def test_dry_run_saves_nothing_and_skips_deploy_hooks(host: Host, tmp_path: Path) -> None:
    host.issue("dry.example.com")
    log = tmp_path / "hooks.log"
    before = _snapshot(host.config_dir)

    result = host.renew("--dry-run", "--pre-hook", f"echo pre >> {log}",
                        "--post-hook", f"echo post >> {log}",
                        "--deploy-hook", f"echo deploy >> {log}")

    assert result.returncode == 0, result.stderr
    assert "Congratulations, all simulated renewals succeeded" in result.stdout
    assert "DRY RUN" in result.stdout
    assert _snapshot(host.config_dir) == before
    assert log.read_text().split() == ["pre", "post"]


def test_corrupt_conf_is_skipped_others_renewed(host: Host) -> None:
    host.issue("good.example.com")
    host.make_due("good.example.com")
    broken = host.conf_path("broken.example.com")
    broken.write_text("this is [not a renewal conf\n")
    half = host.conf_path("half.example.com")
    half.write_text("archive_dir = /nonexistent/archive\ncert = /nonexistent/cert.pem\n")

    result = host.renew()

    assert result.returncode == 1
    assert host.version("good.example.com") == 2
    assert f"Renewal configuration file {broken} is broken" in result.stderr
    assert f"Renewal configuration file {half} is broken" in result.stderr
    assert "live/good.example.com/fullchain.pem (success)" in result.stderr
    assert "0 renew failure(s), 2 parse failure(s)" in result.stderr
    assert broken.read_text() == "this is [not a renewal conf\n"


def test_autorenew_false_is_skipped(host: Host) -> None:
    host.issue("manual-only.example.com")
    host.make_due("manual-only.example.com")
    conf = host.conf_path("manual-only.example.com")
    conf.write_text(conf.read_text().replace("[renewalparams]\n", "[renewalparams]\nautorenew = False\n"))

    result = host.renew()

    assert result.returncode == 0, result.stderr
    assert host.version("manual-only.example.com") == 1
    assert "autorenew disabled (skipped)" in result.stdout


def test_failed_renewal_reports_reason_and_exits_1(host: Host, tmp_path: Path) -> None:
    host.issue("ok.example.com")
    host.issue("bad.example.com")
    conf = host.conf_path("bad.example.com")
    unserved = tmp_path / "not-served"
    conf.write_text(conf.read_text().replace(str(host.served.webroot), str(unserved)))

    result = host.renew("--force-renewal")

    assert result.returncode == 1
    assert host.version("ok.example.com") == 2
    assert host.version("bad.example.com") == 1
    assert "live/ok.example.com/fullchain.pem (success)" in result.stderr
    assert "live/bad.example.com/fullchain.pem (failure):" in result.stderr
    assert "1 renew failure(s), 0 parse failure(s)" in result.stderr


CERTBOT_CONF = """\
# renew_before_expiry = 30 days
version = 1.7.0
archive_dir = {etc}/archive/{name}
cert = {etc}/live/{name}/cert.pem
privkey = {etc}/live/{name}/privkey.pem
chain = {etc}/live/{name}/chain.pem
fullchain = {etc}/live/{name}/fullchain.pem

# Options used in the renewal process
[renewalparams]
account = {account}
authenticator = webroot
webroot_path = {webroot},
server = {server}
ca_bundle = {ca}
installer = None
pref_challs = http-01,
manual_public_ip_logging_ok = True
[[webroot_map]]
{name} = {webroot}
"""


def test_certbot_written_conf_renews_unchanged(host: Host) -> None:
    """A conf in Certbot 1.7's exact layout, with a key we do not use, renews and keeps it."""
    host.issue("seed.example.com")
    name = "certbot.example.com"
    etc = host.config_dir
    # Certbot's lineage files: copy the seed lineage under the new name (same cert names
    # do not matter for renew, which renews whatever names the cert holds).
    shutil.copytree(etc / "archive" / "seed.example.com", etc / "archive" / name)
    (etc / "live" / name).mkdir()
    for kind in ("cert", "chain", "fullchain", "privkey"):
        (etc / "live" / name / f"{kind}.pem").symlink_to(f"../../archive/{name}/{kind}1.pem")
    seed_conf = host.conf_path("seed.example.com").read_text()
    account = next(line.split("=", 1)[1].strip() for line in seed_conf.splitlines()
                   if line.startswith("account ="))
    pebble = host.served.pebble
    host.conf_path(name).write_text(CERTBOT_CONF.format(
        etc=etc, name=name, account=account, webroot=host.served.webroot,
        server=pebble.directory_url, ca=pebble.ca_bundle))

    result = host.renew("--force-renewal", "--cert-name", name)

    assert result.returncode == 0, result.stderr
    assert host.version(name) == 2
    conf = host.conf_path(name).read_text()
    assert "manual_public_ip_logging_ok = True" in conf
    assert "# renew_before_expiry = 30 days" in conf
    assert "[[webroot_map]]" in conf
