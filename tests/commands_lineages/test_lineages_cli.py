"""certificates, delete, revoke, update_symlinks through the CLI, on lineages from Pebble."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

from certkernel import crypto
from tests.infra.cli_run import Dirs, check_lineage, ck, failed, obtain, ok
from tests.infra.pebble import Pebble


def serial_of(dirs: Dirs, name: str) -> int:
    return crypto.cert_info((dirs.config / "live" / name / "cert.pem").read_bytes()).serial


def listing(dirs: Dirs, *args: str) -> dict:
    return json.loads(ok(ck(dirs, "certificates", "--json", *args)).stdout)


def gone(dirs: Dirs, name: str) -> bool:
    return not any((dirs.config / sub / name).exists() for sub in ("live", "archive")) and \
        not (dirs.config / "renewal" / f"{name}.conf").exists()


def test_certificates_format_and_filters(dirs: Dirs, pebble: Pebble, hook: Path) -> None:
    ok(obtain(dirs, pebble, hook, "one.example.com", "www.one.example.com"))
    ok(obtain(dirs, pebble, hook, "two.example.com", extra=("--key-type", "rsa")))
    out = ok(ck(dirs, "certificates")).stdout
    assert "Found the following certs:" in out
    serial = format(serial_of(dirs, "one.example.com"), "x")
    block = re.search(r"  Certificate Name: one\.example\.com\n(    .*\n){6}", out)
    assert block is not None, out
    lines = block.group(0).splitlines()
    assert lines[1] == f"    Serial Number: {serial}"
    assert lines[2] == "    Key Type: ECDSA"
    assert lines[3] == "    Identifiers: one.example.com www.one.example.com"
    assert re.fullmatch(r"    Expiry Date: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\+00:00 \(VALID: \d+ days\)",
                        lines[4]), lines[4]
    assert lines[5] == f"    Certificate Path: {dirs.config}/live/one.example.com/fullchain.pem"
    assert lines[6] == f"    Private Key Path: {dirs.config}/live/one.example.com/privkey.pem"
    assert "Key Type: RSA" in out
    only = ok(ck(dirs, "certificates", "--cert-name", "two.example.com")).stdout
    assert "Found the following matching certs:" in only
    assert "two.example.com" in only and "one.example.com" not in only
    by_domain = listing(dirs, "-d", "www.one.example.com")
    assert [c["name"] for c in by_domain["certificates"]] == ["one.example.com"]
    assert listing(dirs, "-d", "nothing.example.com")["certificates"] == []
    full = listing(dirs)
    assert {c["name"] for c in full["certificates"]} == {"one.example.com", "two.example.com"}
    one = next(c for c in full["certificates"] if c["name"] == "one.example.com")
    assert one["serial"] == serial and one["valid"] and one["key_type"] == "ECDSA"
    assert one["domains"] == ["one.example.com", "www.one.example.com"]
    assert full["invalid"] == []


def test_certificates_empty_and_broken(dirs: Dirs, pebble: Pebble, hook: Path) -> None:
    assert "No certificates found." in ok(ck(dirs, "certificates")).stdout
    ok(obtain(dirs, pebble, hook, "fine.example.com"))
    renewal = dirs.config / "renewal"
    (renewal / "garbage.conf").write_text("this is [not a conf\n")
    ok(obtain(dirs, pebble, hook, "split.example.com"))
    shutil.rmtree(dirs.config / "archive" / "split.example.com")
    out = ok(ck(dirs, "certificates")).stdout
    assert "Certificate Name: fine.example.com" in out
    assert "The following renewal configurations were invalid:" in out
    assert f"{renewal}/garbage.conf (skipped: " in out
    assert f"{renewal}/split.example.com.conf (skipped: " in out
    data = listing(dirs)
    assert sorted(Path(i["renewal_conf"]).name for i in data["invalid"]) == [
        "garbage.conf", "split.example.com.conf"]


def test_certificates_does_not_import_acme(dirs: Dirs, pebble: Pebble, hook: Path) -> None:
    ok(obtain(dirs, pebble, hook, "light.example.com"))
    result = ok(ck(dirs, "certificates", python_flags=("-X", "importtime")))
    imported = {line.split("|")[-1].strip() for line in result.stderr.splitlines()
                if line.startswith("import time:")}
    assert "light.example.com" in result.stdout
    for heavy in ("acme", "josepy", "requests"):
        assert heavy not in imported, f"{heavy} imported by certificates"


def test_delete_by_name_and_noninteractive_rule(dirs: Dirs, pebble: Pebble, hook: Path) -> None:
    ok(obtain(dirs, pebble, hook, "del.example.com"))
    ok(obtain(dirs, pebble, hook, "stay.example.com"))
    err = failed(ck(dirs, "delete"))
    assert "--cert-name" in err
    assert not gone(dirs, "del.example.com")
    err = failed(ck(dirs, "delete", "--cert-name", "nope.example.com"))
    assert "No certificate found with name nope.example.com" in err
    out = ok(ck(dirs, "delete", "--cert-name", "del.example.com")).stdout
    assert "Deleted all files relating to certificate del.example.com." in out
    assert gone(dirs, "del.example.com")
    check_lineage(dirs.config, "stay.example.com")
    assert [c["name"] for c in listing(dirs)["certificates"]] == ["stay.example.com"]


def test_delete_interactive_checklist_and_confirmation(dirs: Dirs, pebble: Pebble,
                                                       hook: Path) -> None:
    for name in ("a.example.com", "b.example.com", "c.example.com"):
        ok(obtain(dirs, pebble, hook, name))
    # Pick 1 and 3, then refuse the confirmation: nothing goes.
    out = ok(ck(dirs, "delete", interactive=True, stdin="1 3\nn\n")).stdout
    assert "Which certificate(s) would you like to delete?" in out
    assert "  * a.example.com" in out and "  * c.example.com" in out
    assert "Deletion of certificate(s) canceled." in out
    assert not gone(dirs, "a.example.com")
    ok(ck(dirs, "delete", interactive=True, stdin="1 3\ny\n"))
    assert gone(dirs, "a.example.com") and gone(dirs, "c.example.com")
    check_lineage(dirs.config, "b.example.com")


def test_revoke_by_name_keeps_lineage_and_shows_revoked(dirs: Dirs, pebble: Pebble,
                                                        hook: Path) -> None:
    ok(obtain(dirs, pebble, hook, "rev.example.com"))
    serial = serial_of(dirs, "rev.example.com")
    result = ok(ck(dirs, "revoke", "--cert-name", "rev.example.com", "--reason",
                   "keycompromise", "--no-delete-after-revoke", pebble=pebble))
    assert "successfully revoked" in result.stdout
    assert pebble.cert_status(serial)["Status"] == "Revoked"
    assert not gone(dirs, "rev.example.com")
    out = ok(ck(dirs, "certificates")).stdout
    assert "(INVALID: REVOKED)" in out
    [entry] = listing(dirs)["certificates"]
    assert entry["status"] == "INVALID: REVOKED" and not entry["valid"]


def test_revoke_noninteractive_deletes_by_default(dirs: Dirs, pebble: Pebble, hook: Path) -> None:
    ok(obtain(dirs, pebble, hook, "revdel.example.com"))
    serial = serial_of(dirs, "revdel.example.com")
    cert_path = dirs.config / "live" / "revdel.example.com" / "cert.pem"
    ok(ck(dirs, "revoke", "--cert-path", str(cert_path), pebble=pebble))
    assert pebble.cert_status(serial)["Status"] == "Revoked"
    assert gone(dirs, "revdel.example.com")


def test_revoke_with_certificate_key(dirs: Dirs, pebble: Pebble, hook: Path,
                                     tmp_path: Path) -> None:
    ok(obtain(dirs, pebble, hook, "ownkey.example.com"))
    live = dirs.config / "live" / "ownkey.example.com"
    serial = serial_of(dirs, "ownkey.example.com")
    # A second install with no account at all: only the certificate's key can revoke.
    other = Dirs.under(tmp_path / "other")
    cert = other.work / "cert.pem"
    key = other.work / "key.pem"
    cert.write_bytes((live / "cert.pem").read_bytes())
    key.write_bytes((live / "privkey.pem").read_bytes())
    wrong = other.work / "wrong.pem"
    wrong.write_bytes(crypto.make_key())
    err = failed(ck(other, "revoke", "--cert-path", str(cert), "--key-path", str(wrong),
                    pebble=pebble))
    assert "does not match" in err
    assert pebble.cert_status(serial)["Status"] == "Valid"
    ok(ck(other, "revoke", "--cert-path", str(cert), "--key-path", str(key), "--reason",
          "superseded", pebble=pebble))
    assert pebble.cert_status(serial)["Status"] == "Revoked"
    assert not gone(dirs, "ownkey.example.com")


def test_revoke_argument_errors(dirs: Dirs, pebble: Pebble, hook: Path) -> None:
    err = failed(ck(dirs, "revoke", pebble=pebble))
    assert "Exactly one of --cert-path or --cert-name must be specified" in err
    err = failed(ck(dirs, "revoke", "--cert-name", "missing.example.com", pebble=pebble))
    assert "No certificate found with name missing.example.com" in err


def test_revoke_interactive_question(dirs: Dirs, pebble: Pebble, hook: Path) -> None:
    ok(obtain(dirs, pebble, hook, "ask.example.com"))
    out = ok(ck(dirs, "revoke", "--cert-name", "ask.example.com", pebble=pebble,
                interactive=True, stdin="n\n")).stdout
    assert "Would you like to delete the certificate(s) you just revoked" in out
    assert not gone(dirs, "ask.example.com")
    assert "INVALID: REVOKED" in ok(ck(dirs, "certificates")).stdout


def test_update_symlinks_after_moving_archive(dirs: Dirs, pebble: Pebble, hook: Path) -> None:
    ok(obtain(dirs, pebble, hook, "move.example.com"))
    ok(obtain(dirs, pebble, hook, "still.example.com"))
    conf_path = dirs.config / "renewal" / "move.example.com.conf"
    old_archive = dirs.config / "archive" / "move.example.com"
    new_archive = dirs.config / "archive-moved" / "move.example.com"
    new_archive.parent.mkdir()
    os.rename(old_archive, new_archive)
    conf_path.write_text(conf_path.read_text().replace(str(old_archive), str(new_archive)))
    out = ok(ck(dirs, "update_symlinks", "--cert-name", "move.example.com")).stdout
    assert "move.example.com" in out and "still.example.com" not in out
    link = dirs.config / "live" / "move.example.com" / "cert.pem"
    assert not os.path.isabs(os.readlink(link))
    assert link.resolve().parent == new_archive.resolve()
    live = dirs.config / "live" / "move.example.com"
    assert crypto.key_matches_cert((live / "privkey.pem").read_bytes(),
                                   (live / "cert.pem").read_bytes())
    out = ok(ck(dirs, "update_symlinks")).stdout
    assert "still.example.com" in out
    err = failed(ck(dirs, "update_symlinks", "--cert-name", "nope"))
    assert "No certificate found with name nope" in err
