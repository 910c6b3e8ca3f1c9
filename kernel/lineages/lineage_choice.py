"""What to do when requested names meet existing lineages (Certbot's rules).

Same names: keep it while it is not due, renew with ``--force-renewal``, or
ask. A lineage with fewer names: expand it with ``--expand``, or ask; in a
non-interactive run the answer must come from a flag, and the message names
the flags that decide. ``--duplicate`` always makes a new lineage and
``--cert-name`` picks the lineage whatever its names.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from certkernel import errors
from certkernel.ca.acme_setup import effective_server
from certkernel.config import Config
from certkernel.display import Display
from certkernel.flows.obtain import key_type_change
from certkernel.lineages.lineage_find import find_by_names
from certkernel.lineages.storage import Lineage
from certkernel.renewal.renewal_plan import is_due

if TYPE_CHECKING:
    from certkernel.lineages.storage import Lineage

logger = logging.getLogger(__name__)

class Action(StrEnum):
    """What a request does to the lineages; the values are Certbot's words in the log."""

    NEW = "new"
    RENEW = "renew"
    KEEP = "keep"
    EXPAND = "expand"
    REINSTALL = "reinstall"


@dataclass
class Choice:
    action: Action
    lineage: Lineage | None = None


def choose(config: Config, names: list[str], display: Display) -> Choice:
    """Decide between a new lineage and an existing one for ``names``."""
    if config.duplicate:
        return Choice(Action.NEW)
    if config.certname:
        conf = os.path.join(config.config_dir, "renewal", f"{config.certname}.conf")
        if not os.path.exists(conf):
            return Choice(Action.NEW)
        lineage = Lineage.load(config.config_dir, config.certname)
        if set(lineage.names) != set(names):
            _key_type_change(config, lineage, display)
            return Choice(Action.RENEW, lineage)
        return _identical(config, lineage, display)
    matches = find_by_names(config.config_dir, names)
    if matches.exact:
        return _identical(config, matches.exact[0], display)
    if matches.subset:
        lineage = matches.subset[0]
        _key_type_change(config, lineage, display)
        if config.expand or config.renew_with_new_domains:
            return Choice(Action.EXPAND, lineage)
        added = sorted(set(names) - set(lineage.names))
        question = (
            f"You have an existing certificate that contains a portion of the domains you "
            f"requested (ref: {lineage.renewal_conf_path})\n\nIt contains these names: "
            f"{', '.join(lineage.names)}\n\nYou requested these names for the new certificate: "
            f"{', '.join(names)}.\n\nDo you want to expand and replace this existing "
            f"certificate with the new certificate?"
        )
        if not display.interactive:
            raise errors.MissingFlag(
                f"The existing certificate {lineage.name} does not cover "
                f"{', '.join(added)}. Use --expand to add them to it, or --duplicate to make "
                "a separate certificate."
            )
        if display.yesno(question, "Expand", "Cancel", cli_flag="--expand"):
            return Choice(Action.EXPAND, lineage)
        raise errors.Error("Operation canceled. You may re-run the client.")
    return Choice(Action.NEW)


def _identical(config: Config, lineage: Lineage, display: Display) -> Choice:
    """Same names as an existing lineage: renew only when ``renew`` would (or when told).

    "Due" is :func:`certkernel.renewal.renewal_plan.is_due`, the very rule ``renew``
    applies: the CA's cached renewal window (ARI) when there is one, else
    the expiry rule. It reads only ``ari.json``, so keeping a certificate
    costs no request to the CA.
    """
    changing_key_type = _key_type_change(config, lineage, display)  # may refuse: first
    if config.renew_by_default or changing_key_type:
        return Choice(Action.RENEW, lineage)
    if config.dry_run:
        # Certbot's should_renew: a dry run always simulates the renewal.
        logger.info("%s is not due, but a dry run simulates its renewal", lineage.name)
        return Choice(Action.RENEW, lineage)
    if config.reinstall:
        return Choice(Action.REINSTALL, lineage)
    due, why = is_due(lineage)
    if due:
        logger.info("Renewing %s: %s", lineage.name, why)
        return Choice(Action.RENEW, lineage)
    if not display.interactive:
        return Choice(Action.KEEP, lineage)
    ok, index = display.menu(
        "You have an existing certificate that has exactly the same domains or certificate "
        f"name you requested and isn't close to expiry.\n(ref: {lineage.renewal_conf_path})\n\n"
        "What would you like to do?",
        [
            "Keep the existing certificate for now",
            "Renew & replace the certificate (may be subject to CA rate limits)",
        ],
        default=0,
        cli_flag="--keep-until-expiring, --expand, --force-renewal",
    )
    if not ok:
        raise errors.Error("Operation canceled. You may re-run the client.")
    return Choice(Action.KEEP if index == 0 else Action.RENEW, lineage)


def _key_type_change(config: Config, lineage: Lineage, display: Display) -> bool:
    """True when this run deliberately changes the lineage's key type (see obtain)."""
    return key_type_change(
        config, lineage, display.interactive,
        lambda question: display.yesno(question, "Update key type", "Keep existing key type",
                                       default=False))


def _is_test_server(url: str | None) -> bool:
    return bool(url) and "staging" in str(url).lower()


def refuse_test_cert_over_valid(config: Config, lineage: Lineage | None) -> None:
    """Certbot's guard: never replace a real certificate with a test one by accident.

    A lineage obtained from a non-staging CA is not renewed or replaced from a
    staging server (``--staging``/``--test-cert``, or a staging ``--server``)
    unless ``--break-my-certs`` says so. A dry run replaces nothing, so it
    passes.
    """
    if lineage is None or config.dry_run or config.break_my_certs:
        return

    if not (config.staging or _is_test_server(effective_server(config))):
        return
    if _is_test_server(lineage.renewalparams.get_str("server")):
        return
    raise errors.ConfigurationError(
        "You've asked to renew/replace a seemingly valid certificate with a test certificate "
        f"(domains: {', '.join(lineage.names)}). We will not do that unless you use the "
        "--break-my-certs flag!"
    )
