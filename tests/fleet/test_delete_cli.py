"""``delete`` in fleet mode converges: the other hosts remove their copy at their next
``renew``, through the command line with the real PostgreSQL and Pebble.

What makes removal safe is the tombstone ``delete`` leaves in the store: a host
removes only a copy whose certificate the deleted lineage had, so a local
certificate of the same name, or a store that is empty or not the fleet's, removes
nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from certkernel import crypto
from tests.infra.cli_run import ok
from tests.infra.fleet import fleet_files
from tests.infra.fleet_cli import Fleet
from tests.infra.pebble import Pebble
from tests.infra.postgres import HOST_ROLES, OWNER, ClusterInfo

NAME = "deleted-fleet.example"


@pytest.fixture
def fleet(pg_cluster: ClusterInfo, pebble: Pebble, hook: Path, tmp_path: Path) -> Fleet:
    return Fleet(tmp_path, pg_cluster, pebble, hook, NAME)


def _copy_of(fleet: Fleet, label: str) -> list[Path]:
    """What host ``label`` keeps of NAME: renewal conf, live dir, archive dir (those present)."""
    config = fleet.hosts[label].config
    paths = [config / "renewal" / f"{NAME}.conf", config / "live" / NAME,
             config / "archive" / NAME]
    return [p for p in paths if p.exists()]


def _whole(fleet: Fleet, label: str) -> list[Path]:
    config = fleet.hosts[label].config
    return [config / "renewal" / f"{NAME}.conf", config / "live" / NAME,
            config / "archive" / NAME]


def _serial(cert: bytes) -> str:
    return f"{crypto.cert_info(cert).serial:x}"


def _tombstones(fleet: Fleet) -> list[tuple[str, list[str], str]]:
    with fleet.cluster.connect(OWNER, fleet.files["a"].database) as conn:
        return [(r[0], list(r[1]), r[2]) for r in conn.execute(
            "SELECT name, serials, db_role FROM tombstones ORDER BY name").fetchall()]


def _delete(fleet: Fleet, label: str) -> None:
    result = ok(fleet.run(label, "delete", "--cert-name", NAME))
    assert f"Deleted all files relating to certificate {NAME}." in result.stdout


def test_a_lineage_deleted_on_one_host_is_removed_from_the_others(
        fleet: Fleet, tmp_path: Path) -> None:
    ok(fleet.renew("b"))
    assert _copy_of(fleet, "b") == _whole(fleet, "b")
    serial = _serial(fleet.live_cert("b"))
    _delete(fleet, "a")
    assert _copy_of(fleet, "a") == []
    assert _tombstones(fleet) == [(NAME, [serial], HOST_ROLES[0])]
    marker = tmp_path / "deployed"
    result = fleet.renew("b", "--deploy-hook", f"echo \"$RENEWED_LINEAGE\" >> {marker}")
    assert result.returncode == 0, result.stdout + result.stderr
    assert _copy_of(fleet, "b") == []
    host_a = f":{fleet.hosts['a'].config}"
    said = [line for line in result.stdout.splitlines() if line.startswith(f"{NAME}: ")]
    assert len(said) == 1, result.stdout
    assert said[0].startswith(f"{NAME}: deleted from the fleet by ")
    assert host_a in said[0]
    assert said[0].endswith("; removed here too")
    assert not marker.exists()  # a removed lineage deploys nothing
    again = fleet.renew("b")
    assert again.returncode == 0, again.stderr
    assert NAME not in again.stdout  # said once: there is nothing left to remove


def test_a_local_certificate_of_the_deleted_name_is_kept(fleet: Fleet) -> None:
    _delete(fleet, "a")
    fleet.obtain("b", "--no-store")  # b's own certificate, never in the store
    mine = fleet.live_cert("b")
    result = fleet.renew("b")
    assert result.returncode == 0, result.stdout + result.stderr
    assert _copy_of(fleet, "b") == _whole(fleet, "b")
    assert fleet.live_cert("b") == mine
    warned = [line for line in result.stderr.splitlines() if NAME in line]
    assert len(warned) == 1, result.stderr
    assert "not the one deleted from the fleet" in warned[0]
    assert "removed here" not in result.stdout


def test_a_name_created_again_after_a_delete_is_synced_not_removed(fleet: Fleet) -> None:
    ok(fleet.renew("b"))
    _delete(fleet, "a")
    fleet.obtain("a")  # the same name again, a new lineage in the store
    assert _tombstones(fleet) == []
    result = fleet.renew("b")
    assert result.returncode == 0, result.stdout + result.stderr
    assert _copy_of(fleet, "b") == _whole(fleet, "b")
    assert fleet.live_cert("b") == fleet.live_cert("a")
    assert "removed here" not in result.stdout
    assert f"{NAME}: renewed by another host of the fleet; version 1 is now in" in result.stdout


def test_a_store_without_tombstones_removes_nothing(fleet: Fleet, tmp_path: Path) -> None:
    """An emptied tombstone table, or a store that is not the fleet's (an empty database
    behind the same URL after a mistake): the lineage is absent from both, and stays here."""
    ok(fleet.renew("b"))
    _delete(fleet, "a")
    with fleet.cluster.connect(OWNER, fleet.files["a"].database) as conn:
        conn.execute("DELETE FROM tombstones")
    emptied = fleet.renew("b")
    assert emptied.returncode == 0, emptied.stdout + emptied.stderr
    assert _copy_of(fleet, "b") == _whole(fleet, "b")
    other = fleet_files(tmp_path / "another-store", HOST_ROLES[1])
    wrong = fleet.renew("b", "--store", other.url, "--store-key-file", str(other.key_file))
    assert wrong.returncode == 0, wrong.stdout + wrong.stderr
    assert _copy_of(fleet, "b") == _whole(fleet, "b")
    assert "removed here" not in emptied.stdout + wrong.stdout
