"""Connections to the fleet store: the URL, its password file, the sealing key, the host's name.

Why a module of its own: every part of fleet mode (the lineage store, the
leases, the challenge board, ``store status``) connects the same way, and
the rules about secrets live in one place:

- the URL on the command line (or cli.ini, or ``CERTKERNEL_STORE``) carries
  no password, because argv is visible to every user of the host; the
  password comes from ``--store-password-file`` (read like other credential
  files, registered with the log filter);
- error messages show the URL without any password;
- every connection is in autocommit mode and each unit of work is an
  explicit transaction, so no connection sits "idle in transaction"
  holding row locks.
"""

from __future__ import annotations

import contextlib
import os
import queue
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

from certkernel.errors import ConfigurationError, StoreUnavailable
from certkernel.fleet import store_key
from certkernel.log import register_secret
from certkernel.runtime.plugin_secrets import read_secret_text

if TYPE_CHECKING:
    from certkernel.fleet.store_key import StoreKey

CONNECT_TIMEOUT = 10  # seconds; libpq's connect_timeout (an unreachable store fails fast)
PASSWORD_FLAG = "--store-password-file"
POOL_SIZE = 8  # idle connections kept for the challenge board
SCHEMES = ("postgresql", "postgres")


@dataclass(frozen=True)
class StoreSettings:
    """What a host needs to reach the store (all from flags, cli.ini or the environment)."""

    url: str
    key_file: str
    password_file: str | None = None
    host_id: str = ""


def check_url(url: str) -> str:
    """``url`` if it is a password-less ``postgresql://`` URL; ConfigurationError otherwise."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError as exc:
        raise ConfigurationError(f"--store: not a URL ({exc})") from None
    if parts.scheme not in SCHEMES:
        raise ConfigurationError(
            "--store: only postgresql://USER@HOST:PORT/DATABASE URLs are supported "
            f"(got {parts.scheme or 'no'} scheme)")
    if password is not None or "password" in parse_qs(parts.query):
        raise ConfigurationError(
            f"--store: put the password in {PASSWORD_FLAG}, not in the URL "
            "(command lines and environments are visible to other users of the host)")
    return url


def shown(url: str) -> str:
    """The URL for messages: scheme, user, host, port and database only."""
    try:
        parts = urlsplit(url)
        netloc = parts.hostname or ""
        if parts.port:
            netloc = f"{netloc}:{parts.port}"
        if parts.username:
            netloc = f"{parts.username}@{netloc}"
        return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
    except ValueError:
        return "(unparsable store URL)"


def default_host_id(config_dir: str) -> str:
    """This host's name in the fleet: the machine's name and its config dir."""
    return f"{socket.gethostname()}:{os.path.abspath(config_dir)}"


@dataclass
class Database:
    """Opens connections to one store; one connection per thread for plain work."""

    settings: StoreSettings
    key: StoreKey = field(repr=False)
    _password: str | None = field(default=None, repr=False)
    _local: threading.local = field(default_factory=threading.local, repr=False)
    _all: list[Any] = field(default_factory=list, repr=False)
    _guard: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _idle: queue.Queue[Any] = field(default_factory=lambda: queue.Queue(POOL_SIZE), repr=False)

    @classmethod
    def open(cls, settings: StoreSettings) -> Database:
        """Check the URL, read the password and the sealing key (no connection yet)."""
        check_url(settings.url)
        require_psycopg()
        password = None
        if settings.password_file:
            password = read_secret_text(os.path.expanduser(settings.password_file),
                                        PASSWORD_FLAG).strip()
            register_secret(password)
        return cls(settings, store_key.load(settings.key_file), password)

    def connect(self, purpose: str = "certkernel") -> Any:
        """A new autocommit connection (the caller closes it)."""
        import psycopg

        extra: dict[str, Any] = {}
        if self._password is not None:
            extra["password"] = self._password
        try:
            return psycopg.connect(self.settings.url, autocommit=True,
                                   connect_timeout=CONNECT_TIMEOUT,
                                   application_name=purpose[:60], **extra)
        except psycopg.Error as exc:
            raise unavailable(self.settings.url, exc) from None

    def shared(self) -> Any:
        """This thread's connection (made on first use, re-made when it broke)."""
        conn = getattr(self._local, "conn", None)
        if conn is None or conn.closed or conn.broken:
            conn = self.connect()
            self._local.conn = conn
            with self._guard:
                self._all.append(conn)
        return conn

    @contextlib.contextmanager
    def borrowed(self) -> Iterator[Any]:
        """A connection from a small pool of idle ones, for short work from many threads
        (the responder answers each request on a thread of its own)."""
        import psycopg

        try:
            conn = self._idle.get_nowait()
        except queue.Empty:
            conn = self.connect("certkernel board")
        try:
            yield conn
        except psycopg.OperationalError as exc:
            conn.close()
            raise unavailable(self.settings.url, exc) from None
        if conn.closed or conn.broken:
            return
        try:
            self._idle.put_nowait(conn)
        except queue.Full:
            conn.close()

    def close(self) -> None:
        with self._guard:
            conns, self._all = self._all, []
        while True:
            try:
                conns.append(self._idle.get_nowait())
            except queue.Empty:
                break
        for conn in conns:
            conn.close()


def require_psycopg() -> None:
    """Fleet mode's one extra dependency, named with the command that installs it."""
    import importlib.util
    import sys

    if importlib.util.find_spec("psycopg") is None:
        raise ConfigurationError(
            "--store needs the 'fleet' extra (psycopg is not installed): run "
            f"{sys.executable} -m pip install 'certkernel[fleet]'")


def unavailable(url: str, exc: BaseException) -> StoreUnavailable:
    """One line saying the store is unreachable, without any secret from the URL."""
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return StoreUnavailable(f"fleet store {shown(url)} is unreachable: {first}")


def jsonb(data: Any) -> Any:
    """``data`` as a value for a ``jsonb`` column (psycopg adapts dicts only when told)."""
    from psycopg.types.json import Jsonb

    return Jsonb(data)
