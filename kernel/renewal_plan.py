"""Which lineages ``renew`` works on, decided without the network.

A host may have thousands of lineages and cron runs ``renew`` twice a day;
almost always nothing is due. So the decision reads only each renewal conf
(plain reader) and the current cert's validity (stdlib parse), imports
neither ``acme`` nor ``cryptography``, and builds a per-lineage Config only
for the lineages that will actually be renewed. A conf or lineage that does
not load is reported and skipped; the others go on.
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from certkernel import errors
from certkernel.cli_flags import LE_PRODUCTION
from certkernel.config import Config

if TYPE_CHECKING:
    from certkernel.storage import Lineage

logger = logging.getLogger(__name__)


@dataclass
class NotDue:
    lineage: Lineage
    expiry: datetime.datetime


@dataclass
class Plan:
    """What one ``renew`` run will do, and why it leaves the rest."""

    due: list[Lineage] = field(default_factory=list)
    not_due: list[NotDue] = field(default_factory=list)
    disabled: list[Lineage] = field(default_factory=list)  # autorenew = False
    broken: list[tuple[str, str]] = field(default_factory=list)  # (conf path, message)
    reasons: dict[str, str] = field(default_factory=dict)  # lineage name -> why renewed


def wanted(config: Config, lineage: Lineage,
           now: datetime.datetime | None = None) -> tuple[bool, str]:
    """(renew it?, why) following Certbot: forced, due, or simulated in a dry run."""
    from certkernel.lineage_choice import due_for_renewal

    if config.renew_by_default:
        return True, "forced with --force-renewal"
    if lineage.conf.autorenew and due_for_renewal(lineage, now):
        return True, "due for renewal"
    if config.dry_run:
        return True, "not due, but simulated for the dry run"
    return False, "not due"


def make_plan(config: Config, now: datetime.datetime | None = None) -> Plan:
    """Scan the lineages (or only ``--cert-name``) and sort them into the plan."""
    from certkernel.lineage_find import conf_paths
    from certkernel.storage import ConfigDirs, Lineage

    plan = Plan()
    if config.certname:
        path = ConfigDirs(config.config_dir).conf_path(config.certname)
        if not os.path.exists(path):
            raise errors.ConfigurationError(
                f"No certificate found with name {config.certname} (expected {path})."
            )
        paths = [path]
    else:
        paths = conf_paths(config.config_dir)
    for path in paths:
        try:
            lineage = Lineage.from_conf(config.config_dir, path)
            renew, why = wanted(config, lineage, now)
            expiry = lineage.not_after
        except (errors.StorageError, errors.ValidationError, OSError, ValueError) as exc:
            logger.debug("cannot load %s", path, exc_info=True)
            plan.broken.append((path, _one_line(exc)))
            continue
        if renew:
            plan.due.append(lineage)
            plan.reasons[lineage.name] = why
        elif not lineage.conf.autorenew:
            plan.disabled.append(lineage)
        else:
            plan.not_due.append(NotDue(lineage, expiry))
    return plan


def lineage_config(config: Config, lineage: Lineage) -> Config:
    """The run's Config with this lineage's ``[renewalparams]`` under it.

    Command-line values win. A server saved in the conf is used as is,
    also in a dry run, unless it is Let's Encrypt production (a dry run
    goes to staging then, as Certbot does).
    """
    params = lineage.renewalparams.as_dict()
    result = config.with_renewal_conf(params, lineage.renewal_conf_path)
    saved_server = lineage.renewalparams.get_str("server")
    if (saved_server and not config.is_set("server")
            and not (config.dry_run and saved_server == LE_PRODUCTION)
            and not config.staging):
        result = dataclasses.replace(result, explicit=result.explicit | {"server"})
    return result


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
