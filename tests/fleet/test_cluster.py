"""The private cluster and the schema's migrations, against real PostgreSQL."""

from __future__ import annotations

import psycopg
import pytest

from certkernel.fleet import schema
from tests.infra.postgres import HOST_ROLES, OWNER, ClusterInfo


def test_host_roles_need_their_password(pg_cluster: ClusterInfo) -> None:
    database = pg_cluster.store_database("password-check")
    with pg_cluster.connect(HOST_ROLES[0], database) as conn:
        assert conn.execute("SELECT current_user").fetchone() == (HOST_ROLES[0],)
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(host="127.0.0.1", port=pg_cluster.port, user=HOST_ROLES[0],
                        password="wrong", dbname=database, connect_timeout=10)


def test_migrations_apply_once_and_are_idempotent(pg_cluster: ClusterInfo) -> None:
    database = pg_cluster.store_database("migrate-twice")
    with pg_cluster.connect(OWNER, database, autocommit=True) as conn:
        assert schema.current_version(conn) == schema.LATEST
        assert schema.migrate(conn) == schema.LATEST  # nothing to do the second time
        rows = conn.execute("SELECT version FROM schema_version ORDER BY version").fetchall()
        assert rows == [(v,) for v, _what, _sql in schema.MIGRATIONS]


def test_a_host_role_cannot_change_the_schema(pg_cluster: ClusterInfo) -> None:
    database = pg_cluster.store_database("host-ddl")
    with pg_cluster.connect(HOST_ROLES[0], database, autocommit=True) as conn:
        assert schema.migrate(conn) == schema.LATEST  # up to date: reading is enough
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("DROP TABLE versions")


def test_a_fresh_database_migrated_by_a_host_role_says_to_use_the_owner(
        pg_cluster: ClusterInfo) -> None:
    with pg_cluster.connect(autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE ck_unmigrated OWNER {OWNER}")
        admin.execute("GRANT CONNECT ON DATABASE ck_unmigrated TO certkernel_hosts")
    with pg_cluster.connect(OWNER, "ck_unmigrated", autocommit=True) as owner:
        owner.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
    with pg_cluster.connect(HOST_ROLES[1], "ck_unmigrated", autocommit=True) as conn:
        with pytest.raises(schema.SchemaError) as caught:
            schema.migrate(conn)
    message = str(caught.value)
    assert "\n" not in message
    assert "database's owner" in message
    assert f"needs {schema.LATEST}" in message


def test_a_newer_schema_is_refused_in_one_line(pg_cluster: ClusterInfo) -> None:
    database = pg_cluster.store_database("from-the-future")
    with pg_cluster.connect(OWNER, database, autocommit=True) as conn:
        conn.execute("INSERT INTO schema_version (version) VALUES (%s)", (schema.LATEST + 1,))
        with pytest.raises(schema.SchemaError) as caught:
            schema.migrate(conn)
    assert str(caught.value) == (
        f"the fleet store's schema is at version {schema.LATEST + 1}, newer than this "
        f"certkernel knows (version {schema.LATEST}): upgrade certkernel on this host")


def test_hosts_starting_at_once_migrate_once(pg_cluster: ClusterInfo) -> None:
    import threading

    with pg_cluster.connect(autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE ck_race OWNER {OWNER}")
    start = threading.Barrier(4)
    errors: list[BaseException] = []

    def host() -> None:
        try:
            with pg_cluster.connect(OWNER, "ck_race", autocommit=True) as conn:
                start.wait(timeout=30)
                schema.migrate(conn)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=host) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    with pg_cluster.connect(OWNER, "ck_race") as conn:
        assert conn.execute("SELECT count(*) FROM schema_version").fetchone() == (
            len(schema.MIGRATIONS),)


def test_a_store_at_version_1_is_upgraded_in_place_keeping_its_rows(
        pg_cluster: ClusterInfo) -> None:
    """Version 2 shares whole ARI answers: a store made by the first fleet release
    gains the column when its owner next connects, and loses no row."""
    with pg_cluster.connect(autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "ck_upgrade_from_v1" OWNER {OWNER}')
    with pg_cluster.connect(OWNER, "ck_upgrade_from_v1", autocommit=True) as conn:
        conn.execute("CREATE TABLE schema_version (version integer PRIMARY KEY, "
                     "applied_at timestamptz NOT NULL DEFAULT now(), "
                     "applied_by text NOT NULL DEFAULT current_user)")
        version_1 = dict((v, sql) for v, _what, sql in schema.MIGRATIONS)[1]
        for statement in version_1:
            conn.execute(statement)
        conn.execute("INSERT INTO schema_version (version) VALUES (1)")
        conn.execute("INSERT INTO lineages (name, created_by) VALUES ('old.example', 'host-a')")
        conn.execute("INSERT INTO versions (lineage, version, cert, chain, fullchain, "
                     "private_key, serial, not_after, created_by) VALUES ('old.example', 1, "
                     "'c', 'ch', 'f', 'k', '1f', now(), 'host-a')")
        conn.execute("UPDATE lineages SET current_version = 1")
        conn.execute("INSERT INTO ari_state (lineage, version, cert_id, retry_after) "
                     "VALUES ('old.example', 1, 'aki.serial', now())")

        assert schema.migrate(conn) == 1

        assert schema.current_version(conn) == 2
        assert conn.execute("SELECT lineage, version, cert_id, state FROM ari_state").fetchall() \
            == [("old.example", 1, "aki.serial", None)]
        assert conn.execute("SELECT name FROM lineages").fetchall() == [("old.example",)]
