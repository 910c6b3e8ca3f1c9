"""The lineage ``--cert-name`` names, and the run's config seen through its renewal conf.

:func:`lineage_config` is how ``renew``, ``revoke``, ``reconfigure`` and ARI
see a lineage's saved settings under the command line. ``install``,
``enhance`` and ``rollback`` take an existing lineage by name; its renewal
conf fills in the installer and plugin options the user did not
give, so ``install --cert-name X`` after ``certonly --nginx`` needs no flags.
"""

from __future__ import annotations

import dataclasses
import logging
import os

from certkernel import errors
from certkernel.ca.acme_setup import effective_server
from certkernel.cmdline.cli_flags import LE_PRODUCTION
from certkernel.config import Config
from certkernel.lineages.storage import ConfigDirs, Lineage

logger = logging.getLogger(__name__)


def load_lineage(config: Config, name: str) -> Lineage:
    """The lineage ``--cert-name`` names, or one clear error listing what exists."""
    conf = ConfigDirs(config.config_dir).conf_path(name)
    if not os.path.exists(conf):
        renewal = ConfigDirs(config.config_dir).renewal
        known = sorted(f[:-5] for f in os.listdir(renewal) if f.endswith(".conf")) \
            if os.path.isdir(renewal) else []
        hint = f" (certificates: {', '.join(known)})" if known else " (no certificates found)"
        raise errors.ConfigurationError(
            f"No certificate named {name} in {config.config_dir}{hint}; "
            "see 'certkernel certificates'"
        )
    return Lineage.load(config.config_dir, name)


def with_lineage_conf(config: Config, lineage: Lineage) -> Config:
    """``config`` with the lineage's saved installer and plugin options where the user gave none."""
    params = dict(lineage.renewalparams)
    if config.installer or config.configurator:
        params.pop("installer", None)
        params.pop("authenticator", None)
    elif str(params.get("installer", "None")) in ("None", ""):
        params.pop("installer", None)
    return config.with_renewal_conf(params, lineage.renewal_conf_path)


def lineage_config(config: Config, lineage: Lineage) -> Config:
    """The run's Config with this lineage's ``[renewalparams]`` under it.

    Command-line values win. A server saved in the conf is used as is,
    also in a dry run, unless it is Let's Encrypt production (a dry run
    goes to staging then, as Certbot does).

    The saved account belongs to the saved server. When this run talks to
    another one (a dry run sent to staging, ``--server``, ``--staging``),
    the saved account is dropped, as Certbot does: the run then uses the
    account it finds for that server, or registers one
    (:func:`certkernel.ca.acme_setup.open_account`).
    """
    params = lineage.renewalparams.as_dict()
    result = config.with_renewal_conf(params, lineage.renewal_conf_path)
    saved_server = lineage.renewalparams.get_str("server")
    if (saved_server and not config.is_set("server")
            and not (config.dry_run and saved_server == LE_PRODUCTION)
            and not config.staging):
        result = dataclasses.replace(result, explicit=result.explicit | {"server"})
    if (saved_server and not config.is_set("account")
            and effective_server(result).rstrip("/") != saved_server.rstrip("/")):
        logger.info("%s: its account belongs to %s; this run uses %s, so not that account",
                    lineage.name, saved_server, effective_server(result))
        result = dataclasses.replace(result, account=None)
    return result
