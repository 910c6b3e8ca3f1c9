"""Which lineages ``renew`` works on, decided without the network.

A host may have thousands of lineages and cron runs ``renew`` twice a day;
almost always nothing is due. So the decision first asks the renewal cache
(:mod:`certkernel.renewal.renewal_cache`: a few ``stat``/``readlink`` calls per
lineage), and only for lineages it cannot vouch for reads the renewal conf
(plain reader) and the current cert's validity (stdlib parse). It imports
neither ``acme`` nor ``cryptography``, and builds a per-lineage Config only
for the lineages that will actually be renewed. A due lineage is always
loaded from its files. A conf or lineage that does not load is reported and
skipped; the others go on.
"""

from __future__ import annotations

import datetime
import logging
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from certkernel import errors
from certkernel.ca import ari, revocations
from certkernel.config import Config
from certkernel.lineages.storage import ConfigDirs, Lineage, conf_paths
from certkernel.renewal.renewal_cache import RenewalCache, from_micros, micros

if TYPE_CHECKING:
    from certkernel.lineages.storage import Lineage

logger = logging.getLogger(__name__)


@dataclass
class NotDue:
    """A lineage left alone (not due, or autorenew off), as the summary names it."""

    name: str
    fullchain_path: str
    expiry: datetime.datetime


@dataclass
class Plan:
    """What one ``renew`` run will do, and why it leaves the rest."""

    due: list[Lineage] = field(default_factory=list)
    not_due: list[NotDue] = field(default_factory=list)
    disabled: list[NotDue] = field(default_factory=list)  # autorenew = False
    broken: list[tuple[str, str]] = field(default_factory=list)  # (conf path, message)
    reasons: dict[str, str] = field(default_factory=dict)  # lineage name -> why renewed


def wanted(config: Config, lineage: Lineage, now: datetime.datetime | None = None,
           decision: ari.Decision | None = None) -> tuple[bool, str]:
    """(renew it?, why) following Certbot: forced, due, or simulated in a dry run.

    ``decision`` is the lineage's ARI cache (read from disk when not given);
    this never touches the network.
    """
    if config.renew_by_default:
        return True, "forced with --force-renewal"
    if lineage.conf.autorenew:
        due, why = is_due(lineage, now, decision)
        if due:
            return True, why
    if config.dry_run:
        return True, "not due, but simulated for the dry run"
    return False, "not due"


def is_due(lineage: Lineage, now: datetime.datetime | None = None,
           decision: ari.Decision | None = None) -> tuple[bool, str]:
    """Due by the CA's renewal window when known, else by expiry (Certbot's rule).

    With a window, an explicit ``renew_before_expiry`` in the conf still
    renews (the operator asked for it, and Certbot does the same); the
    default lifetime fraction applies only when the CA gave no window.
    """
    now = now or datetime.datetime.now(datetime.UTC)
    if now >= lineage.not_after:
        return True, "due for renewal (expired)"
    if is_revoked(lineage):
        return True, "due for renewal (the certificate was revoked)"
    decision = decision if decision is not None else ari.decide(lineage)
    if decision.has_window:
        if decision.due(now):
            return True, decision.reason()
        interval = lineage.conf.renew_before_expiry_interval()
        if interval is not None and now >= lineage.not_after - interval:
            return True, "due for renewal (renew_before_expiry)"
        return False, "not due"
    return due_for_renewal(lineage, now), "due for renewal"


def is_revoked(lineage: Lineage) -> bool:
    """Whether the current certificate was revoked (Certbot renews a revoked cert).

    Known from the record ``revoke --no-delete-after-revoke`` keeps in the
    archive (:mod:`certkernel.ca.revocations`); the certificate is parsed only
    when that record exists, so the common path stays cheap. Writing the
    record changes the archive directory, so the renewal cache sees it.
    """
    if not os.path.exists(os.path.join(lineage.archive_dir, revocations.FILE_NAME)):
        return False
    try:
        serial = lineage.cert_info().serial
    except (errors.Error, OSError, ValueError):
        return False
    return revocations.is_revoked(lineage.archive_dir, serial)


def not_due_before(lineage: Lineage, decision: ari.Decision) -> datetime.datetime | None:
    """A time before which :func:`is_due` stays false and the ARI entry stays fresh.

    Every way :func:`is_due` can turn true starts at one of these instants:
    expiry, the expiry rule's threshold (``renew_before_expiry`` or the
    lifetime fraction), or the start of the CA's window (its chosen time
    and its "ends before the next run" rule both lie after it); the entry
    is refreshed from the network at ``next_check``. Until the earliest of
    them, a lineage found not due stays not due. None without an ARI entry
    (it is fetched now). Keep this in step with :func:`is_due`.
    """
    state = decision.state
    if state is None:
        return None
    if is_revoked(lineage):
        return lineage.not_before  # due already
    limits = [lineage.not_after, renewal_due_at(lineage), state.next_check]
    if state.window is not None:
        limits.append(state.window.start)
    return min(limits)


def _quick(lineage: Lineage, raw: Any) -> Any:
    """The renewal cache's quick value: what the summary needs and until when it holds."""
    until = None
    if lineage.conf.autorenew:
        horizon = not_due_before(lineage, _ari_decision(raw))
        until = None if horizon is None else micros(horizon)
    return [lineage.name, lineage.fullchain_path, micros(lineage.not_after),
            lineage.conf.autorenew, until]


def _skipped(quick: Any, now: datetime.datetime) -> tuple[NotDue, bool] | None:
    """``(entry, autorenew)`` when the quick value decides "skip" at ``now``, else None."""
    try:
        name, fullchain, not_after, autorenew, until = quick
        if not (isinstance(name, str) and isinstance(fullchain, str)
                and isinstance(autorenew, bool)):
            return None
        if autorenew and (until is None or now >= from_micros(until)):
            return None
        return NotDue(name, fullchain, from_micros(not_after)), autorenew
    except (TypeError, ValueError, OverflowError):
        return None


def _asks_ca(config: Config, lineage: Lineage, now: datetime.datetime) -> bool:
    """Whether the decision depends on renewal information we would fetch."""
    return (not config.renew_by_default and not config.dry_run and lineage.conf.autorenew
            and now < lineage.not_after)


def _decisions(config: Config, known: list[tuple[Lineage, ari.Decision]],
               now: datetime.datetime) -> dict[str, ari.Decision]:
    """Each lineage's ARI cache; stale ones are refreshed (network) when it matters."""
    decisions = {lin.name: dec for lin, dec in known if _asks_ca(config, lin, now)}
    stale = [lin for lin, _dec in known
             if lin.name in decisions and decisions[lin.name].stale(now)]
    if stale:
        # Deferred (tests/kernel/test_heavy_imports.py lists it): fetching renewal
        # information needs the ACME session modules, which a run with nothing
        # near its window (bench/renew.py, none due) must not import.
        from certkernel.ca.ari_fetch import Refresher

        refresher = Refresher(config, now)
        fresh = refresher.refresh_all([(lin, decisions[lin.name].state) for lin in stale])
        for lin, state in zip(stale, fresh, strict=True):
            if state is not None:
                decisions[lin.name] = ari.Decision(state)
        logger.debug("renewal information: %d refreshed, %d directory fetch(es)",
                     len(stale), refresher.directory_fetches)
    return decisions


def _ari_json(lineage: Lineage) -> Any:
    """The lineage's stored ARI state as JSON (what the renewal cache keeps with it)."""
    state = ari.load(lineage)
    return None if state is None else state.to_json()


def _ari_decision(raw: Any) -> ari.Decision:
    return ari.Decision(None if raw is None else ari.AriState.from_json(raw))


def _wanted_conf_paths(config: Config) -> list[str]:
    """The renewal confs to look at: only ``--cert-name``'s (which must exist), or all."""
    if not config.certname:
        return conf_paths(config.config_dir)
    path = ConfigDirs(config.config_dir).conf_path(config.certname)
    if not os.path.exists(path):
        raise errors.ConfigurationError(
            f"No certificate found with name {config.certname} (expected {path})."
        )
    return [path]


def make_plan(config: Config, now: datetime.datetime | None = None) -> Plan:
    """Scan the lineages (or only ``--cert-name``) and sort them into the plan.

    Lineages come from the renewal cache when their files are unchanged,
    else from disk (and are recorded). Lineages that turn out due are read
    again from their files before the plan hands them to the runner.
    """
    plan = Plan()
    now = now or datetime.datetime.now(datetime.UTC)
    paths = _wanted_conf_paths(config)
    cache = RenewalCache.open(config.config_dir)
    # A forced or simulated run takes every lineage: reading the cache would not save a read.
    use_cache = not (config.renew_by_default or config.dry_run)
    loaded: list[tuple[str, Lineage, ari.Decision, bool]] = []  # (.., from cache?)
    for path in paths:
        if use_cache:
            skipped = _skipped(cache.quick(path), now)
            if skipped is not None:
                (plan.not_due if skipped[1] else plan.disabled).append(skipped[0])
                continue
        hit = cache.lookup(path) if use_cache else None
        try:
            if hit is not None:
                lineage, raw = hit
                decision = _ari_decision(raw)
            else:
                lineage, raw = cache.load(path, _ari_json, _quick)
                decision = _ari_decision(raw)
        except (errors.StorageError, errors.ValidationError, OSError, ValueError,
                KeyError, TypeError) as exc:
            logger.debug("cannot load %s", path, exc_info=True)
            plan.broken.append((path, _one_line(exc)))
            continue
        loaded.append((path, lineage, decision, hit is not None))
    if not config.certname:
        cache.keep_only(paths)
    cache.save()
    decisions = _decisions(config, [(lin, dec) for _p, lin, dec, _c in loaded], now)
    for path, lineage, _dec, cached in loaded:
        try:
            renew, why = wanted(config, lineage, now, decisions.get(lineage.name))
            expiry = lineage.not_after
            if renew and cached:
                lineage = Lineage.from_conf(config.config_dir, path)
                lineage.validity()
        except (errors.StorageError, errors.ValidationError, OSError, ValueError) as exc:
            logger.debug("cannot load %s", path, exc_info=True)
            plan.broken.append((path, _one_line(exc)))
            continue
        if renew:
            plan.due.append(lineage)
            plan.reasons[lineage.name] = why
        else:
            entry = NotDue(lineage.name, lineage.fullchain_path, expiry)
            (plan.not_due if lineage.conf.autorenew else plan.disabled).append(entry)
    return plan


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def renewal_due_at(lineage: Lineage) -> datetime.datetime:
    """When :func:`due_for_renewal` turns true: ``renew_before_expiry`` before expiry,
    else with a third of the lifetime left (half for certs shorter than 10 days)."""
    not_before, not_after = lineage.validity()
    interval = lineage.conf.renew_before_expiry_interval()
    if interval is None:
        lifetime = not_after - not_before
        interval = lifetime / 2 if lifetime < datetime.timedelta(days=10) else lifetime / 3
    return not_after - interval


def due_for_renewal(lineage: Lineage, now: datetime.datetime | None = None) -> bool:
    """Due when the conf's ``renew_before_expiry`` (else a third of the lifetime) is reached."""
    now = now or datetime.datetime.now(datetime.UTC)
    return now >= renewal_due_at(lineage)
