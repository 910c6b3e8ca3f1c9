"""Renewal confs: typed values, round trips, and corrupt files that skip cleanly."""

from __future__ import annotations

import datetime
import os
import stat
from pathlib import Path

import pytest

from certkernel.errors import CertStorageError, StorageError, ValidationError
from certkernel.lineages import lineage_find, renewal_conf
from certkernel.lineages.storage import Lineage
from tests.infra.minica import MiniCA

LINKS = {k: f"/etc/letsencrypt/live/x/{k}.pem" for k in ("cert", "privkey", "chain", "fullchain")}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30 days", datetime.timedelta(days=30)),
        ("1 day", datetime.timedelta(days=1)),
        ("2 weeks", datetime.timedelta(days=14)),
        ("2 weeks 3 days", datetime.timedelta(days=17)),
        ("12 hours", datetime.timedelta(hours=12)),
        ("10", datetime.timedelta(days=10)),
        ("1 year", datetime.timedelta(days=365)),
        ("90d", datetime.timedelta(days=90)),
    ],
)
def test_parse_interval(text: str, expected: datetime.timedelta) -> None:
    assert renewal_conf.parse_interval(text) == expected


@pytest.mark.parametrize("text", ["", "soon", "30 fortnights", "days 30", "30 days please"])
def test_parse_interval_rejects(text: str) -> None:
    with pytest.raises(ValidationError):
        renewal_conf.parse_interval(text)


def test_round_trip_types_and_tricky_values(tmp_path: Path) -> None:
    path = str(tmp_path / "x.conf")
    params = {
        "authenticator": "webroot",
        "installer": None,
        "webroot_path": ["/srv/a", "/srv/b,c"],
        "webroot_map": {"a.example": "/srv/a", "*.b.example": "/srv/b"},
        "rsa_key_size": 3072,
        "reuse_key": False,
        "deploy_hook": "sh -c 'echo \"$RENEWED_DOMAINS\" # done' && date +%(s)s",
        "pref_challs": ["http-01"],
    }
    conf = renewal_conf.write(path, "/etc/letsencrypt/archive/x", LINKS, params, version="0.1.0")
    p = conf.params
    assert p.get_str("installer") is None
    assert p.as_dict()["webroot_path"] == ["/srv/a", "/srv/b,c"]
    assert p.as_dict()["webroot_map"] == params["webroot_map"]
    assert p.as_dict()["rsa_key_size"] == "3072"
    assert p.get_bool("reuse_key") is False
    assert p.get_str("deploy_hook") == params["deploy_hook"]
    assert p.as_dict()["pref_challs"] == ["http-01"]
    assert "pref_challs = http-01," in Path(path).read_text()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644


def test_rewrite_keeps_comments_unknown_keys_and_mode(tmp_path: Path) -> None:
    path = tmp_path / "x.conf"
    path.write_text(
        "# my note about this cert\nrenew_before_expiry = 10 days\nversion = 1.0.0\n"
        "archive_dir = /a\ncert = /c\nprivkey = /p\nchain = /ch\nfullchain = /f\n"
        "custom_top = kept\n\n[renewalparams]\nauthenticator = standalone\nold = gone\n"
    )
    os.chmod(path, 0o600)
    renewal_conf.write(str(path), "/a2", LINKS, {"authenticator": "webroot"}, version="0.1.0")
    text = path.read_text()
    conf = renewal_conf.read(str(path))
    assert text.startswith("# my note about this cert\n")
    assert conf.renew_before_expiry == "10 days"
    assert conf.extra == {"custom_top": "kept"}
    assert conf.archive_dir == "/a2" and conf.cert == LINKS["cert"]
    assert conf.params.as_dict() == {"authenticator": "webroot"}
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["x.conf"]


def test_typed_getter_errors_name_the_file_and_key(tmp_path: Path) -> None:
    path = tmp_path / "x.conf"
    path.write_text(
        "archive_dir = /a\ncert = /c\nprivkey = /p\nchain = /ch\nfullchain = /f\n"
        "[renewalparams]\nreuse_key = maybe\n"
    )
    p = renewal_conf.read(str(path)).params
    with pytest.raises(StorageError, match=r"x\.conf: \[renewalparams\] reuse_key = 'maybe' is not True or False"):
        p.get_bool("reuse_key")


def test_no_autorenew(tmp_path: Path) -> None:
    path = tmp_path / "x.conf"
    path.write_text("archive_dir = /a\ncert = /c\nprivkey = /p\nchain = /ch\nfullchain = /f\n"
                    "[renewalparams]\nautorenew = False\n")
    assert renewal_conf.read(str(path)).autorenew is False


CORRUPT = {
    "empty.conf": b"",
    "truncated.conf": b"# renew_before_expiry = 30 days\nversion = 1.7.0\narchive_dir = /etc/letsencrypt/arch",
    "badsection.conf": b"archive_dir = /a\ncert = /c\nprivkey = /p\nchain = /ch\nfullchain = /f\n[renewalparams\n",
    "duplicate.conf": b"archive_dir = /a\narchive_dir = /b\ncert = /c\nprivkey = /p\nchain = /ch\nfullchain = /f\n",
    "binary.conf": b"\xff\xfe\x00garbage\x00",
}


def test_corrupt_confs_are_skipped_with_a_message_naming_them(tmp_path: Path, ca: MiniCA) -> None:
    issued = ca.issue(["good.example.com"])
    Lineage.create(str(tmp_path), "good.example.com", issued.cert, issued.chain, issued.fullchain, issued.key, {})
    for name, data in CORRUPT.items():
        (tmp_path / "renewal" / name).write_bytes(data)
    result = lineage_find.scan(str(tmp_path))
    assert [lin.name for lin in result.lineages] == ["good.example.com"]
    failed = {os.path.basename(path): exc for path, exc in result.errors}
    assert sorted(failed) == sorted(CORRUPT)
    for name, exc in failed.items():
        assert isinstance(exc, CertStorageError)
        assert name in str(exc) and "\n" not in str(exc)


def test_missing_archive_file_names_the_file(tmp_path: Path, ca: MiniCA) -> None:
    issued = ca.issue(["x.example.com"])
    lin = Lineage.create(str(tmp_path), "x.example.com", issued.cert, issued.chain, issued.fullchain, issued.key, {})
    os.unlink(lin.archive_path("cert"))
    result = lineage_find.scan(str(tmp_path))
    assert result.lineages == []
    (path, exc), = result.errors
    assert path.endswith("renewal/x.example.com.conf")
    assert "archive/x.example.com" in str(exc)


def test_unstorable_value_is_refused_and_the_old_conf_kept(tmp_path: Path) -> None:
    """configobj writes a leading NBSP + quote unquoted and cannot read it back."""
    path = tmp_path / "x.conf"
    renewal_conf.write(str(path), "/a", LINKS, {"authenticator": "standalone"}, version="0.1.0")
    before = path.read_bytes()
    with pytest.raises(ValidationError, match=r"cannot store a value in renewal conf .*x\.conf: pre_hook"):
        renewal_conf.write(str(path), "/a", LINKS, {"pre_hook": '\xa0"0'}, version="0.1.0")
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["x.conf"]
