"""A fleet on one machine: hosts with their own dirs, database role and responder.

Why here: ``bench/fleet.py`` and the CLI tests of fleet mode behind haproxy
(``tests/fleet_http/test_behind_haproxy.py``) run the same fleet: each host a
config dir, a role of the session's PostgreSQL and a ``certkernel responder``
on a free loopback port, stopped by its PID. The owner's view of the store
(:class:`Store`) counts what happened: versions made since a moment (one per
order), the current serials, and who answered each validation.
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.infra.haproxy import Haproxy
from tests.infra.pebble import Pebble
from tests.infra.postgres import OWNER, ClusterInfo
from tests.infra.responder import ResponderProcess

_PUBLISHED = re.compile(r"published the http-01 answer for token (\S+)")


@dataclass
class Host:
    """One host of the fleet: its folders, its database role and its responder."""

    label: str
    role: str
    base: Path
    store_args: list[str]
    responder: ResponderProcess | None = None

    @property
    def config_dir(self) -> Path:
        return self.base / "config"

    def dirs(self) -> list[str]:
        return ["--config-dir", str(self.config_dir), "--work-dir", str(self.base / "work"),
                "--logs-dir", str(self.base / "logs")]

    def argv(self, pebble: Pebble, *args: str) -> list[str]:
        return [sys.executable, "-m", "certkernel", *args, *self.dirs(), *self.store_args,
                "--server", pebble.directory_url, "--ca-bundle", pebble.ca_bundle, "-n"]

    @property
    def responder_port(self) -> int:
        assert self.responder is not None
        return self.responder.port

    def start_responder(self) -> None:
        """``certkernel responder`` on a free loopback port, with this host's dirs and store."""
        self.responder = ResponderProcess(self.base, extra=tuple(self.store_args),
                                          output=self.base / "responder.out").start()

    def stop_responder(self) -> None:
        if self.responder is not None and self.responder.proc is not None:
            self.responder.stop()

    def published_tokens(self) -> set[str]:
        """Tokens this host's runs published (its debug log), i.e. it ordered them."""
        found: set[str] = set()
        for log in (self.base / "logs").glob("letsencrypt.log*"):
            found.update(_PUBLISHED.findall(log.read_text(errors="replace")))
        return found

    def live_serials(self, names: list[str]) -> dict[str, str]:
        from cryptography import x509

        out = {}
        for name in names:
            path = self.config_dir / "live" / name / "cert.pem"
            if path.exists():
                cert = x509.load_pem_x509_certificate(path.read_bytes())
                out[name] = format(cert.serial_number, "x")
        return out


class Store:
    """The owner's view of the store database, for counting what happened."""

    def __init__(self, info: ClusterInfo, database: str) -> None:
        self.info, self.database = info, database

    def now(self) -> Any:
        with self.info.connect(OWNER, self.database) as conn:
            return conn.execute("SELECT now()").fetchone()[0]

    def orders_since(self, since: Any) -> Counter[str]:
        with self.info.connect(OWNER, self.database) as conn:
            rows = conn.execute("SELECT lineage, count(*) FROM versions WHERE created_at >= %s "
                                "GROUP BY lineage", (since,)).fetchall()
        return Counter({name: count for name, count in rows})

    def versions_of(self, name: str, since: Any) -> list[tuple[Any, ...]]:
        with self.info.connect(OWNER, self.database) as conn:
            return conn.execute("SELECT version, created_by, created_at FROM versions "
                                "WHERE lineage = %s AND created_at >= %s ORDER BY version",
                                (name, since)).fetchall()

    def last_version_at(self, since: Any) -> Any:
        with self.info.connect(OWNER, self.database) as conn:
            return conn.execute("SELECT max(created_at) FROM versions WHERE created_at >= %s",
                                (since,)).fetchone()[0]

    def current_serials(self) -> dict[str, str]:
        with self.info.connect(OWNER, self.database) as conn:
            rows = conn.execute(
                "SELECT v.lineage, v.serial FROM lineages l JOIN versions v "
                "ON v.lineage = l.name AND v.version = l.current_version").fetchall()
        return {name: serial.lower().lstrip("0") or "0" for name, serial in rows}


def converged(hosts: list[Host], store: Store, names: list[str]) -> int:
    """Lineages whose live/ serial is the store's current one on every host."""
    want = store.current_serials()
    seen = [h.live_serials(names) for h in hosts]
    return sum(1 for n in names
               if n in want and all(s.get(n, "").lstrip("0") == want[n] for s in seen))


def answered_elsewhere(hosts: list[Host], proxy: Haproxy, skip: int) -> tuple[int, int]:
    """(validations answered by a host other than the orderer, validations) since request ``skip``."""
    orderer = {tok: h.label for h in hosts for tok in h.published_tokens()}
    other = total = 0
    for backend, status, _, path in proxy.requests()[skip:]:
        if status != 200 or not path.startswith("/.well-known/acme-challenge/"):
            continue
        total += 1
        token = path.rsplit("/", 1)[-1]
        if orderer.get(token) not in (None, backend):
            other += 1
    return other, total


