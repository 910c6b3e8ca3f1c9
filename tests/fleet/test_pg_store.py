"""PgStore across hosts: one truth in PostgreSQL, each host's Certbot layout a copy of it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from certkernel import crypto
from certkernel.errors import LineageNotFound, StorageError, StoreUnavailable
from certkernel.fleet.connect import Database, StoreSettings
from certkernel.fleet.pg_store import PgStore
from tests.infra.fleet import fleet_files, open_pg_store
from tests.infra.minica import MiniCA
from tests.infra.pebble import free_port
from tests.infra.postgres import HOST_ROLES, OWNER, ClusterInfo

PARAMS = {"authenticator": "standalone", "installer": "None", "key_type": "ecdsa",
          "server": "https://ca.example/dir"}


def _hosts(base: Path) -> tuple[PgStore, PgStore]:
    """Two hosts of one fleet: their own config dirs and their own database roles."""
    return (open_pg_store(base, 10.0, role=HOST_ROLES[0], config_dir=base / "host-a"),
            open_pg_store(base, 10.0, role=HOST_ROLES[1], config_dir=base / "host-b"))


def _live(config_dir: Path, name: str) -> dict[str, bytes]:
    live = config_dir / "live" / name
    return {kind: (live / f"{kind}.pem").read_bytes()
            for kind in ("cert", "chain", "fullchain", "privkey")}


def test_a_version_made_on_one_host_reaches_the_other(pg_cluster: ClusterInfo, ca: MiniCA,
                                                      tmp_path: Path) -> None:
    host_a, host_b = _hosts(tmp_path)
    first = ca.issue(["shared.example"])
    host_a.create("shared.example", first.cert, first.chain, first.fullchain, first.key, PARAMS)
    assert host_b.names() == ["shared.example"]
    assert host_b.load("shared.example").version == 1
    second = ca.issue(["shared.example"])
    assert host_a.save_version(host_a.load("shared.example"), second.cert, second.chain,
                               second.fullchain, second.key) == 2
    assert host_b.load("shared.example").version == 2
    assert _live(tmp_path / "host-b", "shared.example") == _live(tmp_path / "host-a",
                                                                 "shared.example")
    assert _live(tmp_path / "host-b", "shared.example")["cert"] == second.cert
    link = os.readlink(tmp_path / "host-b" / "live" / "shared.example" / "privkey.pem")
    assert link == "../../archive/shared.example/privkey2.pem"
    assert (tmp_path / "host-b" / "archive" / "shared.example" / "privkey2.pem").stat(
    ).st_mode & 0o077 == 0
    conf = (tmp_path / "host-b" / "renewal" / "shared.example.conf").read_text()
    assert "authenticator = standalone" in conf
    assert f"archive_dir = {tmp_path / 'host-b' / 'archive' / 'shared.example'}" in conf


def test_sync_reports_a_change_only_once(pg_cluster: ClusterInfo, ca: MiniCA,
                                         tmp_path: Path) -> None:
    host_a, host_b = _hosts(tmp_path)
    issued = ca.issue(["quiet.example"])
    host_a.create("quiet.example", issued.cert, issued.chain, issued.fullchain, issued.key,
                  PARAMS)
    assert host_b.sync("quiet.example") is True  # first copy: live/ changed
    assert host_b.sync("quiet.example") is False  # nothing new: no deploy hook should run


def test_a_failed_write_leaves_no_half_version(pg_cluster: ClusterInfo, ca: MiniCA,
                                               tmp_path: Path) -> None:
    """The last statement of save_version fails (a trigger the owner adds): the version
    row inserted before it must not be visible to any host."""
    host_a, host_b = _hosts(tmp_path)
    issued = ca.issue(["half.example"])
    host_a.create("half.example", issued.cert, issued.chain, issued.fullchain, issued.key,
                  PARAMS)
    database = fleet_files(tmp_path).database
    with pg_cluster.connect(OWNER, database) as owner:
        owner.execute("""CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS
            $$ BEGIN RAISE EXCEPTION 'disk full (injected)'; END $$""")
        owner.execute("CREATE TRIGGER refuse BEFORE UPDATE ON lineages "
                      "FOR EACH ROW EXECUTE FUNCTION refuse()")
        owner.commit()
    renewed = ca.issue(["half.example"])
    with pytest.raises(StorageError, match="^the fleet store refused the request: disk full"):
        host_a.save_version(host_a.load("half.example"), renewed.cert, renewed.chain,
                            renewed.fullchain, renewed.key)
    with pg_cluster.connect(OWNER, database) as owner:
        assert owner.execute("SELECT version FROM versions").fetchall() == [(1,)]
    assert host_b.load("half.example").version == 1
    assert host_b.load("half.example").read("cert") == issued.cert


def test_a_lineage_deleted_on_one_host_is_gone_for_the_other(pg_cluster: ClusterInfo,
                                                             ca: MiniCA, tmp_path: Path) -> None:
    host_a, host_b = _hosts(tmp_path)
    issued = ca.issue(["gone.example"])
    host_a.create("gone.example", issued.cert, issued.chain, issued.fullchain, issued.key,
                  PARAMS)
    host_b.load("gone.example")
    assert host_a.delete("gone.example") is True
    assert host_b.names() == []
    with pytest.raises(LineageNotFound, match="no certificate lineage named gone.example"):
        host_b.load("gone.example")


def test_a_delete_leaves_a_tombstone_that_an_import_of_the_name_clears(
        pg_cluster: ClusterInfo, ca: MiniCA, tmp_path: Path) -> None:
    """The tombstone names every version's serial, the deleting host and role; the same
    name imported again (here: host b's copy) is a live lineage, no longer deleted."""
    host_a, host_b = _hosts(tmp_path)
    first, second = ca.issue(["tomb.example"]), ca.issue(["tomb.example"])
    host_a.create("tomb.example", first.cert, first.chain, first.fullchain, first.key, PARAMS)
    lineage = host_a.load("tomb.example")
    host_a.save_version(lineage, second.cert, second.chain, second.fullchain, second.key)
    kept_on_b = host_b.load("tomb.example")
    assert host_a.delete("tomb.example") is True
    serials = {f"{crypto.cert_info(c.cert).serial:x}" for c in (first, second)}
    [stone] = host_b.tombstones()
    assert (stone.name, stone.serials, stone.deleted_by) == ("tomb.example", serials,
                                                            host_a.host_id)
    database = fleet_files(tmp_path).database
    with pg_cluster.connect(OWNER, database) as owner:
        assert owner.execute("SELECT db_role FROM tombstones").fetchall() == [(HOST_ROLES[0],)]
    assert host_b.import_lineage(kept_on_b) is True
    assert host_b.tombstones() == []
    assert host_a.names() == ["tomb.example"]


def test_an_unreachable_store_is_one_line_without_the_password(pg_cluster: ClusterInfo,
                                                               tmp_path: Path) -> None:
    files = fleet_files(tmp_path)
    port = free_port()  # nothing listens there
    settings = StoreSettings(f"postgresql://{HOST_ROLES[0]}@127.0.0.1:{port}/fleet",
                             str(files.key_file), str(files.password_file))
    with pytest.raises(StoreUnavailable) as caught:  # on opening: a run fails before planning
        PgStore(Database.open(settings), str(tmp_path / "etc"), 5.0, host_id="t").names()
    message = str(caught.value)
    assert message.startswith(
        f"fleet store postgresql://{HOST_ROLES[0]}@127.0.0.1:{port}/fleet is unreachable: ")
    assert "\n" not in message
    assert pg_cluster.passwords[HOST_ROLES[0]] not in message


def test_a_certificate_that_is_not_the_keys_is_never_served(pg_cluster: ClusterInfo,
                                                            ca: MiniCA, tmp_path: Path) -> None:
    """Someone who may write rows (not read keys) puts another lineage's certificate in:
    the hosts refuse the version and keep serving what they had."""
    host_a, host_b = _hosts(tmp_path)
    for name in ("mine.example", "other.example"):
        issued = ca.issue([name])
        host_a.create(name, issued.cert, issued.chain, issued.fullchain, issued.key, PARAMS)
    before = host_b.load("mine.example").read("cert")
    database = fleet_files(tmp_path).database
    with pg_cluster.connect(OWNER, database) as owner:
        owner.execute("""UPDATE versions SET cert = o.cert, fullchain = o.fullchain
                         FROM versions o WHERE o.lineage = 'other.example'
                         AND versions.lineage = 'mine.example'""")
        owner.commit()
    fresh = open_pg_store(tmp_path, 10.0, role=HOST_ROLES[2], config_dir=tmp_path / "host-c")
    with pytest.raises(StorageError, match="does not match its private key"):
        fresh.load("mine.example")
    assert not (tmp_path / "host-c" / "live" / "mine.example").exists()
    with pytest.raises(StorageError, match="does not match its private key"):
        host_b.sync("mine.example")
    assert _live(tmp_path / "host-b", "mine.example")["cert"] == before


def test_a_version_another_host_made_during_this_run_is_renewed_elsewhere(
        pg_cluster: ClusterInfo, ca: MiniCA, tmp_path: Path) -> None:
    """Hosts renewing together: a version made after this host's run began, by another
    host, is that window's renewal (the database's clock decides, not the host's)."""
    host_a = open_pg_store(tmp_path, 10.0, role=HOST_ROLES[0], config_dir=tmp_path / "host-a")
    old = ca.issue(["window.example"])
    host_a.create("window.example", old.cert, old.chain, old.fullchain, old.key, PARAMS)
    host_b = open_pg_store(tmp_path, 10.0, role=HOST_ROLES[1], config_dir=tmp_path / "host-b")
    assert host_b.renewed_elsewhere(host_b.load("window.example")) is False  # before b's run
    new = ca.issue(["window.example"])
    host_a.save_version(host_a.load("window.example"), new.cert, new.chain, new.fullchain,
                        new.key)
    assert host_b.renewed_elsewhere(host_b.load("window.example")) is True
    assert host_a.renewed_elsewhere(host_a.load("window.example")) is False  # its own
