"""``certkernel install``: put an existing certificate into a server.

``--cert-name X`` installs a lineage (its renewal conf fills in the
installer and its options the user did not give, so ``install --cert-name
X`` after ``certonly --nginx`` needs no more flags); ``--cert-path`` /
``--key-path`` (with ``--fullchain-path`` / ``--chain-path``) installs loose
files.  Redirect is on by default, as for ``run``, where the installer
supports it (else a note says none was set up; ``--redirect`` asked
explicitly of such an installer is an error).  The install step itself is
:mod:`certkernel.flows.deploy_flow`, shared with ``run``, ``enhance`` and ``renew``.
"""

from __future__ import annotations

import logging
import os

from certkernel import errors
from certkernel.checkpoints.reverter import Reverter
from certkernel.config import Config
from certkernel.crypto import cert_info
from certkernel.display import Display
from certkernel.flows.deploy_flow import (
    congratulate,
    deploy_with,
    installer_for,
    recover_interrupted,
)
from certkernel.flows.obtain_flow import requested_names
from certkernel.lineages.named_lineage import load_lineage, with_lineage_conf
from certkernel.progress import printer as progress_printer
from certkernel.runtime.deploy import CertPaths, LooseCert, installer_locked
from certkernel.runtime.plugin_runtime import PluginLauncher

logger = logging.getLogger(__name__)


def _loose_cert(config: Config) -> tuple[CertPaths, list[str]]:
    """The files ``--cert-path``/``--key-path`` name, and the names to install them for."""
    if not (config.cert_path and config.key_path):
        raise errors.MissingFlag(
            "install needs --cert-name NAME, or --cert-path and --key-path "
            "(with --fullchain-path) of the certificate to install"
        )
    paths = [os.path.abspath(os.path.expanduser(p)) if p else "" for p in
             (config.cert_path, config.key_path, config.chain_path, config.fullchain_path)]
    for path in paths:
        if path and not os.path.isfile(path):
            raise errors.ConfigurationError(f"{path} does not exist or is not a file")
    cert = LooseCert(*paths)
    if config.domains:
        names = requested_names(config, Display.from_config(config))
    else:
        with open(cert.cert_path, "rb") as handle:
            names = cert_info(handle.read(), cert.cert_path).names
    return cert, names


def run(config: Config) -> int:
    display = Display.from_config(config)
    cert: CertPaths
    if config.certname:
        lineage = load_lineage(config, config.certname)
        config = with_lineage_conf(config, lineage)
        cert = lineage
        names = list(lineage.names)
    else:
        cert, names = _loose_cert(config)
    inst_name = installer_for(config, "install")
    with Reverter(config.work_dir, lock_timeout=config.lock_timeout) as reverter:
        recover_interrupted(config, reverter)
        with installer_locked(config, inst_name), \
                PluginLauncher(config, display, checkpoints=reverter,
                               on_progress=progress_printer(display)) as launcher:
            deploy_with(config, display, launcher, inst_name, cert, names, reverter)
    congratulate(config, inst_name, names)
    return 0
