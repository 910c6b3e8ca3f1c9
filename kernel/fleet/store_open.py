"""Opening the fleet store for one run: check the flags, migrate, say this host was seen,
share the ACME accounts.

Why here and not in :func:`certkernel.lineages.store_choice.store_for`: that function
is the one place choosing a store, and must stay importable without
psycopg; everything fleet mode does when a run starts lives in this module.
"""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING

from certkernel.errors import MissingFlag
from certkernel.fleet import accounts_sync, schema
from certkernel.fleet.connect import Database, StoreSettings, default_host_id, unavailable
from certkernel.fleet.pg_store import PgStore
from certkernel.version import __version__

if TYPE_CHECKING:
    from certkernel.config import Config

_SEEN = """
INSERT INTO hosts (host_id, hostname, certkernel_version) VALUES (%s, %s, %s)
ON CONFLICT (host_id) DO UPDATE SET hostname = EXCLUDED.hostname,
    certkernel_version = EXCLUDED.certkernel_version, db_role = current_user, last_seen = now()
"""


def settings_of(config: Config) -> StoreSettings:
    """The store settings of this run; ``MissingFlag`` when the sealing key is not given."""
    if not config.store_key_file:
        raise MissingFlag(
            "--store needs --store-key-file FILE: the fleet's key that seals private keys "
            "(the same file on every host; see docs/fleet.md)", flag="--store-key-file")
    return StoreSettings(str(config.store), config.store_key_file, config.store_password_file,
                         default_host_id(config.config_dir))


def open_database(config: Config) -> Database:
    """A checked, migrated store with this host registered as seen (raises ``StorageError``)."""
    settings = settings_of(config)
    db = Database.open(settings)  # first: it says so when psycopg is missing
    import psycopg

    conn = db.shared()
    try:
        schema.migrate(conn)
        conn.execute(_SEEN, (settings.host_id, socket.gethostname(), __version__))
    except psycopg.OperationalError as exc:
        raise unavailable(settings.url, exc) from None
    return db


def open_store(config: Config) -> PgStore:
    """The run's :class:`PgStore`; the ACME accounts are made the same on both sides first."""
    db = open_database(config)
    import psycopg

    try:
        accounts_sync.sync(db, config.config_dir)
    except psycopg.OperationalError as exc:
        raise unavailable(db.settings.url, exc) from None
    return PgStore(db, config.config_dir, config.lock_timeout, db.settings.host_id)
