"""Put a lineage into a server through an installer process.

``run``, ``install``, ``enhance`` and ``renew`` share this: deploy the
certificate for each name, apply the enhancements the user asked for, save
(the installer registers checkpoints before it writes), test the config and
reload. Any failure before the reload puts the previous files back, so the
server keeps its working configuration.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from certkernel import errors
from certkernel.config import Config

if TYPE_CHECKING:
    from certkernel.plugin_host.proxies import RemoteInstaller
    from certkernel.storage import Lineage

logger = logging.getLogger(__name__)

# Certbot's enhancement names and options, by Config field.
ENHANCEMENTS = (
    ("redirect", "redirect", None),
    ("hsts", "ensure-http-header", "Strict-Transport-Security"),
    ("uir", "ensure-http-header", "Upgrade-Insecure-Requests"),
    ("staple", "staple-ocsp", None),
)


def wanted_enhancements(config: Config, default_redirect: bool) -> list[tuple[str, str | None]]:
    chosen = []
    for field_name, name, option in ENHANCEMENTS:
        value = getattr(config, field_name)
        if value is None and field_name == "redirect":
            value = default_redirect
        if value:
            chosen.append((name, option))
    return chosen


def install_lineage(
    config: Config,
    installer: RemoteInstaller,
    lineage: Lineage,
    names: Sequence[str],
    *,
    enhancements: Sequence[tuple[str, str | None]] = (),
    rollback: object | None = None,
) -> None:
    """Deploy, enhance, save, test and reload; revert the files on failure."""
    try:
        for name in names:
            installer.deploy_cert(
                name, lineage.cert_path, lineage.key_path, lineage.chain_path,
                lineage.fullchain_path,
            )
        supported = set(installer.supported_enhancements()) if enhancements else set()
        for enhancement, option in enhancements:
            if enhancement not in supported:
                logger.warning("The %s installer cannot do %s; skipped", installer.name, enhancement)
                continue
            for name in names:
                try:
                    installer.enhance(name, enhancement, option)
                except errors.PluginEnhancementAlreadyPresent:
                    logger.info("%s is already enabled for %s", enhancement, name)
        installer.save(f"Deployed certificate for {', '.join(names)}")
        installer.config_test()
    except errors.Error:
        logger.warning("Installation failed; restoring the previous server configuration")
        try:
            installer.recovery_routine()
            if rollback is not None:
                rollback.recovery_routine()  # type: ignore[attr-defined]
        except errors.Error as exc:
            logger.error("Restoring the configuration failed too: %s", exc)
        raise
    installer.restart()
