"""``certkernel store import|status``: move a host into the fleet store, and show the fleet.

``import`` copies this host's ``--config-dir`` (every lineage with all its
complete versions, the renewal params, the ACME accounts) into the
``--store``; a lineage the store already has is left alone and named, so
running it on every host of a new fleet is safe. ``status`` lists the hosts
seen, each lineage's current version and expiry, and the fleet locks held
and by whom: what an operator checks when a renewal did not happen.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any

from certkernel.errors import ConfigurationError, StorageError
from certkernel.fleet import schema
from certkernel.fleet.connect import shown
from certkernel.fleet.pg_store import PgStore
from certkernel.fleet.store_key import new_key_text
from certkernel.fleet.store_open import open_database, open_store
from certkernel.lineages.lineage_store import LocalStore

if TYPE_CHECKING:
    from certkernel.config import Config

USAGE = ("usage: certkernel store import|status --store URL --store-key-file FILE | "
         "store keygen --store-key-file FILE | store grants ROLE")


class StoreAction(StrEnum):
    IMPORT = "import"
    STATUS = "status"
    KEYGEN = "keygen"
    GRANTS = "grants"


def run(config: Config) -> int:
    action = config.args[0] if config.args else ""
    wanted = 2 if action == StoreAction.GRANTS else 1
    if len(config.args) != wanted or action not in set(StoreAction):
        raise ConfigurationError(USAGE)
    if action == StoreAction.KEYGEN:
        return _keygen(config)
    if action == StoreAction.GRANTS:
        print("\n".join(f"{line};" for line in schema.host_grants(config.args[1])))
        return 0
    if not config.store:
        raise ConfigurationError(
            f"certkernel store {config.args[0]} needs --store postgresql://USER@HOST:PORT/DB "
            "(or CERTKERNEL_STORE, or 'store' in cli.ini)")
    if config.args[0] == StoreAction.IMPORT:
        return _import(config)
    return _status(config)


def _say(config: Config, text: str) -> None:
    if not config.quiet:
        print(text, flush=True)


def _keygen(config: Config) -> int:
    """Write a new fleet key to ``--store-key-file`` (0600); never replace an existing one,
    which would leave every private key in the store unreadable."""
    import os

    path = config.store_key_file
    if not path:
        raise ConfigurationError("certkernel store keygen needs --store-key-file FILE")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        raise ConfigurationError(
            f"{path} exists: keep it (the store's private keys are sealed with it), or remove "
            "it first if you really mean to start a new fleet") from None
    except OSError as exc:
        raise ConfigurationError(f"cannot create {path}: {exc.strerror}") from None
    with os.fdopen(fd, "w") as handle:
        handle.write(new_key_text())
    _say(config, f"Wrote a new fleet key to {path}: copy it to every host of the fleet "
                 "(mode 0600), never into the database")
    return 0


def _import(config: Config) -> int:
    store: PgStore = open_store(config)  # also copies the accounts both ways
    local = LocalStore(config.config_dir, config.lock_timeout)
    failed = 0
    for name in local.names():
        try:
            lineage = local.load(name)
            copied = store.import_lineage(lineage)
        except StorageError as exc:
            _say(config, f"{name}: not imported: {exc}")
            failed += 1
            continue
        if copied:
            _say(config, f"{name}: imported (versions 1-{lineage.version}, current "
                         f"{lineage.version})")
        else:
            _say(config, f"{name}: already in the store; left as it is there")
    store.db.close()
    return 1 if failed else 0


_HOSTS = """
SELECT host_id, db_role, certkernel_version, extract(epoch FROM now() - last_seen)
FROM hosts ORDER BY host_id
"""
_LINEAGES = """
SELECT l.name, l.current_version, v.serial, v.not_after, v.created_by,
       (SELECT count(*) FROM versions c WHERE c.lineage = l.name)
FROM lineages l JOIN versions v ON v.lineage = l.name AND v.version = l.current_version
ORDER BY l.name
"""
_LEASES = """
SELECT name, pid, hostname, host_id, db_role,
       greatest(0, extract(epoch FROM expires_at - now()))
FROM leases WHERE expires_at > now() ORDER BY name
"""


def _status(config: Config) -> int:
    db = open_database(config)
    conn = db.shared()
    version = schema.current_version(conn)
    hosts = conn.execute(_HOSTS).fetchall()
    lineages = conn.execute(_LINEAGES).fetchall()
    leases = {row[0]: row for row in conn.execute(_LEASES).fetchall()}
    db.close()
    print(f"Fleet store {shown(str(config.store))} (schema version {version})")
    print(f"Hosts seen ({len(hosts)}):")
    for host_id, role, ck_version, age in hosts:
        print(f"  {host_id}  role {role}  certkernel {ck_version}  last seen "
              f"{_ago(float(age))}")
    print(f"Lineages ({len(lineages)}):")
    for name, current, serial, not_after, by, count in lineages:
        print(f"  {name}  version {current} of {count}  serial {serial}  expires "
              f"{not_after:%Y-%m-%d %H:%M} UTC  made by {by}")
        if name in leases:
            print(f"    locked: {_lease(leases[name])}")
    orphans = sorted(set(leases) - {row[0] for row in lineages})
    for name in orphans:
        print(f"  lock on {name} (no lineage yet): {_lease(leases[name])}")
    return 0


def _lease(row: Any) -> str:
    _name, pid, hostname, host_id, role, left = row
    return (f"PID {pid} on {hostname} (fleet host {host_id}, role {role}), lease "
            f"expires in {float(left):.0f}s unless renewed")


def _ago(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f}s ago"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min ago"
    return f"{seconds / 3600:.1f} h ago"
