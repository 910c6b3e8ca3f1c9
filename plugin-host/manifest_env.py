"""Which environment variables a plugin may name in its manifest (PROTOCOL.md §9.6).

The kernel runs as root with the operator's environment, which may hold
cloud credentials: a plugin reads its own prefix and a few public names, and
values passed through are redacted from logs unless their name says they are
no secret.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from certkernel.plugin_host.manifest_reader import Reader

_ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Variables any plugin may read: locale, time zone, proxies and CA bundles.
PUBLIC_ENV = frozenset({
    "LANG", "LANGUAGE", "TZ", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy",
    "https_proxy", "no_proxy", "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE",
})
# Own prefixes that would reach well-known credential families (a plugin
# named "aws" must not get AWS_SECRET_ACCESS_KEY) or the kernel's own.
RESERVED_ENV_PREFIXES = (
    "AWS_", "AZURE_", "GOOGLE_", "GCLOUD_", "GCP_", "GITHUB_", "GITLAB_", "VAULT_", "DOCKER_",
    "SSH_", "GPG_", "SUDO_", "LD_", "PYTHON", "CERTKERNEL_", "XDG_",
)
# Pass-through values of these names are not redacted from logs (they say
# where and how, not who): every other one is treated as a credential.
_NOT_SECRET_SUFFIXES = ("_URL", "_ENDPOINT", "_SERVER", "_PORT", "_NAME", "_ALGORITHM",
                        "_EMAIL", "_PROFILE", "_VERSION", "_DISABLED", "_CONFDIR", "_FILE",
                        "_CA_BUNDLE")

def env_prefix(name: str) -> str:
    """The prefix of the variables plugin ``name`` may read: ``dns-route53`` -> ``DNS_ROUTE53_``."""
    return name.upper().replace("-", "_") + "_"


def env_is_secret(name: str) -> bool:
    """Whether a passed-through variable's value is redacted from logs (see PROTOCOL.md)."""
    if name in ("LANG", "LANGUAGE", "TZ") or name.startswith("LC_"):
        return False
    return not name.upper().endswith(_NOT_SECRET_SUFFIXES)


def check_env(r: Reader, name: str, env: tuple[str, ...], foreign: Mapping[str, Any],
               origin: str) -> None:
    """A manifest may read its own prefix, public names, and (built-ins) declared others.

    Why: the kernel runs as root with the operator's environment, which may
    hold cloud credentials; a plugin must not obtain them by naming them.
    Refused as a manifest error, so the plugin is never started and
    ``certkernel plugins`` shows why, rather than run without what it asked.
    """
    prefix = env_prefix(name)
    reserved = prefix.startswith(RESERVED_ENV_PREFIXES)
    for key, reason in foreign.items():
        if not isinstance(reason, str) or not reason.strip():
            raise r.fail(f"env_foreign.{key} must be a string saying why the plugin needs it")
        if key not in env:
            raise r.fail(f"env_foreign.{key} is not listed in env")
    for key in env:
        if not _ENV_NAME_RE.match(key):
            raise r.fail(f"env: {key!r} is not a variable name")
        if key in PUBLIC_ENV or key.startswith("LC_") or (key.startswith(prefix) and not reserved):
            continue
        if key in foreign and origin == "builtin":
            continue
        if key in foreign:
            why = "only built-in plugins may declare variables outside their prefix"
        elif reserved and key.startswith(prefix):
            why = f"the prefix {prefix} belongs to others' credentials; rename the plugin"
        else:
            why = f"it is outside the plugin's prefix {prefix}"
        raise r.fail(f"env names {key}, which the plugin may not read ({why}); read "
                     f"{prefix}* variables or take credentials from a secret-file option")
