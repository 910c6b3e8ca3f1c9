"""Lineage lifecycle on real files: create, renew, reuse key, list, find, delete."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from certkernel.errors import CertStorageError
from certkernel.lineages import lineage_find, renewal_conf, storage
from certkernel.lineages.storage import Lineage
from tests.infra.minica import MiniCA
from tests.storage.checks import assert_live_set_ok

PARAMS = {"authenticator": "standalone", "installer": None, "key_type": "ecdsa", "server": "https://ca/dir"}


def make(config_dir: Path, ca: MiniCA, names: list[str], name: str | None = None) -> Lineage:
    issued = ca.issue(names)
    return Lineage.create(
        str(config_dir), name or names[0], issued.cert, issued.chain, issued.fullchain, issued.key, PARAMS
    )


def mode(path: str | Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_create_writes_certbot_layout(tmp_path: Path, ca: MiniCA) -> None:
    lineage = make(tmp_path, ca, ["example.com", "www.example.com"])
    assert lineage.name == "example.com"
    assert assert_live_set_ok(str(tmp_path), "example.com") == 1
    archive = tmp_path / "archive" / "example.com"
    assert sorted(os.listdir(archive)) == ["cert1.pem", "chain1.pem", "fullchain1.pem", "privkey1.pem"]
    assert mode(archive / "privkey1.pem") == 0o600
    assert mode(archive / "cert1.pem") == 0o644
    for top in ("archive", "live", "renewal"):
        assert mode(tmp_path / top) == 0o700
    assert (tmp_path / "live" / "example.com" / "README").read_text().startswith("This directory")
    assert (tmp_path / "live" / "README").exists()
    conf = renewal_conf.read(str(tmp_path / "renewal" / "example.com.conf"))
    assert conf.archive_dir == str(archive)
    assert conf.cert == str(tmp_path / "live" / "example.com" / "cert.pem")
    assert conf.params.get_str("authenticator") == "standalone"
    assert conf.params.get_str("installer") is None
    assert lineage.names == ["example.com", "www.example.com"]
    assert lineage.key_type == "ecdsa"
    assert not list(tmp_path.rglob(".ck-tmp-*"))


def test_new_version_switches_links_and_keeps_old_files(tmp_path: Path, ca: MiniCA) -> None:
    lineage = make(tmp_path, ca, ["example.com"])
    old_key = lineage.read("privkey")
    issued = ca.issue(["example.com", "new.example.com"])
    assert lineage.save_new_version(issued.cert, issued.chain, issued.fullchain, issued.key) == 2
    assert assert_live_set_ok(str(tmp_path), "example.com") == 2
    again = Lineage.load(str(tmp_path), "example.com")
    assert again.version == 2
    assert again.names == ["example.com", "new.example.com"]
    assert again.read("privkey") == issued.key != old_key
    assert (tmp_path / "archive" / "example.com" / "cert1.pem").exists()


def test_reuse_key(tmp_path: Path, ca: MiniCA) -> None:
    lineage = make(tmp_path, ca, ["example.com"])
    key = lineage.read("privkey")
    issued = ca.issue(["example.com"], key=key)
    lineage.save_new_version(issued.cert, issued.chain, issued.fullchain, None)
    assert assert_live_set_ok(str(tmp_path), "example.com") == 2
    assert (tmp_path / "live" / "example.com" / "privkey.pem").read_bytes() == key


def _other_group() -> int:
    candidates = [g for g in os.getgroups() if g != os.getegid()]
    if os.geteuid() == 0:
        candidates.append(4)
    assert candidates, "the test needs a second group to chgrp the key to"
    return candidates[0]


def test_renewed_key_keeps_group_and_group_mode(tmp_path: Path, ca: MiniCA) -> None:
    lineage = make(tmp_path, ca, ["example.com"])
    old = tmp_path / "archive" / "example.com" / "privkey1.pem"
    group = _other_group()
    os.chown(old, -1, group)
    os.chmod(old, 0o640)
    issued = ca.issue(["example.com"])
    lineage.save_new_version(issued.cert, issued.chain, issued.fullchain, issued.key)
    new = tmp_path / "archive" / "example.com" / "privkey2.pem"
    assert os.stat(new).st_gid == group
    assert mode(new) == 0o640
    os.chmod(new, 0o666)  # Certbot's mask: the group's bits and the others' read bit only
    lineage.save_new_version(issued.cert, issued.chain, issued.fullchain, issued.key)
    assert mode(tmp_path / "archive" / "example.com" / "privkey3.pem") == 0o664


def test_renewalparams_saved_with_types(tmp_path: Path, ca: MiniCA) -> None:
    lineage = make(tmp_path, ca, ["example.com"])
    issued = ca.issue(["example.com"])
    params = {
        "authenticator": "webroot", "webroot_path": ["/srv/www"], "webroot_map": {"example.com": "/srv/www"},
        "rsa_key_size": 4096, "must_staple": True, "pre_hook": "echo 'a, b' # c",
    }
    lineage.save_new_version(issued.cert, issued.chain, issued.fullchain, None, params, renew_before_expiry="20 days")
    text = (tmp_path / "renewal" / "example.com.conf").read_text()
    assert "webroot_path = /srv/www," in text
    assert "rsa_key_size = 4096" in text and "must_staple = True" in text
    loaded = Lineage.load(str(tmp_path), "example.com")
    p = loaded.renewalparams
    assert p.as_dict()["webroot_path"] == ["/srv/www"]
    assert p.as_dict()["webroot_map"] == {"example.com": "/srv/www"}
    assert p.as_dict()["rsa_key_size"] == "4096" and p.get_bool("must_staple") is True
    assert p.get_str("pre_hook") == "echo 'a, b' # c"
    assert "server" not in p  # params are replaced, not merged
    assert loaded.conf.renew_before_expiry_interval() is not None
    assert loaded.conf.renew_before_expiry_interval().days == 20


def test_name_collisions(tmp_path: Path, ca: MiniCA) -> None:
    first = make(tmp_path, ca, ["example.com"])
    second = make(tmp_path, ca, ["example.com"])
    third = make(tmp_path, ca, ["example.com", "www.example.com"])
    assert [first.name, second.name, third.name] == ["example.com", "example.com-0001", "example.com-0002"]
    for name in ("example.com", "example.com-0001", "example.com-0002"):
        assert_live_set_ok(str(tmp_path), name, 1)
    assert storage.unique_name(str(tmp_path), "example.com") == "example.com-0003"
    assert sorted(lin.name for lin in lineage_find.scan(str(tmp_path)).lineages) == [
        "example.com", "example.com-0001", "example.com-0002"
    ]


def test_find_by_names(tmp_path: Path, ca: MiniCA) -> None:
    make(tmp_path, ca, ["a.example.com", "b.example.com"], "ab")
    make(tmp_path, ca, ["a.example.com"], "a")
    make(tmp_path, ca, ["a.example.com", "b.example.com", "c.example.com"], "abc")
    make(tmp_path, ca, ["other.example.com"], "other")
    found = lineage_find.find_by_names(str(tmp_path), ["b.example.com", "a.example.com"])
    assert [x.name for x in found.exact] == ["ab"]
    assert [x.name for x in found.subset] == ["a"]
    assert [x.name for x in found.superset] == ["abc"]
    none = lineage_find.find_by_names(str(tmp_path), ["z.example.com"])
    assert not none.any


def test_delete(tmp_path: Path, ca: MiniCA) -> None:
    keep = make(tmp_path, ca, ["keep.example.com"])
    gone = make(tmp_path, ca, ["gone.example.com"])
    gone.delete()
    assert not (tmp_path / "renewal" / "gone.example.com.conf").exists()
    assert not (tmp_path / "live" / "gone.example.com").exists()
    assert not (tmp_path / "archive" / "gone.example.com").exists()
    assert [x.name for x in lineage_find.scan(str(tmp_path)).lineages] == [keep.name]
    assert_live_set_ok(str(tmp_path), keep.name)


def test_update_symlinks_after_archive_move(tmp_path: Path, ca: MiniCA) -> None:
    """The Certbot docs' recipe: move archive/, edit the conf, update_symlinks."""
    make(tmp_path, ca, ["example.com"])
    conf_path = tmp_path / "renewal" / "example.com.conf"
    old_archive = tmp_path / "archive" / "example.com"
    new_archive = tmp_path / "elsewhere" / "example_archive"
    new_archive.parent.mkdir()
    os.rename(old_archive, new_archive)
    conf_path.write_text(conf_path.read_text().replace(str(old_archive), str(new_archive)))
    with pytest.raises(CertStorageError, match="do not point at one complete version"):
        Lineage.load(str(tmp_path), "example.com", repair=False)
    lineage = Lineage.load(str(tmp_path), "example.com")
    assert lineage.update_symlinks() == 1
    target = os.readlink(tmp_path / "live" / "example.com" / "cert.pem")
    assert target == "../../elsewhere/example_archive/cert1.pem"
    assert (tmp_path / "live" / "example.com" / "fullchain.pem").read_bytes().startswith(b"-----BEGIN")


def test_lineage_info_for_installers(tmp_path: Path, ca: MiniCA) -> None:
    lineage = make(tmp_path, ca, ["example.com", "www.example.com"])
    info = lineage.to_lineage_info().to_wire()
    live = tmp_path / "live" / "example.com"
    assert info == {
        "name": "example.com", "cert_path": str(live / "cert.pem"), "key_path": str(live / "privkey.pem"),
        "chain_path": str(live / "chain.pem"), "fullchain_path": str(live / "fullchain.pem"),
        "domains": ["example.com", "www.example.com"],
    }
