"""``certkernel renew``: renew every lineage that is due, from cron or by hand.

The common case — nothing due — reads the renewal confs and cert validity
only, never touches the network and never imports ``acme``. When something
is due, the lineages run on a bounded thread pool sharing plugin processes
and ACME sessions (see :mod:`certkernel.renewal.renewal_runner`); shell hooks and
in-process extensions observe the same lifecycle events
(:mod:`certkernel.events`). The summary follows Certbot's wording, and the
exit code is 1 when any lineage (or its conf) could not be renewed.
"""

from __future__ import annotations

import datetime
import json
import logging
import os
import random
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from certkernel import metrics
from certkernel.config import Config
from certkernel.display import on_terminal, say
from certkernel.renewal import renew_report
from certkernel.renewal.renew_result import Result, Status
from certkernel.renewal.renewal_plan import Plan, make_plan

if TYPE_CHECKING:
    from certkernel.fleet.fleet_renew import FleetRun

logger = logging.getLogger(__name__)

RULE = "- " * 40
MAX_RANDOM_SLEEP = 480.0  # Certbot's 8 minutes


def _random_sleep(config: Config) -> None:
    """Spread unattended runs over time, as Certbot does; never on a terminal."""
    if not config.random_sleep_on_renew or on_terminal() or sys.stdin.isatty():
        return
    delay = random.uniform(1.0, MAX_RANDOM_SLEEP)  # noqa: S311 - not security relevant
    logger.info("Non-interactive renewal: random delay of %.0f seconds", delay)
    time.sleep(delay)


def run(config: Config) -> int:
    fleet: FleetRun | None = None
    if config.store:  # fleet mode (docs/fleet.md): converge with the store first
        # Deferred (tests/kernel/test_heavy_imports.py lists it): fleet mode's store
        # code (PostgreSQL connections, leases, sealing) is for --store runs only.
        from certkernel.fleet import fleet_renew

        fleet = fleet_renew.prepare(config)
        config = fleet.config
    # What is due goes by the store's clock: the database's in fleet mode.
    plan = make_plan(config, fleet.now() if fleet is not None else None)
    for path, message in plan.broken:
        sys.stderr.write(f"Renewal configuration file {path} is broken: {message}. Skipping.\n")
    results: list[Result] = []
    if plan.due or (fleet is not None and fleet.has_synced):
        if config.dry_run and plan.due:
            say(config, "Simulating renewal of existing certificates (dry run).")
        if plan.due:
            _random_sleep(config)
        # Deferred (tests/kernel/test_heavy_imports.py
        # lists it): what renewing needs (plugin host, protocol registry,
        # checkpoints, lifecycle) costs ~50 ms to import, which the cron run with
        # nothing due (bench/renew.py) must not pay.
        from certkernel.renewal.renew_flow import renew_due

        results = renew_due(config, plan, **(fleet.renew_args() if fleet else {}))
    _observe(config, plan, results)
    failed = any(r.status == Status.FAILED for r in results)
    fleet_failed = 0
    if fleet is not None:
        fleet_renew.report_synced(config, fleet, results)
        fleet_renew.share_renewal_info(fleet)
        fleet_failed = fleet_renew.exit_status(fleet, bool(plan.due))
    return 1 if failed or plan.broken or fleet_failed else 0


def _observe(config: Config, plan: Plan, results: Sequence[Result]) -> None:
    """The summary (text or ``--json``), then the metrics file (never on a dry run)."""
    if config.json:
        sys.stdout.write(json.dumps(renew_report.report(plan, results, config.dry_run),
                                    indent=2) + "\n")
    else:
        _summary(config, plan, results)
    if not config.dry_run:
        metrics.write(config.metrics_file, config.work_dir, config.config_dir,
                      renew_report.attempts(results))


def _expiry(when: datetime.datetime) -> str:
    return when.astimezone(datetime.UTC).strftime("%Y-%m-%d")


def _summary(config: Config, plan: Plan, results: Sequence[Result]) -> None:
    """Certbot's summary: not due, renewed, failed (with reasons), broken confs."""
    renewed = [r for r in results if r.status == Status.RENEWED]
    failed = [r for r in results if r.status == Status.FAILED]
    late = [r for r in results if r.status == Status.NOT_DUE]
    lines: list[str] = [RULE]
    if config.dry_run:
        lines.append("** DRY RUN: simulating 'certkernel renew' close to cert expiry")
        lines.append("**          (The test certificates below have not been saved.)")
        lines.append("")
    if plan.not_due or late:
        lines.append("The following certificates are not due for renewal yet:")
        for item in plan.not_due:
            lines.append(f"  {item.fullchain_path} expires on "
                         f"{_expiry(item.expiry)} (skipped)")
        for result in late:
            lines.append(f"  {result.fullchain} (renewed by another run meanwhile; skipped)")
    for item in plan.disabled:
        lines.append(f"  {item.fullchain_path} has autorenew disabled (skipped)")
    if not results:
        lines.append("No renewals were attempted.")
    elif not failed:
        what = "simulated renewals" if config.dry_run else "renewals"
        lines.append(f"Congratulations, all {what} succeeded:")
        lines += [f"  {r.fullchain} (success)" for r in renewed]
    else:
        if renewed:
            lines.append("The following certificates were successfully renewed:")
            lines += [f"  {r.fullchain} (success)" for r in renewed]
        else:
            lines.append("All renewals failed. The following certificates could not be renewed:")
        if renewed:
            lines.append("The following certificates could not be renewed:")
        lines += [f"  {r.fullchain} (failure): {r.reason}" for r in failed]
    if plan.broken:
        lines.append("Additionally, the following renewal configurations were invalid:")
        lines += [f"  {path} (parsefail): {message}" for path, message in plan.broken]
    lines.append(RULE)
    if failed or plan.broken:
        lines.append(f"{len(failed)} renew failure(s), {len(plan.broken)} parse failure(s)")
        lines.append(f"See the logfile {os.path.join(config.logs_dir, 'letsencrypt.log')} "
                     "for details.")
        sys.stdout.flush()
        sys.stderr.write("\n".join(lines) + "\n")
        sys.stderr.flush()
        return
    say(config, "\n".join(lines))
