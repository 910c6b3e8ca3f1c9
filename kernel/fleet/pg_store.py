"""``PgStore``: the lineage store of fleet mode, in PostgreSQL, copied into ``--config-dir``.

Satisfies :class:`certkernel.interfaces.LineageStore` (read its contract
first). What differs from :class:`certkernel.lineages.lineage_store.LocalStore`:

- The store is the truth: every version (cert, chain, fullchain, the private
  key sealed with ``--store-key-file``) and the renewal params are rows.
  Creating a lineage or adding a version is one transaction, so another
  host sees the whole version or nothing, never half of one.
- Version numbers are the store's: ``save_version`` takes the next number
  under a row lock on the lineage, so two hosts never write the same
  number, and a stale object never overwrites a newer version.
- :meth:`load` brings this host's copy (archive/, live/, renewal/) up to the
  store's current version before returning the local
  :class:`~certkernel.lineages.storage.Lineage`, because web servers, hooks and
  installers read ``live/<name>/``.
- :meth:`lock` is a lease in the store (:mod:`certkernel.fleet.lease`),
  excluding every process on every host of the fleet. Each write of a
  lineage re-asserts this object's lease on it in the write's own
  transaction (:meth:`PgLease.fence`), so a process that lost its lease
  while stalled (another host took the lineage over) writes nothing.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from certkernel import crypto
from certkernel.errors import CertStorageError, LineageNotFound, StorageError, ValidationError
from certkernel.fleet import accounts_sync, ari_share, materialize
from certkernel.fleet.connect import Database, jsonb, unavailable
from certkernel.fleet.lease import DEFAULT_TTL, PgLease
from certkernel.fleet.materialize import Snapshot, VersionFiles
from certkernel.fleet.store_key import lineage_place
from certkernel.lineages import renewal_conf
from certkernel.lineages.storage import MAX_COLLISIONS, Lineage
from certkernel.names import validate_cert_name

logger = logging.getLogger(__name__)

_SNAPSHOT = """
SELECT l.current_version, r.params, r.renew_before_expiry,
       ARRAY(SELECT v.version FROM versions v WHERE v.lineage = l.name ORDER BY v.version)
FROM lineages l LEFT JOIN renewal_confs r ON r.lineage = l.name
WHERE l.name = %s AND l.current_version IS NOT NULL
"""
_FILES = """
SELECT version, cert, chain, fullchain, private_key FROM versions
WHERE lineage = %s AND version = ANY(%s) ORDER BY version
"""
_INSERT_VERSION = """
INSERT INTO versions (lineage, version, cert, chain, fullchain, private_key, serial, not_after,
                      created_by)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)
"""
_TOMBSTONE = """
INSERT INTO tombstones (name, serials, deleted_by)
SELECT %(name)s, ARRAY(SELECT serial FROM versions WHERE lineage = %(name)s ORDER BY version),
       %(host)s
ON CONFLICT (name) DO UPDATE SET serials = EXCLUDED.serials, deleted_by = EXCLUDED.deleted_by,
    db_role = current_user, deleted_at = now()
"""
_CLEAR_TOMBSTONE = "DELETE FROM tombstones WHERE name = %s"
_UPSERT_CONF = """
INSERT INTO renewal_confs (lineage, params, renew_before_expiry) VALUES (%s, %s, %s)
ON CONFLICT (lineage) DO UPDATE SET params = EXCLUDED.params,
    renew_before_expiry = coalesce(EXCLUDED.renew_before_expiry,
                                   renewal_confs.renew_before_expiry),
    updated_at = now()
"""


@dataclass(frozen=True)
class Tombstone:
    """A lineage ``delete`` removed from the store: who, when, and its certificates' serials."""

    name: str
    serials: frozenset[str]
    deleted_by: str
    deleted_at: datetime.datetime


@dataclass
class PgStore:
    """Lineages in the fleet store, copied into ``config_dir``; leases for locks."""

    db: Database
    config_dir: str
    lock_timeout: float
    host_id: str
    lease_ttl: float = DEFAULT_TTL
    # lineages whose live/ a sync changed in this process (fleet renew deploys those
    # another host renewed); set.add is atomic, readers copy it
    synced_changes: set[str] = field(default_factory=set)
    # when this store was opened, by the database's clock: the start of this run's
    # renewal window (see renewed_elsewhere)
    opened_at: Any = None
    # the last lease lock() made per lineage: the fence of that lineage's writes
    _leases: dict[str, PgLease] = field(default_factory=dict, init=False, repr=False)
    # the database's clock minus this host's, measured when the store opened (now())
    _clock_offset: datetime.timedelta = field(default=datetime.timedelta(0), init=False,
                                              repr=False)

    def __post_init__(self) -> None:
        if self.opened_at is None:
            with self._work() as conn:
                before = datetime.datetime.now(datetime.UTC)
                self.opened_at = conn.execute("SELECT clock_timestamp()").fetchone()[0]
                after = datetime.datetime.now(datetime.UTC)
            self._clock_offset = self.opened_at - (before + (after - before) / 2)

    def now(self) -> datetime.datetime:
        """The database's clock, read once at opening and carried on by this host's.

        What is due is decided by this clock in fleet mode, so a host whose
        clock is off neither orders what the others find fresh nor leaves
        what they find due (one query at opening, not one per lineage).
        """
        return datetime.datetime.now(datetime.UTC) + self._clock_offset

    # -- reading -------------------------------------------------------------
    def names(self) -> list[str]:
        with self._work() as conn:
            rows = conn.execute(
                "SELECT name FROM lineages WHERE current_version IS NOT NULL").fetchall()
        return sorted(row[0] for row in rows)

    def load(self, name: str) -> Lineage:
        self.sync(name)
        return Lineage.load(self.config_dir, name)

    def sync(self, name: str) -> bool:
        """Bring this host's copy of ``name`` to the store's current version.

        Returns whether ``live/<name>/`` changed. Raises ``LineageNotFound``
        when the store has no such lineage.
        """
        name = _checked(name)
        lock = materialize.sync_lock(self.config_dir, name, max(self.lock_timeout, 5.0))
        lock.acquire()
        try:
            layout = materialize.local_layout(self.config_dir, name)
            with self._work() as conn, conn.transaction():
                conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                snapshot = self._snapshot(conn, name)
                wanted = materialize.missing_versions(layout, snapshot)
                files = self._files(conn, name, wanted) if wanted else []
            changed = materialize.apply(self.config_dir, snapshot, layout, files)
        finally:
            lock.release()
        if changed:
            self.synced_changes.add(name)
        return changed

    def _snapshot(self, conn: Any, name: str) -> Snapshot:
        row = conn.execute(_SNAPSHOT, (name,)).fetchone()
        if row is None:
            raise LineageNotFound(f"no certificate lineage named {name} in the fleet store "
                                  "('certkernel store import' copies this host's lineages "
                                  "into it; 'certkernel store status' lists what it holds)")
        current, params, rbe, numbers = row
        return Snapshot(name, int(current), tuple(int(n) for n in numbers),
                        params if isinstance(params, dict) else {}, rbe)

    def _files(self, conn: Any, name: str, numbers: list[int]) -> list[VersionFiles]:
        rows = conn.execute(_FILES, (name, numbers)).fetchall()
        if len(rows) != len(numbers):
            raise CertStorageError(f"versions of {name} vanished from the fleet store while "
                                   "being read")
        return [VersionFiles(int(n), bytes(cert), bytes(chain), bytes(fullchain),
                             self.db.key.open(bytes(sealed), lineage_place(name, int(n))))
                for n, cert, chain, fullchain, sealed in rows]

    def renewed_elsewhere(self, lineage: Lineage) -> bool:
        """Whether another host made ``lineage``'s current version since this store opened.

        Hosts that run ``renew`` together each converge first, so a version
        another host made a moment ago can reach this run's plan; the host
        clock (faked, or skewed) may call it due again. The database's clock
        says it belongs to this renewal window, and the runner leaves it.
        """
        with self._work() as conn:
            row = conn.execute(
                "SELECT created_by <> %s AND created_at >= %s FROM versions "
                "WHERE lineage = %s AND version = %s",
                (self.host_id, self.opened_at, lineage.name, lineage.version)).fetchone()
        return bool(row and row[0])

    # -- writing -------------------------------------------------------------
    def create(self, name: str, cert: bytes, chain: bytes, fullchain: bytes, key_pem: bytes,
               renewalparams: Mapping[str, Any], *,
               renew_before_expiry: str | None = None) -> Lineage:
        import psycopg

        validate_cert_name(name)
        params = _params_json(renewalparams)
        for _attempt in range(5):  # another host may take the same free name meanwhile
            try:
                with self._work() as conn, conn.transaction():
                    chosen = _free_name(conn, name)
                    conn.execute("INSERT INTO lineages (name, current_version, created_by) "
                                 "VALUES (%s, 1, %s)", (chosen, self.host_id))
                    self._insert_version(conn, chosen, 1, cert, chain, fullchain, key_pem)
                    conn.execute(_UPSERT_CONF, (chosen, params, renew_before_expiry))
                    conn.execute(_CLEAR_TOMBSTONE, (chosen,))  # the new lineage is not deleted
            except psycopg.errors.UniqueViolation:
                continue
            self._share_accounts()
            return self.load(chosen)
        raise StorageError(f"could not find a free lineage name for {name} in the fleet store")

    def _insert_version(self, conn: Any, name: str, number: int, cert: bytes, chain: bytes,
                        fullchain: bytes, key_pem: bytes) -> None:
        info = crypto.cert_info(cert, source=f"the new certificate of {name}")
        sealed = self.db.key.seal(key_pem, lineage_place(name, number))
        conn.execute(_INSERT_VERSION, (name, number, cert, chain, fullchain, sealed,
                                       f"{info.serial:x}", info.not_after, self.host_id))

    def save_version(self, lineage: Lineage, cert: bytes, chain: bytes, fullchain: bytes,
                     key_pem: bytes | None,
                     renewalparams: Mapping[str, Any] | None = None) -> int:
        name = lineage.name
        with self._work() as conn, conn.transaction():
            self._fence(conn, name)
            row = conn.execute("SELECT current_version FROM lineages WHERE name = %s FOR UPDATE",
                               (name,)).fetchone()
            if row is None:
                raise LineageNotFound(f"no certificate lineage named {name} in the fleet store")
            number = int(conn.execute("SELECT coalesce(max(version), 0) + 1 FROM versions "
                                      "WHERE lineage = %s", (name,)).fetchone()[0])
            if key_pem is None:
                key_pem = self._files(conn, name, [int(row[0])])[0].privkey
            self._insert_version(conn, name, number, cert, chain, fullchain, key_pem)
            conn.execute("UPDATE lineages SET current_version = %s WHERE name = %s",
                         (number, name))
            if renewalparams is not None:
                conn.execute(_UPSERT_CONF, (name, _params_json(renewalparams), None))
        self._share_accounts()
        _refresh(lineage, self.load(name))
        return number

    def save_renewalparams(self, lineage: Lineage, renewalparams: Mapping[str, Any]) -> None:
        with self._work() as conn, conn.transaction():
            self._fence(conn, lineage.name)
            updated = conn.execute(
                "UPDATE renewal_confs SET params = %s, updated_at = now() WHERE lineage = %s",
                (_params_json(renewalparams), lineage.name)).rowcount
        if updated != 1:
            raise LineageNotFound(
                f"no certificate lineage named {lineage.name} in the fleet store")
        _refresh(lineage, self.load(lineage.name))

    def import_lineage(self, lineage: Lineage) -> bool:
        """Copy a local lineage, every complete version under its own number, into the store.

        One transaction: the store gets the whole lineage or nothing. ``False``
        (and nothing written) when the store already has a lineage of that name.
        """
        import psycopg

        name = lineage.name
        numbers = [n for n in lineage.layout.complete_versions() if n <= lineage.version]
        try:
            with self._work() as conn, conn.transaction():
                if conn.execute("SELECT 1 FROM lineages WHERE name = %s", (name,)).fetchone():
                    return False
                conn.execute("INSERT INTO lineages (name, current_version, created_by) "
                             "VALUES (%s, %s, %s)", (name, lineage.version, self.host_id))
                for n in numbers:
                    self._insert_version(conn, name, n, *(lineage.read(kind, n) for kind in
                                                          ("cert", "chain", "fullchain",
                                                           "privkey")))
                conn.execute(_UPSERT_CONF, (name, _params_json(lineage.renewalparams.as_dict()),
                                            lineage.conf.renew_before_expiry))
                conn.execute(_CLEAR_TOMBSTONE, (name,))
        except psycopg.errors.UniqueViolation:
            return False  # another host imported it at the same moment
        return True

    def delete(self, name: str) -> bool:
        """Delete the lineage from the store and this host, leaving its tombstone (in the
        same transaction) so the other hosts remove their copy at their next ``renew``."""
        try:
            name = _checked(name)
        except LineageNotFound:
            return False
        with self._work() as conn, conn.transaction():
            self._fence(conn, name)
            if conn.execute("SELECT 1 FROM lineages WHERE name = %s FOR UPDATE",
                            (name,)).fetchone():
                conn.execute(_TOMBSTONE, {"name": name, "host": self.host_id})
            gone = conn.execute("DELETE FROM lineages WHERE name = %s RETURNING name",
                                (name,)).fetchone()
        materialize.remove_local(self.config_dir, name)
        return gone is not None

    def tombstones(self) -> list[Tombstone]:
        """The lineages deleted from the fleet (and not created again since)."""
        with self._work() as conn:
            rows = conn.execute("SELECT name, serials, deleted_by, deleted_at FROM tombstones "
                                "ORDER BY name").fetchall()
        return [Tombstone(name, frozenset(serials), host, at) for name, serials, host, at in rows]

    def share_renewal_info(self, lineage: Lineage) -> None:
        self.offer_renewal_info(lineage.name)

    def pull_renewal_info(self) -> list[str]:
        """Copy the fleet's newer renewal information into this host's layout (one query)."""
        try:
            with self._work() as conn:
                return ari_share.pull(conn, self.config_dir)
        except StorageError as exc:
            logger.warning("Could not read the fleet's renewal information: %s", exc)
            return []

    def offer_renewal_info(self, only: str | None = None) -> list[str]:
        """Offer this host's newer renewal information (of ``only``, or every lineage)."""
        try:
            with self._work() as conn:
                return ari_share.push(conn, self.config_dir, only)
        except StorageError as exc:
            logger.warning("Could not share renewal information with the fleet: %s", exc)
            return []

    def lock(self, name: str) -> PgLease:
        lease = PgLease(self.db, name, self.lock_timeout, self.host_id, self.lease_ttl)
        self._leases[name] = lease
        return lease

    def _fence(self, conn: Any, name: str) -> None:
        lease = self._leases.get(name)
        if lease is not None:
            lease.fence(conn)

    # -- plumbing ------------------------------------------------------------
    def _share_accounts(self) -> None:
        """The account a new version was ordered with goes to the store with it (a host
        that renews the lineage later needs it)."""
        with self._work():
            accounts_sync.sync(self.db, self.config_dir)

    @contextlib.contextmanager
    def _work(self) -> Iterator[Any]:
        """This thread's connection; database failures become one-line ``StorageError``s."""
        import psycopg

        conn = self.db.shared()
        try:
            yield conn
        except psycopg.OperationalError as exc:
            raise unavailable(self.db.settings.url, exc) from None
        except psycopg.errors.UniqueViolation:
            raise
        except psycopg.Error as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise StorageError(f"the fleet store refused the request: {first}") from None


def _checked(name: str) -> str:
    """Refuse a name that would reach outside ``renewal/`` before it becomes a path."""
    try:
        return validate_cert_name(name)
    except ValidationError as exc:
        raise LineageNotFound(str(exc)) from None


def _free_name(conn: Any, name: str) -> str:
    """``name`` if the store has no such lineage, else ``name-0001`` and so on."""
    rows = conn.execute("SELECT name FROM lineages WHERE name = %s OR name LIKE %s",
                        (name, _like_prefix(name) + "-____")).fetchall()
    taken = {row[0] for row in rows}
    if name not in taken:
        return name
    for n in range(1, MAX_COLLISIONS + 1):
        candidate = f"{name}-{n:04d}"
        if candidate not in taken:
            return candidate
    raise StorageError(f"too many lineages named {name}-NNNN in the fleet store")


def _like_prefix(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _params_json(params: Mapping[str, Any]) -> Any:
    """Renewal params as Certbot would write them (strings, lists, maps), for a jsonb column."""
    return jsonb({str(k): renewal_conf.to_conf_value(v) for k, v in params.items()})


def _refresh(lineage: Lineage, fresh: Lineage) -> None:
    """Make the caller's object show the store's current version, as LocalStore's writes do."""
    lineage.version = fresh.version
    lineage.conf = fresh.conf
    lineage._info = None
    lineage._validity = None
