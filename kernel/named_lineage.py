"""The lineage ``--cert-name`` names, and the run's config seen through its renewal conf.

``install``, ``enhance`` and ``rollback`` take an existing lineage by name;
its renewal conf fills in the installer and plugin options the user did not
give, so ``install --cert-name X`` after ``certonly --nginx`` needs no flags.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from certkernel import errors
from certkernel.config import Config

if TYPE_CHECKING:
    from certkernel.storage import Lineage


def load_lineage(config: Config, name: str) -> Lineage:
    """The lineage ``--cert-name`` names, or one clear error listing what exists."""
    from certkernel.storage import ConfigDirs, Lineage

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
