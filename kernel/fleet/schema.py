"""The fleet store's tables, as numbered migrations applied once each.

Why migrations and not ``CREATE TABLE IF NOT EXISTS`` at every start: hosts
of one fleet upgrade certkernel one at a time, so the schema must say which
version it is at (``schema_version``), a newer host must bring an older
schema forward exactly once (even when several hosts start at the same
moment: the migrations run under one transaction-scoped advisory lock), and
an older host must refuse a schema it does not know rather than write rows
a newer host would misread.

Each migration runs in one transaction with its ``schema_version`` row, so a
migration that fails half way leaves the schema as it was. Only the
database's owner role needs to create tables; hosts get the DML rights
:func:`host_grants` lists (docs/fleet.md, "Roles and grants").

Private keys are stored encrypted (``certkernel.fleet.store_key``); every
timestamp that decides something (lease expiry, challenge age) comes from
the database's clock (``now()``), never a host's.
"""

from __future__ import annotations

from typing import Any

from certkernel.errors import StorageError

# pg_advisory_xact_lock key of the migration step (any constant; "ckmigr" in ASCII)
MIGRATION_LOCK = 0x636B6D696772

TABLES = ("hosts", "accounts", "lineages", "versions", "renewal_confs", "ari_state",
          "challenges", "leases", "tombstones")

_V1 = (
    """CREATE TABLE hosts (
        host_id text PRIMARY KEY,
        hostname text NOT NULL,
        db_role text NOT NULL DEFAULT current_user,
        certkernel_version text NOT NULL,
        first_seen timestamptz NOT NULL DEFAULT now(),
        last_seen timestamptz NOT NULL DEFAULT now())""",
    """CREATE TABLE accounts (
        server text NOT NULL,
        account_id text NOT NULL,
        regr text NOT NULL,
        meta text NOT NULL,
        private_key bytea NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (server, account_id))""",
    """CREATE TABLE lineages (
        name text PRIMARY KEY CHECK (name <> ''),
        current_version integer,
        created_at timestamptz NOT NULL DEFAULT now(),
        created_by text NOT NULL)""",
    """CREATE TABLE versions (
        lineage text NOT NULL REFERENCES lineages (name) ON DELETE CASCADE,
        version integer NOT NULL CHECK (version > 0),
        cert bytea NOT NULL,
        chain bytea NOT NULL,
        fullchain bytea NOT NULL,
        private_key bytea NOT NULL,
        serial text NOT NULL,
        not_after timestamptz NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        created_by text NOT NULL,
        PRIMARY KEY (lineage, version))""",
    # The current version must exist: checked at commit, so a lineage and its
    # first version are inserted in one transaction in either order.
    """ALTER TABLE lineages ADD CONSTRAINT lineages_current_version_fkey
        FOREIGN KEY (name, current_version) REFERENCES versions (lineage, version)
        DEFERRABLE INITIALLY DEFERRED""",
    """CREATE TABLE renewal_confs (
        lineage text PRIMARY KEY REFERENCES lineages (name) ON DELETE CASCADE,
        params jsonb NOT NULL,
        renew_before_expiry text,
        updated_at timestamptz NOT NULL DEFAULT now())""",
    """CREATE TABLE ari_state (
        lineage text NOT NULL,
        version integer NOT NULL,
        cert_id text NOT NULL,
        window_start timestamptz,
        window_end timestamptz,
        retry_after timestamptz,
        explanation_url text,
        fetched_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (lineage, version),
        FOREIGN KEY (lineage, version) REFERENCES versions (lineage, version)
            ON DELETE CASCADE)""",
    """CREATE TABLE challenges (
        token text PRIMARY KEY,
        key_authorization text NOT NULL,
        published_by text NOT NULL DEFAULT current_user,
        created_at timestamptz NOT NULL DEFAULT now())""",
    """CREATE TABLE leases (
        name text PRIMARY KEY,
        holder text NOT NULL,
        host_id text NOT NULL,
        hostname text NOT NULL,
        pid integer NOT NULL,
        backend_pid integer NOT NULL,
        db_role text NOT NULL DEFAULT current_user,
        acquired_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NOT NULL)""",
)

_V2 = (
    # the whole answer as archive/<name>/ari.json holds it (server, renewalInfo URL,
    # certificate digest), so another host can decide with it; the typed columns
    # stay for operators' queries
    "ALTER TABLE ari_state ADD COLUMN state jsonb",
    "ALTER TABLE ari_state ALTER COLUMN cert_id DROP NOT NULL",
    # a deleted lineage: the other hosts remove their copy only when its certificate
    # is one of these serials (never "absent from the store": an empty or wrong store
    # would then remove everything); creating the name again clears the row
    """CREATE TABLE tombstones (
        name text PRIMARY KEY CHECK (name <> ''),
        serials text[] NOT NULL,
        deleted_by text NOT NULL,
        db_role text NOT NULL DEFAULT current_user,
        deleted_at timestamptz NOT NULL DEFAULT now())""",
)

# (version, what it does, statements); append only, never edit a released one.
MIGRATIONS: tuple[tuple[int, str, tuple[str, ...]], ...] = (
    (1, "fleet tables: hosts, accounts, lineages, versions, renewal confs, ARI state, "
        "http-01 challenges, leases", _V1),
    (2, "ARI state shared whole between hosts; tombstones of deleted lineages", _V2),
)
LATEST = MIGRATIONS[-1][0]


class SchemaError(StorageError):
    """The store's schema cannot be used by this certkernel (too new, or not migratable)."""


def current_version(conn: Any) -> int:
    """The schema version the database is at (0: no fleet tables yet)."""
    row = conn.execute("SELECT to_regclass('schema_version') IS NOT NULL").fetchone()
    if not row[0]:
        return 0
    row = conn.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()
    return int(row[0])


def _refuse_newer(version: int) -> None:
    if version > LATEST:
        raise SchemaError(
            f"the fleet store's schema is at version {version}, newer than this certkernel "
            f"knows (version {LATEST}): upgrade certkernel on this host")


def migrate(conn: Any) -> int:
    """Bring the schema to :data:`LATEST`; returns the version it was at.

    Idempotent (an up-to-date schema costs one query); safe when several
    hosts call it at once (advisory lock, version re-read under it). Raises
    :class:`SchemaError` for a newer schema, or when this role may not
    create the tables (connect once as the database owner).
    """
    import psycopg

    before = current_version(conn)
    _refuse_newer(before)
    if before == LATEST:
        return before
    for version, _what, statements in MIGRATIONS:
        try:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
                conn.execute("""CREATE TABLE IF NOT EXISTS schema_version (
                    version integer PRIMARY KEY,
                    applied_at timestamptz NOT NULL DEFAULT now(),
                    applied_by text NOT NULL DEFAULT current_user)""")
                now_at = current_version(conn)
                _refuse_newer(now_at)
                if now_at >= version:
                    continue
                for statement in statements:
                    conn.execute(statement)
                conn.execute("INSERT INTO schema_version (version) VALUES (%s)", (version,))
        except psycopg.errors.InsufficientPrivilege as exc:
            raise SchemaError(
                f"the fleet store's schema is at version {before} and this certkernel needs "
                f"{LATEST}, but this database role may not create tables "
                f"({exc.diag.message_primary}): connect once as the database's owner "
                "(docs/fleet.md, 'Roles and grants')") from None
    return before


def host_grants(role: str) -> list[str]:
    """The statements that give ``role`` (a host's role, or a group of them) what a host needs.

    Hosts read and write rows; they never create, alter or drop tables.
    ``role`` must be a plain identifier (it is an operator's role name).
    """
    if not role.replace("_", "").isalnum() or not role[:1].isalpha():
        raise SchemaError(f"{role!r} is not a plain role name (letters, digits, underscores)")
    tables = ", ".join(TABLES)
    return [
        f"GRANT SELECT ON schema_version TO {role}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON {tables} TO {role}",
    ]
