"""certonly against special Pebbles (alternate roots, EAB) and on a hand-made Certbot dir."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

from cryptography import x509

from certkernel import crypto
from certkernel.ca.accounts import server_path
from tests.infra.cli_run import (
    Dirs,
    auth_args,
    check_lineage,
    ck,
    dns_hook,
    failed,
    obtain,
    ok,
)
from tests.infra.pebble import Pebble


def _top_issuer(chain_pem: bytes) -> str:
    """The issuer CN of the last certificate of a chain: the root the chain leads to."""
    last = x509.load_pem_x509_certificates(chain_pem)[-1]
    return last.issuer.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value  # type: ignore[return-value]


def _root_cn(pem: str) -> str:
    cert = x509.load_pem_x509_certificate(pem.encode())
    return cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value  # type: ignore[return-value]


def test_preferred_chain_picks_alternate_root(tmp_path: Path,
                                              pebble_factory: Callable[..., Pebble]) -> None:
    alt = pebble_factory(alternate_roots=2)
    hook = dns_hook(tmp_path, alt)
    roots = [_root_cn(alt.root_pem(i)) for i in range(3)]
    assert len(set(roots)) == 3
    dirs = Dirs.under(tmp_path / "default")
    ok(obtain(dirs, alt, hook, "chain.example.com"))
    live = dirs.config / "live" / "chain.example.com"
    assert _top_issuer((live / "chain.pem").read_bytes()) == roots[0]
    for wanted in (roots[2], roots[1]):
        other = Dirs.under(tmp_path / f"pick-{roots.index(wanted)}")
        ok(obtain(other, alt, hook, "chain.example.com", extra=("--preferred-chain", wanted)))
        check_lineage(other.config, "chain.example.com")
        chain = (other.config / "live" / "chain.example.com" / "chain.pem").read_bytes()
        assert _top_issuer(chain) == wanted
    # An unknown name falls back to the default chain, as Certbot does.
    fallback = Dirs.under(tmp_path / "fallback")
    ok(obtain(fallback, alt, hook, "chain.example.com",
              extra=("--preferred-chain", "No Such Root")))
    chain = (fallback.config / "live" / "chain.example.com" / "chain.pem").read_bytes()
    assert _top_issuer(chain) == roots[0]


def test_certonly_with_eab(tmp_path: Path, pebble_factory: Callable[..., Pebble]) -> None:
    hmac = "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W"
    eab = pebble_factory(eab_keys={"kid-7": hmac})
    hook = dns_hook(tmp_path, eab)
    dirs = Dirs.under(tmp_path / "eab")
    err = failed(obtain(dirs, eab, hook, "eab.example.com"))
    assert "--eab-kid" in err
    assert not (dirs.config / "live").exists()
    ok(obtain(dirs, eab, hook, "eab.example.com",
              extra=("--eab-kid", "kid-7", "--eab-hmac-key", hmac)))
    check_lineage(dirs.config, "eab.example.com")
    conf = (dirs.config / "renewal" / "eab.example.com.conf").read_text()
    assert hmac not in conf
    assert not any(hmac in p.read_text(errors="replace")
                   for p in dirs.logs.rglob("*") if p.is_file())


def _write_certbot_dir(dirs: Dirs, pebble: Pebble, hook: Path, tmp_path: Path,
                       account_id: str) -> Path:
    """A lineage as Certbot 1.7 leaves it, written by hand from a cert issued via --csr."""
    name = "hand.example.com"
    key = crypto.make_key(crypto.KeySpec("rsa", rsa_key_size=2048))
    (tmp_path / "hand.csr").write_bytes(crypto.make_csr(key, [name, f"www.{name}"]))
    out = tmp_path / "issued"
    out.mkdir()
    ok(ck(dirs, "certonly", *auth_args(hook), "--csr", str(tmp_path / "hand.csr"),
          "--cert-path", str(out / "cert.pem"), "--chain-path", str(out / "chain.pem"),
          "--fullchain-path", str(out / "fullchain.pem"), pebble=pebble))
    archive = dirs.config / "archive" / name
    live = dirs.config / "live" / name
    archive.mkdir(parents=True)
    live.mkdir(parents=True)
    for kind in ("cert", "chain", "fullchain"):
        (archive / f"{kind}1.pem").write_bytes((out / f"{kind}.pem").read_bytes())
    (archive / "privkey1.pem").write_bytes(key)
    os.chmod(archive / "privkey1.pem", 0o600)
    for kind in ("cert", "chain", "fullchain", "privkey"):
        os.symlink(f"../../archive/{name}/{kind}1.pem", live / f"{kind}.pem")
    (live / "README").write_text("This directory contains your keys and certificates.\n")
    renewal = dirs.config / "renewal"
    renewal.mkdir()
    (renewal / f"{name}.conf").write_text(
        "# renew_before_expiry = 30 days\n"
        "version = 1.7.0\n"
        f"archive_dir = {archive}\n"
        f"cert = {live}/cert.pem\n"
        f"privkey = {live}/privkey.pem\n"
        f"chain = {live}/chain.pem\n"
        f"fullchain = {live}/fullchain.pem\n"
        "\n"
        "# Options used in the renewal process\n"
        "[renewalparams]\n"
        f"account = {account_id}\n"
        "pref_challs = dns-01,\n"
        "authenticator = manual\n"
        f"manual_auth_hook = {hook}\n"
        "manual_public_ip_logging_ok = True\n"
        f"server = {pebble.directory_url}\n"
        "rsa_key_size = 2048\n")
    return archive


def test_hand_written_certbot_dir_listed_and_renewed(dirs: Dirs, pebble: Pebble, hook: Path,
                                                     tmp_path: Path) -> None:
    ok(ck(dirs, "register", "--agree-tos", "-m", "hand@example.org", pebble=pebble))
    root = dirs.config / "accounts" / server_path(pebble.directory_url)
    [account_id] = [p.name for p in root.iterdir()]
    archive = _write_certbot_dir(dirs, pebble, hook, tmp_path, account_id)
    listed = json.loads(ok(ck(dirs, "certificates", "--json")).stdout)
    [entry] = listed["certificates"]
    assert entry["name"] == "hand.example.com" and entry["key_type"] == "RSA"
    assert entry["domains"] == ["hand.example.com", "www.hand.example.com"]
    assert "Certificate Name: hand.example.com" in ok(ck(dirs, "certificates")).stdout
    ok(ck(dirs, "certonly", *auth_args(hook), "--cert-name", "hand.example.com",
          "--force-renewal", pebble=pebble))
    check_lineage(dirs.config, "hand.example.com")
    assert (archive / "cert2.pem").exists()
    assert os.readlink(dirs.config / "live" / "hand.example.com" / "cert.pem") == \
        "../../archive/hand.example.com/cert2.pem"
    [renewed] = json.loads(ok(ck(dirs, "certificates", "--json")).stdout)["certificates"]
    assert renewed["serial"] != entry["serial"]
    assert renewed["domains"] == entry["domains"]
    # No --key-type given: the lineage keeps its RSA key type, as Certbot 2 does.
    assert renewed["key_type"] == "RSA"
