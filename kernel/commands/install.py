"""``certkernel install``: put an existing certificate into a server.

``--cert-name X`` installs a lineage (its renewal conf fills in the
installer and its options the user did not give, so ``install --cert-name
X`` after ``certonly --nginx`` needs no more flags); ``--cert-path`` /
``--key-path`` (with ``--fullchain-path`` / ``--chain-path``) installs loose
files.  Redirect is on by default, as for ``run``, where the installer
supports it (else a note says none was set up; ``--redirect`` asked
explicitly of such an installer is an error).  The helpers here are
shared with ``run`` and ``enhance``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

from certkernel import errors
from certkernel.commands.certonly import say
from certkernel.config import Config
from certkernel.display import Display

if TYPE_CHECKING:
    from certkernel.plugin_runtime import PluginLauncher
    from certkernel.reverter import Reverter
    from certkernel.storage import Lineage

logger = logging.getLogger(__name__)


def recover_interrupted(config: Config, reverter: Reverter) -> None:
    """Undo what a crashed run left half-done, and tell the user (Certbot does this silently)."""
    if not reverter.needs_recovery():
        return
    results = reverter.recovery_routine()
    files = sorted({p for r in results for p in (*r.restored, *r.removed)})
    say(config, "Found unfinished configuration changes from an interrupted run; "
                f"restored {len(files)} file(s) to their previous contents.")
    for path in files:
        logger.info("recovered %s", path)
    for why in (w for r in results for w in r.refused):
        say(config, f"Not restored (refused): {why}")


def server_root(config: Config, installer_name: str) -> str | None:
    """The installer's configured server root, for messages."""
    manifest = config.manifests.get(installer_name)
    if manifest is None:
        return None
    option = manifest.server_root_option
    value = config.plugin_options(manifest).get(option) if option else None
    return str(value) if value else None


def report_deployed(config: Config, installer_name: str, names: Sequence[str]) -> None:
    where = server_root(config, installer_name)
    target = f"the {installer_name} configuration in {where}" if where \
        else f"the {installer_name} configuration"
    for name in names:
        say(config, f"Successfully deployed certificate for {name} to {target}")


def congratulate(config: Config, installer_name: str, names: Sequence[str]) -> None:
    from certkernel.deploy import changes_nothing

    if changes_nothing(config, installer_name):
        return
    port = "" if config.https_port == 443 else f":{config.https_port}"
    sites = ", ".join(f"https://{name}{port}" for name in names if not name.startswith("*."))
    if sites:
        say(config, f"Congratulations! You have successfully enabled HTTPS on {sites}")


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


def installer_for(config: Config, verb: str) -> str:
    from certkernel.plugin_runtime import chosen_plugins

    _, inst = chosen_plugins(config, verb)
    assert inst is not None
    return inst


def deploy_with(config: Config, display: Display, launcher: PluginLauncher, inst_name: str,
                cert: object, names: Sequence[str], reverter: Reverter) -> None:
    """Start the installer and run the whole install step, with Certbot's messages."""
    from certkernel.deploy import (
        CertPaths,
        default_enhancements,
        install_lineage,
        wanted_enhancements,
    )

    installer = launcher.installer(inst_name)
    say(config, "Deploying certificate")

    def notify(text: str) -> None:
        display.notification(text, wrap=False)

    paths: CertPaths = cert  # type: ignore[assignment]
    install_lineage(config, installer, paths, names,
                    enhancements=wanted_enhancements(config, default_redirect=True),
                    rollback=reverter, notify=notify, defaults=default_enhancements(config))
    report_deployed(config, inst_name, names)


def _loose_cert(config: Config) -> tuple[object, list[str]]:
    from certkernel.commands.certonly import requested_names
    from certkernel.crypto import cert_info
    from certkernel.deploy import LooseCert

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
    from certkernel.deploy import installer_locked
    from certkernel.plugin_runtime import PluginLauncher
    from certkernel.progress import printer as progress_printer
    from certkernel.reverter import Reverter

    display = Display.from_config(config)
    if config.certname:
        lineage = load_lineage(config, config.certname)
        config = with_lineage_conf(config, lineage)
        cert: object = lineage
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
