"""Obtaining a certificate, the flow ``certonly`` and ``run`` share.

Names are validated and the plugin chosen before any network call; the
authenticator process starts while the ACME stack is imported, which is most
of the run's fixed cost. The flow fires the lifecycle events
(:mod:`certkernel.flows.lifecycle`) so shell hooks and extensions see every verb
alike; deploying is the caller's.
"""

from __future__ import annotations

import datetime
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from certkernel import errors
from certkernel.ca.acme_setup import open_account
from certkernel.config import Config
from certkernel.display import Display, say
from certkernel.flows.obtain import SavedCertificate, obtain, renewal_params
from certkernel.lineages.lineage_choice import Action, choose, refuse_test_cert_over_valid
from certkernel.lineages.storage import Lineage
from certkernel.lineages.store_choice import store_for
from certkernel.lock import held
from certkernel.names import lineage_name_for, normalize_names, split_domain_args
from certkernel.renewal.schedule_units import renewal_note
from certkernel.runtime.plugin_runtime import check_wildcards

logger = logging.getLogger(__name__)

if TYPE_CHECKING:
    from collections.abc import Callable

    import pluggy

    from certkernel.interfaces import LineageStore
    from certkernel.protocol.messages import Challenge
    from certkernel.runtime.plugin_runtime import PluginLauncher


PRELOAD_JOIN_SECONDS = 120.0


@contextmanager
def _preloading_acme() -> Iterator[threading.Thread]:
    """Import the ACME stack in the background while plugins start.

    The thread is always joined before the block is left, also on an
    early failure (port taken, missing webroot): an interpreter that exits
    while another thread is still importing C extensions can abort with
    SIGABRT (exit 134) instead of reporting the error with exit 1.
    """

    def load() -> None:
        # The libraries themselves: the kernel's ACME modules import them
        # only inside their functions, so importing those modules loads nothing.
        import acme.client  # noqa: F401
        import acme.messages  # noqa: F401
        import josepy  # noqa: F401

    # Not a daemon: a run that fails early (a refused plugin) would otherwise
    # exit while this thread is inside cryptography's import, and the forced
    # thread exit at shutdown aborts the process ("FATAL: exception not
    # rethrown", status -6). Waiting for an import to finish costs little.
    thread = threading.Thread(target=load, name="preload-acme", daemon=False)
    thread.start()
    try:
        yield thread
    finally:
        thread.join(PRELOAD_JOIN_SECONDS)


def requested_names(config: Config, display: Display) -> list[str]:
    """The names to certify: ``-d``, else the ``--cert-name`` lineage's, else asked."""
    raw = split_domain_args(config.domains)
    if not raw and config.certname:
        conf = os.path.join(config.config_dir, "renewal", f"{config.certname}.conf")
        if os.path.exists(conf):
            return Lineage.load(config.config_dir, config.certname).names
    if not raw:
        if not display.interactive:
            raise errors.MissingFlag(
                "No domain names were given: pass them with -d/--domains"
            )
        ok, text = display.input(
            "Please enter the domain name(s) you would like on your certificate "
            "(comma and/or space separated)", cli_flag="--domains"
        )
        if not ok:
            raise errors.Error("Operation canceled.")
        raw = split_domain_args(text.replace(" ", ",").split(","))
    return [ident.value for ident in normalize_names(raw)]


@dataclass
class Outcome:
    """What :func:`obtain_cert` decided (``action``) and the lineage it left in place."""

    action: Action
    lineage: Lineage | None
    names: list[str]
    # the lineage a dry run renewed without saving (its deploy hooks may run: --run-deploy-hooks)
    tested: Lineage | None = None


def obtain_cert(config: Config, display: Display, launcher: PluginLauncher,
                auth_name: str, inst_name: str | None, events: pluggy.HookRelay) -> Outcome:
    """Decide, obtain and save; shared by ``certonly`` and ``run``.

    Fires ``before_obtain`` (pre hooks), then ``lineage_obtained`` for a new
    lineage or ``lineage_renewed`` for an existing one, or ``renewal_failed``;
    deploying is the caller's (``lineage_deployed``, see :func:`deployed`).
    """
    names = requested_names(config, display)
    check_wildcards(config, names, auth_name)
    with _preloading_acme() as preload:
        return _obtain_cert(config, display, launcher, auth_name, inst_name, events,
                            names, preload)


def _obtain_cert(config: Config, display: Display, launcher: PluginLauncher,
                 auth_name: str, inst_name: str | None, events: pluggy.HookRelay,
                 names: list[str], preload: threading.Thread) -> Outcome:
    choice = choose(config, names, display)
    if choice.action in (Action.KEEP, Action.REINSTALL):
        return Outcome(choice.action, choice.lineage, names)
    refuse_test_cert_over_valid(config, None if choice.action == Action.NEW else choice.lineage)
    lineage = None if choice.action == Action.NEW else choice.lineage
    name = lineage.name if lineage is not None else lineage_name_for(names, config.certname)
    events.before_obtain(config=config, names=names, lineage_name=name)
    try:
        saved = _obtain_locked(config, display, launcher, auth_name, inst_name,
                               names, name, lineage, preload)
    except errors.Error as exc:
        events.renewal_failed(config=config, lineage_name=name, names=names, reason=str(exc))
        raise
    if not isinstance(saved, SavedCertificate):
        # Another run made this certificate while this one waited for the lock.
        return Outcome(Action.KEEP, saved, saved.names)
    if lineage is None:
        events.lineage_obtained(config=config, lineage=saved.lineage, names=saved.names)
    else:
        events.lineage_renewed(config=config, lineage=saved.lineage, names=saved.names,
                               dry_run=config.dry_run)
    return Outcome(choice.action, saved.lineage, saved.names,
                   tested=lineage if config.dry_run else None)


def _obtain_locked(config: Config, display: Display, launcher: PluginLauncher,
                   auth_name: str, inst_name: str | None, names: list[str], name: str,
                   lineage: Lineage | None,
                   preload: threading.Thread) -> SavedCertificate | Lineage:
    """Start the authenticator, open the account and obtain under the lineage's lock.

    Returns the stored lineage instead when, once the lock is ours, it shows
    that another run already made what this one set out to make.
    """
    authenticator = launcher.authenticator(auth_name)
    preload.join(PRELOAD_JOIN_SECONDS)
    acct = open_account(config, display)
    params = renewal_params(config, acct.account.id, acct.session.settings.server,
                            auth_name, inst_name)
    store = store_for(config)
    with held(store.lock(name)):
        current = recheck(config, store, name, names, lineage)
        if current is not None:
            logger.info("%s was made by another run meanwhile; keeping it", current.name)
            return current
        if lineage is not None:
            lineage = store.load(name)  # the version to build on is the one stored now
        return obtain(config, acct, authenticator, names, lineage=lineage,
                      lineage_name=name, params=params, store=store,
                      before_answer=debug_pause(display) if config.debug_challenges
                      else None)


def recheck(config: Config, store: LineageStore, name: str, names: list[str],
            planned: Lineage | None) -> Lineage | None:
    """Re-read under the lock: the stored lineage if another run already made it.

    The choice (new lineage, or a new version of ``planned``) was made
    before the lock was ours. A second ``certonly`` for the same names that
    waited on the first must not order again: it finds the lineage (or a
    newer version than it planned on) carrying exactly the requested names
    and keeps it. ``--force-renewal`` and ``--duplicate`` still order.
    """
    if config.renew_by_default or config.duplicate:
        return None
    try:
        current = store.load(name)
    except errors.LineageNotFound:
        if planned is not None:
            raise
        return None
    if planned is not None and current.version == planned.version:
        return None
    return current if sorted(current.names) == sorted(names) else None


def deployed(config: Config, events: pluggy.HookRelay, outcome: Outcome) -> None:
    """The obtained certificate is in use: fire ``lineage_deployed`` (deploy hooks).

    Never for a kept or reinstalled certificate; in a dry run only with
    ``--run-deploy-hooks``, on the current certificate (Certbot 2.x).
    """
    if outcome.action in (Action.KEEP, Action.REINSTALL):
        return
    if outcome.lineage is not None:
        events.lineage_deployed(config=config, lineage=outcome.lineage,
                                names=outcome.lineage.names)
    elif outcome.tested is not None and config.run_deploy_hooks:
        events.lineage_deployed(config=config, lineage=outcome.tested,
                                names=outcome.tested.names)


def debug_pause(display: Display) -> Callable[[list[Challenge]], None]:
    """``--debug-challenges``: show what was published and wait before the CA looks."""

    def pause(challenges: list[Challenge]) -> None:
        lines = []
        for c in challenges:
            if c.type == "dns-01":
                lines.append(f"  {c.validation_domain_name}. TXT \"{c.validation}\"")
            elif c.type == "http-01":
                lines.append(f"  http://{c.identifier}{c.uri_path} -> {c.validation}")
            else:
                lines.append(f"  {c.identifier}: {c.type}")
        display.notification(
            "Challenges loaded. Press continue to submit to CA.\n"
            "The following challenges are published:\n" + "\n".join(lines),
            pause=True, wrap=False)

    return pause


def report_saved(config: Config, outcome: Outcome) -> None:
    if config.dry_run:
        say(config, "The dry run was successful.")
        return
    lineage = outcome.lineage
    assert lineage is not None
    expiry = lineage.validity()[1].astimezone(datetime.UTC).strftime("%Y-%m-%d")
    say(config,
        "Successfully received certificate.\n"
        f"Certificate is saved at: {lineage.fullchain_path}\n"
        f"Key is saved at:         {lineage.key_path}\n"
        f"This certificate expires on {expiry}.\n"
        "These files will be updated when the certificate renews.")
    say(config, renewal_note())
