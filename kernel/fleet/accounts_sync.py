"""ACME accounts shared by the fleet: each host's ``accounts/`` and the store's rows, merged.

Why: a lineage renewed on another host must be renewed with the same ACME
account (the CA ties orders, rate limits and ARI to it), so every host needs
every account. Accounts are kept file for file in Certbot's layout
(``accounts/<server dir>/<id>/{meta,regr,private_key}.json``): the store
holds the three files, the key file sealed with ``--store-key-file``.

At the start of every fleet-mode run :func:`sync` copies what the store has
and this host lacks into ``accounts/``, and what this host has and the store
lacks into the store (a ``register`` made on this host). Accounts are never
overwritten on either side: an account is made once and its files do not
change except for ``regr.json`` (a contact update), which stays per host.

Rows come from a shared database: a server dir or account id that could
leave ``accounts/`` (``..``, an absolute path, odd characters) is refused.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from certkernel import fsutil
from certkernel.fleet.store_key import account_place

if TYPE_CHECKING:
    from certkernel.fleet.connect import Database

logger = logging.getLogger(__name__)

_ID = re.compile(r"[0-9a-f]{32}")
_PART = re.compile(r"[A-Za-z0-9._:\-\[\]]+")
FILES = ("meta.json", "regr.json", "private_key.json")


@dataclass(frozen=True)
class AccountFiles:
    server_dir: str
    account_id: str
    meta: str
    regr: str
    private_key: str = field(repr=False)


def _safe(server_dir: str, account_id: str) -> bool:
    parts = server_dir.split("/")
    return (_ID.fullmatch(account_id) is not None and bool(parts)
            and all(_PART.fullmatch(p) and p not in (".", "..") for p in parts))


def local_accounts(config_dir: str) -> list[AccountFiles]:
    """Every complete account dir under ``accounts/`` (incomplete ones are skipped)."""
    root = os.path.join(config_dir, "accounts")
    found: list[AccountFiles] = []
    for directory, _subdirs, files in os.walk(root):
        if not set(FILES) <= set(files):
            continue
        rel = os.path.relpath(directory, root).replace(os.sep, "/")
        server_dir, _, account_id = rel.rpartition("/")
        if not _safe(server_dir, account_id):
            continue
        texts = []
        for name in FILES:
            with open(os.path.join(directory, name), encoding="utf-8") as handle:
                texts.append(handle.read())
        found.append(AccountFiles(server_dir, account_id, *texts))
    return found


def _write_local(config_dir: str, account: AccountFiles) -> None:
    directory = os.path.join(config_dir, "accounts", *account.server_dir.split("/"),
                             account.account_id)
    fsutil.make_dirs(os.path.dirname(directory), 0o700)
    fsutil.make_dirs(directory, 0o700)
    fsutil.atomic_write(os.path.join(directory, "private_key.json"), account.private_key, 0o400)
    fsutil.atomic_write(os.path.join(directory, "meta.json"), account.meta, 0o644)
    fsutil.atomic_write(os.path.join(directory, "regr.json"), account.regr, 0o644)


def sync(db: Database, config_dir: str) -> tuple[int, int]:
    """Merge accounts both ways; returns (copied here, copied to the store)."""
    conn = db.shared()
    rows = conn.execute("SELECT server, account_id, meta, regr, private_key "
                        "FROM accounts").fetchall()
    local = {(a.server_dir, a.account_id): a for a in local_accounts(config_dir)}
    pulled = 0
    for server_dir, account_id, meta, regr, sealed in rows:
        if (server_dir, account_id) in local:
            continue
        if not _safe(server_dir, account_id):
            logger.warning("Ignoring an account row of the fleet store with an unsafe path: %r",
                           f"{server_dir}/{account_id}")
            continue
        key = db.key.open(bytes(sealed), account_place(server_dir, account_id)).decode()
        _write_local(config_dir, AccountFiles(server_dir, account_id, meta, regr, key))
        pulled += 1
    stored = {(row[0], row[1]) for row in rows}
    pushed = [a for k, a in local.items() if k not in stored]
    if pushed:
        with conn.transaction():
            for account in pushed:
                conn.execute(_INSERT, _row(db, account))
    return pulled, len(pushed)


_INSERT = """
INSERT INTO accounts (server, account_id, meta, regr, private_key) VALUES (%s, %s, %s, %s, %s)
ON CONFLICT (server, account_id) DO NOTHING
"""


def _row(db: Database, account: AccountFiles) -> tuple[Any, ...]:
    sealed = db.key.seal(account.private_key.encode(),
                         account_place(account.server_dir, account.account_id))
    return account.server_dir, account.account_id, account.meta, account.regr, sealed
