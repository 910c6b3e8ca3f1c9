"""``renew`` in fleet mode: converge first, renew once per fleet, deploy what changed.

What each ``renew`` of each host does, due or not:

1. Convergence: every lineage of the store is brought into this host's
   ``--config-dir`` at the store's current version (:meth:`PgStore.sync`),
   with the renewal information (ARI) another host fetched for it
   (:mod:`certkernel.fleet.ari_share`).
2. The usual plan and renewal, through the store: each due lineage is renewed
   under its fleet lease, after a re-read (the renewal runner's re-check), so
   a lineage another host renewed meanwhile is only synced, never ordered
   twice.
3. Every lineage whose ``live/`` changed because another host renewed it
   (found in step 1, or in the re-check of step 2) is deployed as if renewed
   here: the installer's ``renew_deploy`` with one reload per installer, then
   the deploy hooks.

Between 1 and 2, the copies of lineages deleted from the fleet are removed
(:mod:`certkernel.fleet.fleet_delete`); a removed lineage deploys nothing.

When the store cannot be reached, the run says so in one line and renews
from the local layout alone; its exit status is then 1 if anything was due
(the fleet may renew it twice, and the operator should know).
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from certkernel.errors import StorageError, StoreUnavailable
from certkernel.fleet import fleet_delete
from certkernel.fleet.store_open import open_store
from certkernel.lineages.storage import Lineage
from certkernel.renewal.renew_result import Result, Status

if TYPE_CHECKING:
    from certkernel.config import Config
    from certkernel.fleet.pg_store import PgStore

logger = logging.getLogger(__name__)


@dataclass
class FleetRun:
    """The fleet side of one renew run."""

    config: Config
    store: PgStore | None = None
    unreachable: str = ""
    failed: dict[str, str] = field(default_factory=dict)
    deployed: list[Lineage] = field(default_factory=list)

    def renew_args(self) -> dict[str, Any]:
        """What :func:`certkernel.renewal.renew_flow.renew_due` needs in fleet mode."""
        if self.store is None:
            return {}
        return {"store": self.store, "synced": self.synced}

    def now(self) -> datetime.datetime:
        """The clock that decides what is due: the database's, or this host's when the
        store could not be reached (the run then renews from the local layout)."""
        if self.store is None:
            return datetime.datetime.now(datetime.UTC)
        return self.store.now()

    @property
    def has_synced(self) -> bool:
        return bool(self.store is not None and self.store.synced_changes)

    def synced(self, results: Sequence[Result]) -> list[Lineage]:
        """Lineages another host renewed that this run brought into ``live/``."""
        if self.store is None:
            return []
        here = {r.name for r in results if r.status == Status.RENEWED}
        names = sorted(set(self.store.synced_changes) - here - set(self.failed))
        found = []
        for name in names:
            try:
                found.append(Lineage.load(self.config.config_dir, name))
            except StorageError as exc:
                self.failed[name] = str(exc)
        self.deployed = found
        return found


# Beyond this, a host's clock is worth a line: renew goes by the database's, but
# TLS, logs, hooks and the other commands still go by this host's.
SKEW_WARNING = datetime.timedelta(minutes=5)


def clock_note(host_now: datetime.datetime, store_now: datetime.datetime) -> str | None:
    """One line when this host's clock is far from the database's, else None."""
    skew = host_now - store_now
    if abs(skew) <= SKEW_WARNING:
        return None
    seconds = abs(skew.total_seconds())
    size = (f"{seconds / 86400:.0f} days" if seconds >= 2 * 86400 else
            f"{seconds / 3600:.0f} h" if seconds >= 3600 else f"{seconds / 60:.0f} min")
    side = "ahead of" if skew > datetime.timedelta(0) else "behind"
    return (f"This host's clock is {size} {side} the fleet store's (the database's): "
            "renew decides what is due by the database's clock, but TLS, logs and the other "
            "commands go by this host's; keep the fleet's hosts on NTP")


def prepare(config: Config) -> FleetRun:
    """Open the store and converge; on an unreachable store, fall back to local (one line)."""
    try:
        store = open_store(config)
        note = clock_note(datetime.datetime.now(datetime.UTC), store.opened_at)
        if note:
            logger.warning("%s", note)  # the console's warnings and the log file
        run = FleetRun(config, store)
        names = store.names()
        for name in names:
            try:
                store.sync(name)
            except StoreUnavailable:
                raise
            except StorageError as exc:
                run.failed[name] = str(exc)
                sys.stderr.write(f"Could not bring {name} from the fleet store: {exc}\n")
        run.failed.update(fleet_delete.remove_deleted(store, names, quiet=config.quiet))
        store.pull_renewal_info()
    except StoreUnavailable as exc:
        line = f"{exc}; renewing from the local layout in {config.config_dir} only"
        sys.stderr.write(line + "\n")
        return FleetRun(dataclasses.replace(config, store=None), unreachable=line)
    return run


def share_renewal_info(run: FleetRun) -> None:
    """Offer what this run learnt from the CA (windows refreshed by the plan, or fetched
    after a renewal) to the other hosts, so they need not ask again."""
    if run.store is not None:
        run.store.offer_renewal_info()


def exit_status(run: FleetRun, anything_due: bool) -> int:
    """1 when the fleet side failed: a lineage not synced, or due while the store was away."""
    return 1 if run.failed or (run.unreachable and anything_due) else 0


def report_synced(config: Config, run: FleetRun, results: Sequence[Result]) -> None:
    """One line per lineage another host renewed and this host now serves."""
    failed = {r.name for r in results if r.status == Status.FAILED}
    for lineage in run.deployed:
        if lineage.name not in failed and not config.quiet:
            print(f"{lineage.name}: renewed by another host of the fleet; version "
                  f"{lineage.version} is now in {lineage.live_dir} here (deployed)", flush=True)
