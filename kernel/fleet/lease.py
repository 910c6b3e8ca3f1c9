"""The fleet lock on one lineage: a lease row in the store, kept alive by a heartbeat.

Why a lease and not a local ``flock``: the hosts of a fleet share nothing
but the database, and exactly one of them may renew a lineage in a window.
Why not only an advisory lock: an advisory lock lives as long as the
holder's connection, and a host that vanishes from the network (power cut,
partition) keeps its connection open on the server until TCP gives up,
which can take hours. So:

- A lease row names its holder (host, PID, the holder's database backend)
  and expires ``ttl`` seconds after its last heartbeat. Expiry is computed
  by the database (``now()``), never by a host's clock, so hosts whose
  clocks disagree still agree on who holds what.
- A heartbeat thread extends the lease every ``ttl / 6`` seconds on the
  holder's own connection. A holder whose heartbeat fails (the row was
  taken over, the store went away) marks the lease lost: :attr:`held`
  turns False and a warning says so. The heartbeat waits in ``poll`` on
  a pipe, not on a ``threading`` timeout: those wait for a deadline on the
  monotonic clock, which ``faketime`` (how certificates are made due in
  tests and drills) moves, and a heartbeat that never beats lets the
  lease of a live holder lapse.
- The lease is also a fence: :meth:`fence` re-asserts it inside the
  transaction that writes the lineage, so a holder that was frozen past
  its lease while another host took the lineage over writes nothing.
- A lease is free when it expired, or when its holder's database backend
  is gone (the holder's process died and the kernel closed its socket: a
  SIGKILLed ``renew`` frees its leases at once). A holder that is merely
  unreachable keeps the lease until it expires, at most ``ttl`` seconds
  after its last heartbeat (30 s by default).

Satisfies :class:`certkernel.interfaces.Locker`: bounded ``acquire`` raising
``LockError`` naming the holder, idempotent ``acquire``/``release``, one
object per holder.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import select
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from certkernel.errors import LockError, StorageError
from certkernel.fleet.connect import unavailable

if TYPE_CHECKING:
    from certkernel.fleet.connect import Database

logger = logging.getLogger(__name__)

DEFAULT_TTL = 30.0
POLL_FIRST, POLL_MAX = 0.01, 0.25

_TAKE = """
INSERT INTO leases (name, holder, host_id, hostname, pid, backend_pid, expires_at)
VALUES (%(name)s, %(holder)s, %(host_id)s, %(hostname)s, %(pid)s, pg_backend_pid(),
        now() + make_interval(secs => %(ttl)s))
ON CONFLICT (name) DO UPDATE SET
    holder = EXCLUDED.holder, host_id = EXCLUDED.host_id, hostname = EXCLUDED.hostname,
    pid = EXCLUDED.pid, backend_pid = EXCLUDED.backend_pid, db_role = current_user,
    acquired_at = now(), expires_at = EXCLUDED.expires_at
WHERE leases.expires_at < now()
   OR NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = leases.backend_pid)
RETURNING holder
"""
_HOLDER = """
SELECT pid, hostname, host_id, greatest(0, extract(epoch FROM expires_at - now()))
FROM leases WHERE name = %s
"""
_BEAT = """
UPDATE leases SET expires_at = now() + make_interval(secs => %s)
WHERE name = %s AND holder = %s
"""


@dataclass
class PgLease:
    """One holder's (not yet taken) lease on ``name``."""

    db: Database
    name: str
    timeout: float
    host_id: str
    ttl: float = DEFAULT_TTL
    what: str = ""
    _conn: Any = field(default=None, init=False, repr=False)
    _holder: str | None = field(default=None, init=False)
    _lost: threading.Event = field(default_factory=threading.Event, init=False, repr=False)
    _stop: _Alarm | None = field(default=None, init=False, repr=False)
    _beat: threading.Thread | None = field(default=None, init=False, repr=False)
    _guard: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    @property
    def purpose(self) -> str:
        return self.what or f"the certificate lineage {self.name}"

    @property
    def held(self) -> bool:
        return self._holder is not None and not self._lost.is_set()

    def acquire(self) -> None:
        """Take the lease, waiting at most ``timeout`` s; ``LockError`` names the holder."""
        if self.held:
            return
        self.release()  # a lost lease: start clean
        import psycopg

        try:
            conn = self.db.connect("certkernel lease")
        except StorageError as exc:
            raise LockError(f"cannot take the fleet lock on {self.purpose}: {exc}") from None
        holder = secrets.token_hex(16)
        try:
            self._wait(conn, holder)
        except psycopg.Error as exc:
            conn.close()
            raise LockError(f"cannot take the fleet lock on {self.purpose}: "
                            f"{unavailable(self.db.settings.url, exc)}") from None
        except BaseException:
            conn.close()
            raise
        self._conn, self._holder = conn, holder
        self._lost.clear()
        self._stop = _Alarm()
        self._beat = threading.Thread(target=self._heartbeat, args=(conn, holder, self._stop),
                                      name=f"lease {self.name}", daemon=True)
        self._beat.start()

    def fence(self, conn: Any) -> None:
        """Re-assert the lease in ``conn``'s open transaction, or raise ``LockError``.

        The row stays locked until that transaction ends, so no other host
        can take the lease between this check and the write it guards.
        """
        if self._holder is None:
            return  # not taken by this object: the caller writes without a fleet lock
        updated = conn.execute(_BEAT, (self.ttl, self.name, self._holder)).rowcount
        if updated != 1:
            self._lost.set()
            raise LockError(
                f"Lost the fleet lock on {self.purpose} before saving: this process stalled "
                f"for more than the {self.ttl:g}s lease and another host took it over; "
                "nothing was saved here, the fleet's current version stands")

    def _wait(self, conn: Any, holder: str) -> None:
        deadline = time.monotonic() + max(self.timeout, 0.0)
        params = {"name": self.name, "holder": holder, "host_id": self.host_id,
                  "hostname": socket.gethostname(), "pid": os.getpid(), "ttl": self.ttl}
        announced = False
        pause = POLL_FIRST
        while True:
            if conn.execute(_TAKE, params).fetchone() is not None:
                return
            row = conn.execute(_HOLDER, (self.name,)).fetchone()
            who = ("(released just now)" if row is None else
                   f"(PID {row[0]} on {row[1]}, fleet host {row[2]}, lease expires in "
                   f"{float(row[3]):.0f}s unless renewed)")
            if time.monotonic() >= deadline:
                raise LockError(
                    f"Another certkernel process {who} holds the fleet lock on {self.purpose}; "
                    f"waited {self.timeout:g}s. Try again when it has finished.")
            if not announced:
                # Info, not a warning: hosts of a fleet renewing together wait on
                # each other's leases all the time; nothing is wrong.
                logger.info("Waiting up to %gs for the fleet lock on %s: held by %s",
                            self.timeout, self.purpose, who)
                announced = True
            time.sleep(pause)
            pause = min(pause * 2, POLL_MAX)

    def _heartbeat(self, conn: Any, holder: str, stop: _Alarm) -> None:
        interval = max(self.ttl / 6, 0.05)
        while not stop.wait(interval):
            try:
                with self._guard:
                    updated = conn.execute(_BEAT, (self.ttl, self.name, holder)).rowcount
            except Exception as exc:  # noqa: BLE001 - any failure means the lease may lapse
                first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                logger.warning("Lost the fleet lock on %s: its heartbeat failed (%s)",
                               self.purpose, first)
                self._lost.set()
                return
            if updated != 1:
                logger.warning("Lost the fleet lock on %s: another host took it over after "
                               "it expired", self.purpose)
                self._lost.set()
                return

    def release(self) -> None:
        """Give the lease up (idempotent, never raises); its row goes, so waiters proceed."""
        stop, beat = self._stop, self._beat
        if stop is not None:
            stop.set()
        if beat is not None:
            beat.join(timeout=10)
        if stop is not None and (beat is None or not beat.is_alive()):
            stop.close()
        conn, holder = self._conn, self._holder
        self._conn = self._holder = self._beat = self._stop = None
        if conn is None:
            return
        with contextlib.suppress(Exception), self._guard:
            conn.execute("DELETE FROM leases WHERE name = %s AND holder = %s",
                         (self.name, holder))
        with contextlib.suppress(Exception):
            conn.close()


class _Alarm:
    """A stop flag whose timed wait is ``poll`` on a pipe (no clock deadline to fake;
    unlike ``select``, any descriptor number, however many a run has open)."""

    def __init__(self) -> None:
        self._read, self._write = os.pipe()  # close-on-exec: no plugin inherits them
        self._poll = select.poll()
        self._poll.register(self._read, select.POLLIN)

    def set(self) -> None:
        with contextlib.suppress(OSError):
            os.write(self._write, b"!")

    def wait(self, timeout: float) -> bool:
        """Whether the flag was set within ``timeout`` seconds."""
        return bool(self._poll.poll(timeout * 1000))

    def close(self) -> None:
        for fd in (self._read, self._write):
            with contextlib.suppress(OSError):
                os.close(fd)
