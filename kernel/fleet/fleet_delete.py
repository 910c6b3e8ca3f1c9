"""Deletion converging over the fleet: ``renew`` removes this host's copy of a deleted lineage.

Why tombstones and not "the store no longer has it": a store that is empty,
restored from an old backup, or not the fleet's at all (a wrong URL) has
none of this host's lineages either, and must remove nothing. ``delete``
leaves a tombstone naming every certificate the lineage had; a host removes
its copy only when its current certificate is one of them, that is when the
copy came from the store. A certificate of the same name this host made
alone is kept, with one warning line. Removal goes through the same local
removal ``delete`` uses (:func:`certkernel.fleet.materialize.remove_local`)
and runs no deploy hook: there is nothing left to deploy.
"""

from __future__ import annotations

import datetime
import logging
import os
from collections.abc import Iterable
from typing import TYPE_CHECKING

from certkernel.errors import Error
from certkernel.fleet import materialize
from certkernel.lineages.storage import ConfigDirs, Lineage

if TYPE_CHECKING:
    from certkernel.fleet.pg_store import PgStore, Tombstone

logger = logging.getLogger(__name__)


def remove_deleted(store: PgStore, kept: Iterable[str], *, quiet: bool) -> dict[str, str]:
    """Remove the local copies of lineages deleted from the fleet; returns failures by name.

    ``kept``: the store's lineages (a name created again is not deleted,
    whatever an old tombstone says).
    """
    alive = set(kept)
    failed: dict[str, str] = {}
    for stone in store.tombstones():
        if stone.name in alive:
            continue
        try:
            if _remove_if_ours(store.config_dir, stone, store.lock_timeout) and not quiet:
                print(f"{stone.name}: deleted from the fleet by {stone.deleted_by} at "
                      f"{_when(stone.deleted_at)}; removed here too", flush=True)
        except Error as exc:
            failed[stone.name] = str(exc)
            logger.error("Could not remove %s, deleted from the fleet: %s", stone.name, exc)
    return failed


def _remove_if_ours(config_dir: str, stone: Tombstone, lock_timeout: float) -> bool:
    """Remove the copy when its current certificate is one the deleted lineage had."""
    if not os.path.lexists(ConfigDirs(config_dir).conf_path(stone.name)):
        return False
    lock = materialize.sync_lock(config_dir, stone.name, max(lock_timeout, 5.0))
    lock.acquire()
    try:
        lineage = Lineage.load(config_dir, stone.name, repair=False)
        serial = f"{lineage.cert_info().serial:x}"
        if serial not in stone.serials:
            logger.warning(
                "%s: this host's certificate (serial %s) is not the one deleted from the "
                "fleet by %s at %s; keeping it (delete it here with 'certkernel delete "
                "--cert-name %s' if it is no longer wanted)", stone.name, serial,
                stone.deleted_by, _when(stone.deleted_at), stone.name)
            return False
        materialize.remove_local(config_dir, stone.name)
    finally:
        lock.release()
    return True


def _when(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
