"""Fleet mode through the command line: real certkernel processes, PostgreSQL and Pebble.

Two config dirs play two hosts of one fleet (each with its own database
role); the store is the only thing they share.
"""

from __future__ import annotations

import os
from pathlib import Path

from tests.infra.cli_run import Dirs, ck, failed, obtain, ok
from tests.infra.fleet import FleetFiles, fleet_files
from tests.infra.pebble import Pebble, free_port
from tests.infra.postgres import HOST_ROLES, ClusterInfo


def _host(tmp_path: Path, label: str, role: str) -> tuple[Dirs, FleetFiles]:
    return Dirs.under(tmp_path / label), fleet_files(tmp_path, role)


def test_certonly_in_fleet_mode_puts_the_lineage_in_the_store(
        pg_cluster: ClusterInfo, pebble: Pebble, hook: Path, tmp_path: Path) -> None:
    host_a, files_a = _host(tmp_path, "a", HOST_ROLES[0])
    host_b, files_b = _host(tmp_path, "b", HOST_ROLES[1])
    ok(obtain(host_a, pebble, hook, "fleet-one.example", extra=tuple(files_a.cli_args())))
    assert (host_a.config / "live" / "fleet-one.example" / "fullchain.pem").exists()
    status = ok(ck(host_b, "store", "status", *files_b.cli_args())).stdout
    assert "fleet-one.example  version 1 of 1" in status
    assert f"{os.uname().nodename}:{host_a.config}  role {HOST_ROLES[0]}" in status
    assert f"{os.uname().nodename}:{host_b.config}  role {HOST_ROLES[1]}" in status
    # the ACME account went to the store too, so the other host renews with it
    ok(ck(host_b, "store", "import", *files_b.cli_args()))  # nothing local to import
    accounts_b = list((host_b.config / "accounts").rglob("private_key.json"))
    accounts_a = list((host_a.config / "accounts").rglob("private_key.json"))
    assert [p.parent.name for p in accounts_b] == [p.parent.name for p in accounts_a]
    assert accounts_b[0].read_bytes() == accounts_a[0].read_bytes()
    assert accounts_b[0].stat().st_mode & 0o777 == 0o400


def test_store_import_copies_a_local_config_dir_once(
        pg_cluster: ClusterInfo, pebble: Pebble, hook: Path, tmp_path: Path) -> None:
    host_a, files_a = _host(tmp_path, "a", HOST_ROLES[0])
    ok(obtain(host_a, pebble, hook, "local-first.example"))  # before fleet mode
    ok(obtain(host_a, pebble, hook, "local-first.example", extra=("--force-renewal",)))
    first = ok(ck(host_a, "store", "import", *files_a.cli_args())).stdout
    assert first.strip() == ("local-first.example: imported (versions 1-2, current 2)")
    again = ok(ck(host_a, "store", "import", *files_a.cli_args())).stdout
    assert again.strip() == "local-first.example: already in the store; left as it is there"
    host_b, files_b = _host(tmp_path, "b", HOST_ROLES[1])
    status = ok(ck(host_b, "store", "status", *files_b.cli_args())).stdout
    assert "local-first.example  version 2 of 2" in status


def test_the_password_is_never_in_the_url_nor_in_any_output(
        pg_cluster: ClusterInfo, tmp_path: Path) -> None:
    host, files = _host(tmp_path, "a", HOST_ROLES[0])
    password = pg_cluster.passwords[HOST_ROLES[0]]
    for in_url in (files.url.replace(f"{HOST_ROLES[0]}@", f"{HOST_ROLES[0]}:{password}@"),
                   f"{files.url}?sslmode=disable&password={password}"):
        err = failed(ck(host, "store", "status", "--store", in_url,
                        "--store-key-file", str(files.key_file)))
        assert err.strip() == (
            "--store: put the password in --store-password-file, not in the URL (command lines "
            "and environments are visible to other users of the host)")
    closed = files.url.replace(str(pg_cluster.port), str(free_port()))
    args = ["--store", closed, "--store-password-file", str(files.password_file),
            "--store-key-file", str(files.key_file)]
    err = failed(ck(host, "store", "status", *args))
    assert err.startswith(f"fleet store {closed} is unreachable: ")
    assert len(err.strip().splitlines()) == 1
    verbose = failed(ck(host, "store", "status", *args, "-vv"))
    assert "Traceback" in verbose  # the debug output, where a password would show
    assert password not in verbose
    for path in [*host.logs.rglob("*"), *host.work.rglob("*")]:
        if path.is_file():
            assert password not in path.read_text(errors="replace"), path


def test_the_store_comes_from_the_environment(pg_cluster: ClusterInfo, tmp_path: Path) -> None:
    host, files = _host(tmp_path, "a", HOST_ROLES[0])
    result = ok(ck(host, "store", "status", "--store-password-file", str(files.password_file),
                   "--store-key-file", str(files.key_file),
                   env={"CERTKERNEL_STORE": files.url}))
    assert result.stdout.startswith(f"Fleet store {files.url} (schema version 2)")


def test_fleet_mode_without_the_sealing_key_is_one_line(pg_cluster: ClusterInfo,
                                                        tmp_path: Path) -> None:
    host, files = _host(tmp_path, "a", HOST_ROLES[0])
    err = failed(ck(host, "store", "status", "--store", files.url, "--store-password-file",
                    str(files.password_file)))
    assert err.strip().startswith("--store needs --store-key-file FILE")
    assert len(err.strip().splitlines()) == 1


def test_keygen_writes_a_private_key_file_once(tmp_path: Path) -> None:
    host = Dirs.under(tmp_path / "a")
    key = tmp_path / "fleet.key"
    out = ok(ck(host, "store", "keygen", "--store-key-file", str(key))).stdout
    assert out.startswith(f"Wrote a new fleet key to {key}")
    assert key.stat().st_mode & 0o777 == 0o600
    first = key.read_bytes()
    err = failed(ck(host, "store", "keygen", "--store-key-file", str(key)))
    assert err.startswith(f"{key} exists: keep it")
    assert key.read_bytes() == first


def test_grants_prints_what_a_host_role_needs(pg_cluster: ClusterInfo, tmp_path: Path) -> None:
    """The printed grants are enough: a new role given only them can use the store."""
    import psycopg

    host, files = _host(tmp_path, "a", HOST_ROLES[2])
    sql = ok(ck(host, "store", "grants", "fleet_host_new")).stdout
    database = files.database
    with pg_cluster.connect(autocommit=True) as admin:
        admin.execute("CREATE ROLE fleet_host_new LOGIN PASSWORD 'new-host-pw'")
        admin.execute(f'GRANT CONNECT ON DATABASE "{database}" TO fleet_host_new')
    with pg_cluster.connect("certkernel_owner", database, autocommit=True) as owner:
        for statement in filter(None, (s.strip() for s in sql.split(";"))):
            owner.execute(statement)
    secret = tmp_path / "new.pw"
    secret.write_text("new-host-pw\n")
    secret.chmod(0o600)
    url = files.url.replace(f"{HOST_ROLES[2]}@", "fleet_host_new@")
    status = ok(ck(host, "store", "status", "--store", url, "--store-password-file", str(secret),
                   "--store-key-file", str(files.key_file))).stdout
    assert "role fleet_host_new" in status
    with psycopg.connect(url, password="new-host-pw") as conn:
        assert conn.execute("SELECT has_table_privilege('versions', 'TRUNCATE')").fetchone() == (
            False,)
