"""Installing a certificate, the flow ``run``, ``install``, ``enhance`` and ``renew`` share.

Starts the installer, runs the whole install step with Certbot's messages,
and first undoes what a crashed run left half-done.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from certkernel.config import Config
from certkernel.display import Display, say
from certkernel.runtime.deploy import (
    CertPaths,
    changes_nothing,
    default_enhancements,
    install_lineage,
    wanted_enhancements,
)
from certkernel.runtime.plugin_runtime import chosen_plugins

if TYPE_CHECKING:
    from certkernel.checkpoints.reverter import Reverter
    from certkernel.runtime.plugin_runtime import PluginLauncher

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
    if changes_nothing(config, installer_name):
        return
    port = "" if config.https_port == 443 else f":{config.https_port}"
    sites = ", ".join(f"https://{name}{port}" for name in names if not name.startswith("*."))
    if sites:
        say(config, f"Congratulations! You have successfully enabled HTTPS on {sites}")


def installer_for(config: Config, verb: str) -> str:
    _, inst = chosen_plugins(config, verb)
    assert inst is not None
    return inst


def deploy_with(config: Config, display: Display, launcher: PluginLauncher, inst_name: str,
                cert: CertPaths, names: Sequence[str], reverter: Reverter) -> None:
    """Start the installer and run the whole install step, with Certbot's messages."""
    installer = launcher.installer(inst_name)
    say(config, "Deploying certificate")

    def notify(text: str) -> None:
        display.notification(text, wrap=False)

    install_lineage(config, installer, cert, names,
                    enhancements=wanted_enhancements(config, default_redirect=True),
                    rollback=reverter, notify=notify, defaults=default_enhancements(config))
    report_deployed(config, inst_name, names)
