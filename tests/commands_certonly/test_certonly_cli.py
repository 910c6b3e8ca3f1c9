"""certonly through the CLI with the manual plugin and a dns-01 hook against Pebble.

Every issued set is checked on disk (check_lineage): key matches cert,
fullchain = cert + chain, modes, relative links, renewal conf round-trips.
"""

from __future__ import annotations

import os
from pathlib import Path

from certkernel import crypto
from tests.infra.cli_run import (
    Dirs,
    auth_args,
    cert_names,
    check_lineage,
    ck,
    failed,
    obtain,
    ok,
)
from tests.infra.pebble import Pebble

CLOSED_SERVER = ["--server", "https://127.0.0.1:9/dir"]  # nothing may be contacted


def versions(dirs: Dirs, name: str) -> list[str]:
    """The archive's version files (``ari.json`` beside them is the ARI cache)."""
    return sorted(p.name for p in (dirs.config / "archive" / name).iterdir() if p.suffix == ".pem")


def test_new_lineage_and_renewal_conf(dirs: Dirs, pebble: Pebble, hook: Path) -> None:
    result = ok(obtain(dirs, pebble, hook, "new.example.com", "www.new.example.com"))
    assert "Successfully received certificate." in result.stdout
    assert f"{dirs.config}/live/new.example.com/fullchain.pem" in result.stdout
    conf = check_lineage(dirs.config, "new.example.com")
    assert cert_names(dirs.config, "new.example.com") == ["new.example.com",
                                                           "www.new.example.com"]
    params = conf.params
    assert params.get_str("authenticator") == "manual"
    assert params.get_str("server") == pebble.directory_url
    assert params.get_str("key_type") == "ecdsa"
    assert params.get_str("manual_auth_hook") == str(hook)
    assert len(params.get_str("account") or "") == 32
    key = (dirs.config / "live" / "new.example.com" / "privkey.pem").read_bytes()
    assert crypto.key_spec_of(key).key_type == "ecdsa"


def test_same_names_again_keeps_and_collision_with_duplicate(dirs: Dirs, pebble: Pebble,
                                                              hook: Path) -> None:
    ok(obtain(dirs, pebble, hook, "keep.example.com"))
    before = (dirs.config / "live" / "keep.example.com" / "cert.pem").read_bytes()
    result = ok(obtain(dirs, pebble, hook, "keep.example.com"))
    assert "no action taken" in result.stdout
    assert (dirs.config / "live" / "keep.example.com" / "cert.pem").read_bytes() == before
    assert versions(dirs, "keep.example.com") == ["cert1.pem", "chain1.pem", "fullchain1.pem",
                                                  "privkey1.pem"]
    ok(obtain(dirs, pebble, hook, "keep.example.com", extra=("--duplicate",)))
    check_lineage(dirs.config, "keep.example.com-0001")
    assert cert_names(dirs.config, "keep.example.com-0001") == ["keep.example.com"]
    ok(obtain(dirs, pebble, hook, "keep.example.com", extra=("--duplicate",)))
    check_lineage(dirs.config, "keep.example.com-0002")
    assert (dirs.config / "live" / "keep.example.com" / "cert.pem").read_bytes() == before


def test_expand_and_subset_rule(dirs: Dirs, pebble: Pebble, hook: Path) -> None:
    ok(obtain(dirs, pebble, hook, "grow.example.com"))
    err = failed(obtain(dirs, pebble, hook, "grow.example.com", "more.grow.example.com"))
    assert "--expand" in err and "--duplicate" in err
    assert len(err.strip().splitlines()) == 1
    assert cert_names(dirs.config, "grow.example.com") == ["grow.example.com"]
    ok(obtain(dirs, pebble, hook, "grow.example.com", "more.grow.example.com",
              extra=("--expand",)))
    check_lineage(dirs.config, "grow.example.com")
    assert cert_names(dirs.config, "grow.example.com") == ["grow.example.com",
                                                            "more.grow.example.com"]
    assert "privkey2.pem" in versions(dirs, "grow.example.com")
    assert not (dirs.config / "renewal" / "grow.example.com-0001.conf").exists()


def test_cert_name_changes_domains(dirs: Dirs, pebble: Pebble, hook: Path) -> None:
    ok(obtain(dirs, pebble, hook, "a.change.example.com", "b.change.example.com",
              extra=("--cert-name", "mysite")))
    check_lineage(dirs.config, "mysite")
    ok(obtain(dirs, pebble, hook, "a.change.example.com", "c.change.example.com",
              extra=("--cert-name", "mysite")))
    check_lineage(dirs.config, "mysite")
    assert cert_names(dirs.config, "mysite") == ["a.change.example.com", "c.change.example.com"]
    assert sorted(p.name for p in (dirs.config / "renewal").iterdir()) == ["mysite.conf"]


def test_bad_domain_fails_before_any_network_call(dirs: Dirs, hook: Path) -> None:
    result = ck(dirs, "certonly", *auth_args(hook), "-d", "bad_name!.example.com",
                "--agree-tos", "-m", "a@example.org", *CLOSED_SERVER)
    err = failed(result)
    assert len(err.strip().splitlines()) == 1, err
    assert "bad_name!.example.com" in err
    assert "connect" not in err.lower()
    assert not any((dirs.config / d).exists() for d in ("accounts", "renewal", "live"))


def test_wildcard_with_http_only_plugin_fails_before_ca(dirs: Dirs) -> None:
    err = failed(ck(dirs, "certonly", "--standalone", "-d", "*.wild.example.com",
                    "--agree-tos", "-m", "a@example.org", *CLOSED_SERVER))
    assert "*.wild.example.com" in err and "dns-01" in err
    assert len(err.strip().splitlines()) == 1
    assert not (dirs.config / "accounts").exists()


def test_wildcard_with_dns_hook(dirs: Dirs, pebble: Pebble, hook: Path) -> None:
    ok(obtain(dirs, pebble, hook, "*.wild.example.com", "wild.example.com"))
    check_lineage(dirs.config, "wild.example.com")
    assert cert_names(dirs.config, "wild.example.com") == ["*.wild.example.com",
                                                            "wild.example.com"]


def test_dry_run_writes_nothing_to_config_dir(dirs: Dirs, pebble: Pebble, hook: Path) -> None:
    result = ok(obtain(dirs, pebble, hook, "dry.example.com", extra=("--dry-run",)))
    assert "The dry run was successful." in result.stdout
    # Only the account it registered is kept (as Certbot does), and the empty
    # renewal-hooks folders Certbot makes at every start: no lineage, no conf.
    first = content(dirs)
    assert {p.split(os.sep)[0] for p in first} == {"accounts", "renewal-hooks"}
    assert {p: v for p, v in first.items() if p.startswith("renewal-hooks")} == {
        "renewal-hooks": b"<dir>", "renewal-hooks/deploy": b"<dir>",
        "renewal-hooks/post": b"<dir>", "renewal-hooks/pre": b"<dir>"}
    # With an account and a lineage present, a dry run changes neither.
    ok(obtain(dirs, pebble, hook, "dry.example.com"))
    snapshot = content(dirs)
    assert any("renewal" in p for p in snapshot) and any("accounts" in p for p in snapshot)
    ok(obtain(dirs, pebble, hook, "dry.example.com", extra=("--dry-run", "--force-renewal")))
    assert content(dirs) == snapshot


def content(dirs: Dirs) -> dict[str, bytes]:
    """Every file and link of the config dir except lock files (Certbot locks there too)."""
    found: dict[str, bytes] = {}
    for path in dirs.config.rglob("*"):
        rel = str(path.relative_to(dirs.config))
        if rel.split(os.sep)[0] == ".locks":
            continue
        if path.is_symlink():
            found[rel] = os.readlink(path).encode()
        elif path.is_file():
            found[rel] = path.read_bytes()
        else:
            found[rel] = b"<dir>"
    return found


def _csr(folder: Path, names: list[str]) -> tuple[bytes, bytes]:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    key = crypto.make_key()
    pem = crypto.make_csr(key, names)
    der = x509.load_pem_x509_csr(pem).public_bytes(serialization.Encoding.DER)
    (folder / "csr.pem").write_bytes(pem)
    (folder / "csr.der").write_bytes(der)
    return key, pem


def test_csr_pem_and_der(dirs: Dirs, pebble: Pebble, hook: Path, tmp_path: Path) -> None:
    key, _ = _csr(tmp_path, ["csr.example.com", "www.csr.example.com"])
    for form in ("pem", "der"):
        out = tmp_path / f"out-{form}"
        out.mkdir()
        ok(ck(dirs, "certonly", *auth_args(hook), "--csr", str(tmp_path / f"csr.{form}"),
              "--cert-path", str(out / "c.pem"), "--fullchain-path", str(out / "f.pem"),
              "--chain-path", str(out / "ch.pem"), "--agree-tos", "-m", "a@example.org",
              pebble=pebble))
        cert = (out / "c.pem").read_bytes()
        assert crypto.key_matches_cert(key, cert)
        assert (out / "f.pem").read_bytes() == cert + (out / "ch.pem").read_bytes()
        assert sorted(crypto.cert_info(cert).names) == ["csr.example.com", "www.csr.example.com"]
    assert not (dirs.config / "renewal").exists()
    assert not (dirs.config / "live").exists()


def test_rsa_key_type_and_size(dirs: Dirs, pebble: Pebble, hook: Path) -> None:
    ok(obtain(dirs, pebble, hook, "rsa.example.com",
              extra=("--key-type", "rsa", "--rsa-key-size", "3072")))
    conf = check_lineage(dirs.config, "rsa.example.com")
    key = (dirs.config / "live" / "rsa.example.com" / "privkey.pem").read_bytes()
    spec = crypto.key_spec_of(key)
    assert (spec.key_type, spec.rsa_key_size) == ("rsa", 3072)
    assert conf.params.get_str("key_type") == "rsa"
    assert conf.params.get_str("rsa_key_size") == "3072"


def test_reuse_key_on_force_renewal(dirs: Dirs, pebble: Pebble, hook: Path) -> None:
    ok(obtain(dirs, pebble, hook, "reuse.example.com"))
    live = dirs.config / "live" / "reuse.example.com"
    key1, cert1 = (live / "privkey.pem").read_bytes(), (live / "cert.pem").read_bytes()
    ok(obtain(dirs, pebble, hook, "reuse.example.com",
              extra=("--force-renewal", "--reuse-key")))
    check_lineage(dirs.config, "reuse.example.com")
    assert (live / "privkey.pem").read_bytes() == key1
    assert (live / "cert.pem").read_bytes() != cert1
    assert os.readlink(live / "cert.pem").endswith("cert2.pem")
    ok(obtain(dirs, pebble, hook, "reuse.example.com", extra=("--force-renewal",)))
    check_lineage(dirs.config, "reuse.example.com")
    assert (live / "privkey.pem").read_bytes() != key1


def test_no_verify_ssl_obtains_without_a_warning_per_request(dirs: Dirs, pebble: Pebble,
                                                               hook: Path) -> None:
    """``--no-verify-ssl`` is the operator's explicit choice; its run must not print
    urllib3's warning for every HTTPS request (a cron job's mail would carry hundreds)."""
    result = ok(obtain(dirs, pebble, hook, "noverify.example", extra=("--no-verify-ssl",)))
    assert "Successfully received certificate." in result.stdout
    assert "Unverified HTTPS request" not in result.stderr
