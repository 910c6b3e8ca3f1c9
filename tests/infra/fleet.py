"""Fleet stores for tests: a database per test folder, a store key, host roles.

Why here: the contract suites (``tests/infra/store_backends.py``), the fleet
tests and their child processes all open "the store of folder X" the same
way. Each folder gets its own database in the session's private cluster
(``tests/infra/postgres.py``), migrated by the owner role; hosts connect as
their own roles with a password file, as operators deploy them.

``python -m tests.infra.fleet hold BASE NAME TTL`` takes lineage NAME's fleet
lock with a lease of TTL seconds, prints ``held`` and keeps it (until killed).
``python -m tests.infra.fleet hold-save BASE NAME TTL DIR`` does the same, then,
on a line on its stdin, saves ``DIR/{cert,chain,fullchain}.pem`` as NAME's next
version under that lease and prints ``saved N`` or the error's one line (a
holder frozen past its lease, as a host that resumes in the middle of an order).
"""

from __future__ import annotations

import os
import secrets
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from certkernel.errors import Error
from certkernel.fleet.connect import Database, StoreSettings
from certkernel.fleet.pg_store import PgStore
from certkernel.fleet.store_key import new_key_text
from tests.infra.postgres import HOST_ROLES, running


@dataclass(frozen=True)
class FleetFiles:
    """What one host's command line needs: ``--store``, the password and key files."""

    url: str
    password_file: Path
    key_file: Path
    database: str

    def cli_args(self) -> list[str]:
        return ["--store", self.url, "--store-password-file", str(self.password_file),
                "--store-key-file", str(self.key_file)]


def fleet_files(base: Path, role: str = HOST_ROLES[0]) -> FleetFiles:
    """The store of folder ``base`` as host role ``role`` sees it (made on first use)."""
    info = running()
    database = info.store_database(str(base.resolve()))
    key_file = base / "store.key"
    if not key_file.exists():
        _write_once(key_file, new_key_text())
    return FleetFiles(info.url(role, database), info.password_file(role), key_file, database)


def _write_once(path: Path, text: str) -> None:
    """Create ``path`` (0600) unless another process was first; never a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    try:
        os.link(temp, path)
    except FileExistsError:
        pass
    finally:
        temp.unlink()


def open_pg_store(base: Path, lock_timeout: float, *, role: str = HOST_ROLES[0],
                  config_dir: Path | None = None, lease_ttl: float = 30.0) -> PgStore:
    files = fleet_files(base, role)
    local = config_dir or base / "etc"
    settings = StoreSettings(files.url, str(files.key_file), str(files.password_file))
    return PgStore(Database.open(settings), str(local), lock_timeout,
                   host_id=f"test:{local}", lease_ttl=lease_ttl)


def _hold(base: str, name: str, ttl: str) -> None:
    lock = open_pg_store(Path(base), 5.0, role=HOST_ROLES[1], lease_ttl=float(ttl)).lock(name)
    lock.acquire()
    print("held", flush=True)
    time.sleep(300)


def _hold_then_save(base: str, name: str, ttl: str, files: str) -> None:
    store = open_pg_store(Path(base), 5.0, role=HOST_ROLES[1], lease_ttl=float(ttl),
                          config_dir=Path(base) / "holder-etc")
    lineage = store.load(name)
    lock = store.lock(name)
    lock.acquire()
    print("held", flush=True)
    sys.stdin.readline()
    pem = {kind: (Path(files) / f"{kind}.pem").read_bytes()
           for kind in ("cert", "chain", "fullchain")}
    try:
        number = store.save_version(lineage, pem["cert"], pem["chain"], pem["fullchain"], None)
    except Error as exc:
        print(f"refused: {exc}", flush=True)
    else:
        print(f"saved {number}", flush=True)
    finally:
        lock.release()


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "hold":
        _hold(*sys.argv[2:])
    elif len(sys.argv) == 6 and sys.argv[1] == "hold-save":
        _hold_then_save(*sys.argv[2:])
    else:
        sys.exit("usage: python -m tests.infra.fleet hold BASE NAME TTL | "
                 "hold-save BASE NAME TTL DIR")
