"""Which plugins a command runs, with Certbot's defaults.

The launcher (plugin_launcher.py), credential files (plugin_secrets.py) and
http-01 sockets (http01_sockets.py) have modules of their own; the names
below are re-exported so that ``from certkernel.runtime.plugin_runtime import
PluginLauncher`` keeps working.
"""

from __future__ import annotations

from collections.abc import Sequence

from certkernel import errors
from certkernel.config import Config
from certkernel.plugin_host.manifest import Manifest
from certkernel.runtime.plugin_launcher import PluginLauncher
from certkernel.runtime.plugin_secrets import read_secrets

__all__ = ["DEFAULT_AUTHENTICATOR", "PluginLauncher", "check_wildcards",
           "chosen_plugins", "read_secrets", "wildcard_capable"]

# Certbot's defaults, kept by name because users' commands rely on them:
# certonly without -a uses standalone; run with only -a keeps the certificate
# where it is (an installer whose manifest declares [needs] changes_nothing).
DEFAULT_AUTHENTICATOR = "standalone"


def _fallback_installer(config: Config) -> str:
    """``run -a X`` without an installer keeps the certificate where it is, as in
    Certbot: the installer whose manifest declares ``[needs] changes_nothing``."""
    for name in sorted(config.manifests):
        manifest = config.manifests[name]
        if manifest.is_installer and manifest.changes_nothing:
            return name
    raise errors.MissingFlag("Please choose an installer (-i NAME) as well as the authenticator "
                             "(-a), or use certonly")


def chosen_plugins(config: Config, verb: str) -> tuple[str | None, str | None]:
    """(authenticator, installer) names for a command, with Certbot's defaults."""
    auth = config.authenticator or config.configurator
    inst = config.installer or config.configurator
    if verb == "certonly":
        return auth or DEFAULT_AUTHENTICATOR, None
    if verb == "run":
        if not (auth or inst):
            raise errors.MissingFlag(
                "Please choose an installer (for example --nginx, --apache, or -i null) "
                "and an authenticator (-a), or use certonly"
            )
        return auth or inst, inst or _fallback_installer(config)
    if verb in ("install", "enhance"):
        if not inst:
            raise errors.MissingFlag(f"{verb} needs an installer: --nginx, --apache or -i NAME")
        return None, inst
    return auth, inst


def wildcard_capable(manifest: Manifest) -> bool:
    return "dns-01" in manifest.challenges


def check_wildcards(config: Config, names: Sequence[str], auth: str) -> None:
    """Refuse a wildcard before contacting the CA when the plugin cannot do dns-01."""
    wild = [n for n in names if n.startswith("*.")]
    manifest = config.manifests.get(auth)
    if wild and manifest is not None and not wildcard_capable(manifest):
        raise errors.ConfigurationError(
            f"{', '.join(wild)}: wildcard names need the dns-01 challenge, which the "
            f"{auth} plugin cannot do. Use a DNS plugin (for example --dns-rfc2136) "
            "or --manual with --preferred-challenges dns"
        )
