"""ACME Renewal Information in fleet mode: the fleet asks the CA once per certificate.

Two config dirs as two hosts of one store (the real PostgreSQL), a real
acme2certifier CA with ARI. What an operator checks: host b, which never
ordered the certificate, decides with the window host a fetched (and sends
the CA nothing); a window host a refreshes reaches host b on its next
``renew``; and a store row that does not describe the current certificate is
never used.
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

from tests.ari.conftest import Host
from tests.infra.a2c import A2C
from tests.infra.fleet import FleetFiles, fleet_files
from tests.infra.postgres import HOST_ROLES, OWNER, ClusterInfo

NAME = "fleet.ari.example.org"


def state(host: Host) -> dict[str, Any]:
    return json.loads(host.ari_file(NAME).read_text())


def stored(cluster: ClusterInfo, files: FleetFiles) -> list[tuple[int, Any]]:
    with cluster.connect(OWNER, files.database) as conn:
        return [(int(r[0]), r[1]) for r in conn.execute(
            "SELECT version, state FROM ari_state WHERE lineage = %s ORDER BY version",
            (NAME,)).fetchall()]


def two_hosts(tmp_path: Path) -> tuple[Host, FleetFiles, Host, FleetFiles]:
    return (Host(tmp_path / "a"), fleet_files(tmp_path, HOST_ROLES[0]),
            Host(tmp_path / "b"), fleet_files(tmp_path, HOST_ROLES[1]))


def test_a_host_that_never_ordered_decides_with_the_fleets_window(
        a2c_later: A2C, pg_cluster: ClusterInfo, tmp_path: Path) -> None:
    a, files_a, b, files_b = two_hosts(tmp_path)
    issued = a.issue(NAME, a2c_later.directory_url, *files_a.cli_args())
    assert a.ari_file(NAME).exists(), issued.stderr  # fetched right after the issuance
    fetched = state(a)
    assert fetched["window"] is not None
    assert [v for v, _s in stored(pg_cluster, files_a)] == [1]

    mark = a2c_later.mark()
    result = b.renew(*files_b.cli_args())

    assert result.returncode == 0, result.stderr
    assert a2c_later.requests_since(mark) == []  # not even the directory
    assert state(b) == fetched
    assert "No renewals were attempted." in result.stdout


def test_a_window_refreshed_on_one_host_reaches_the_others(
        a2c_later: A2C, pg_cluster: ClusterInfo, tmp_path: Path) -> None:
    a, files_a, b, files_b = two_hosts(tmp_path)
    a.issue(NAME, a2c_later.directory_url, *files_a.cli_args())
    converged = b.renew(*files_b.cli_args())
    assert converged.returncode == 0, converged.stderr
    first = state(b)
    # Host a holds the fleet's window, past its Retry-After: its next renew asks
    # the CA again. (Written here, not left to a's own fetch after the issuance,
    # which the test above covers.)
    stale = dict(first, next_check=(datetime.datetime.now(datetime.UTC)
                                    - datetime.timedelta(minutes=5)).isoformat())
    a.ari_file(NAME).write_text(json.dumps(stale))
    mark = a2c_later.mark()
    assert a.renew(*files_a.cli_args()).returncode == 0
    assert [r["path"] for r in a2c_later.requests_since(mark)] == [
        f"/acme/renewal-info/{first['cert_id']}"]
    refreshed = state(a)
    assert refreshed["fetched"] > first["fetched"]

    mark = a2c_later.mark()
    result = b.renew(*files_b.cli_args())

    assert result.returncode == 0, result.stderr
    assert a2c_later.requests_since(mark) == []
    assert state(b) == refreshed


def test_a_stored_window_for_another_certificate_is_not_used(
        a2c_later: A2C, pg_cluster: ClusterInfo, tmp_path: Path) -> None:
    a, files_a, b, files_b = two_hosts(tmp_path)
    issued = a.issue(NAME, a2c_later.directory_url, *files_a.cli_args())
    assert a.ari_file(NAME).exists(), issued.stderr
    forged = state(a)
    forged["cert_sha256"] = "00" * 32  # someone with the database edits the row
    with pg_cluster.connect(OWNER, files_a.database) as conn:
        conn.execute("UPDATE ari_state SET state = %s::jsonb WHERE lineage = %s",
                     (json.dumps(forged), NAME))
    mark = a2c_later.mark()

    result = b.renew(*files_b.cli_args())

    assert result.returncode == 0, result.stderr
    # Host b asked the CA itself and keeps the answer for its own certificate.
    paths = [r["path"] for r in a2c_later.requests_since(mark)]
    assert f"/acme/renewal-info/{forged['cert_id']}" in paths
    assert state(b)["cert_sha256"] == state(a)["cert_sha256"]
