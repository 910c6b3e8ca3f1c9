"""Renewing the due lineages: what ``renew`` and ``reconfigure`` share.

The lineages run on a bounded thread pool sharing plugin processes and ACME
sessions (:mod:`certkernel.renewal.renewal_runner`), inside one lifecycle (shell
hooks and extensions see the same events), with the kernel's checkpoints
restoring a failed deployment.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from certkernel import errors
from certkernel.checkpoints.reverter import Reverter
from certkernel.config import Config
from certkernel.display import Display, on_terminal, say
from certkernel.flows.deploy_flow import recover_interrupted
from certkernel.flows.lifecycle import lifecycle
from certkernel.lineages.store_choice import store_for
from certkernel.progress import printer as progress_printer
from certkernel.renewal.renew_result import Result, Status
from certkernel.renewal.renewal_runner import RenewalRunner
from certkernel.runtime.plugin_runtime import PluginLauncher

if TYPE_CHECKING:
    from certkernel.interfaces import LineageStore
    from certkernel.lineages.storage import Lineage
    from certkernel.renewal.renewal_plan import Plan


MAX_WORKERS = 8


def workers(count: int) -> int:
    """Pool size: ``CERTKERNEL_RENEW_WORKERS`` or up to 8, never more than the lineages."""
    raw = os.environ.get("CERTKERNEL_RENEW_WORKERS", "")
    wanted = int(raw) if raw.isdigit() and int(raw) > 0 else MAX_WORKERS
    return max(1, min(wanted, count))


def renew_due(config: Config, plan: Plan, store: LineageStore | None = None,
              synced: Callable[[Sequence[Result]], Sequence[Lineage]] | None = None,
              ) -> list[Result]:
    """Renew the plan's due lineages on a bounded pool, then deploy them; one Result each.

    Fleet mode passes its ``store`` and ``synced``: given the results, the
    lineages another host renewed that this run brought into ``live/``; they
    are deployed with the renewed ones (a failure to deploy one is a failed
    Result too).
    """
    display = Display.from_config(config)
    show = on_terminal() and not config.quiet
    progress = (lambda text: say(config, text)) if show else None
    total = len(plan.due)
    results: list[Result] = []
    with lifecycle(config, "renew") as events:
        # The kernel's checkpoints: installers (and nginx/apache http-01) register
        # every file they change, so a failed deployment is restored kernel-side.
        with Reverter(config.work_dir, lock_timeout=config.lock_timeout) as reverter, \
                PluginLauncher(config, display, checkpoints=reverter,
                               on_progress=progress_printer(display)) as launcher:
            if not config.dry_run:
                recover_interrupted(config, reverter)
            launcher.expect(expected_configs(config, plan))
            runner = RenewalRunner(config, display, launcher, events, progress, checkpoints=reverter,
                                   notify=lambda text: display.notification(text, wrap=False),
                                   store=store if store is not None else store_for(config))
            with ThreadPoolExecutor(workers(total), thread_name_prefix="renew") as pool:
                futures = [pool.submit(runner.renew, lineage, n, total)
                           for n, lineage in enumerate(plan.due, 1)]
                results = [f.result() for f in futures]
            others = list(synced(results)) if synced is not None else []
            for lineage in others:
                runner.deploy_synced(lineage)
            failures = runner.deploy_all()
            apply_deploy_failures(results, failures)
            results += [Result(lin.name, Status.FAILED, lin.fullchain_path, list(lin.names),
                               failures[lin.name]) for lin in others if lin.name in failures]
    return results


def expected_configs(config: Config, plan: Plan) -> list[Config]:
    """The due lineages' configs, when a plugin may serve several of them from one process.

    ``PluginLauncher.expect``: a process shared by lineages is sandboxed
    once, so it must know all their roots when it starts. A lineage whose
    conf cannot be read is left out here and fails on its own turn.
    """
    if not any(m.per_domain_from_challenge for m in config.manifests.values()):
        return []
    found = []
    for lineage in plan.due:
        try:
            # What lineage_config builds, less the account choice (which logs,
            # and decides nothing about plugins): options and served settings.
            found.append(config.with_renewal_conf(lineage.renewalparams.as_dict(),
                                                  lineage.renewal_conf_path))
        except errors.Error:
            continue
    return found


def apply_deploy_failures(results: Sequence[Result], failures: dict[str, str]) -> None:
    for result in results:
        if result.name in failures:
            result.status = Status.FAILED
            result.reason = failures[result.name]
