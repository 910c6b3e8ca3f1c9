"""Credential values for a DNS provider: from the kernel's secrets or the environment.

The kernel reads the INI file named by ``--dns-<provider>-credentials`` and
sends its keys (``dns_<provider>_<key>``) as ``secrets``. Users who keep
credentials in the environment instead set the same key upper-cased
(``DNS_CLOUDFLARE_API_TOKEN``); the manifest lists these names so the kernel
passes them through. A value in the file wins over the environment.

Every missing key is reported at once, so a user fixes the file in one go.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from certkernel.sdk import PluginError


@dataclass(frozen=True)
class CredentialSpec:
    """What a provider needs: ``required`` keys plus one complete ``alternatives`` group.

    Keys are suffixes (``api_token`` for ``dns_cloudflare_api_token``).
    ``alternatives`` lists groups of which at least one must be complete
    (Cloudflare: a token, or an e-mail plus a global key); empty means none.
    """

    required: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()
    alternatives: tuple[tuple[str, ...], ...] = ()

    def all_keys(self) -> tuple[str, ...]:
        keys = list(self.required) + list(self.optional)
        for group in self.alternatives:
            keys.extend(k for k in group if k not in keys)
        return tuple(keys)


@dataclass(frozen=True)
class Credentials:
    """Resolved values by suffix, and where each came from (for messages, never values)."""

    provider: str
    values: dict[str, str] = field(default_factory=dict)

    def get(self, key: str, default: str = "") -> str:
        return self.values.get(key, default)


def full_key(provider: str, suffix: str) -> str:
    """``dns_rfc2136_server`` for (``rfc2136``, ``server``)."""
    return f"dns_{provider.replace('-', '_')}_{suffix}"


def env_name(provider: str, suffix: str) -> str:
    """``DNS_CLOUDFLARE_API_TOKEN``: the environment variable accepted for a key."""
    return full_key(provider, suffix).upper()


def env_names(provider: str, spec: CredentialSpec) -> list[str]:
    """Every environment variable a manifest must let through for this provider."""
    return [env_name(provider, k) for k in spec.all_keys()]


def resolve_credentials(
    provider: str,
    spec: CredentialSpec,
    secrets: Mapping[str, str],
    environ: Mapping[str, str],
) -> Credentials:
    """Collect the values or raise one PluginError naming every missing key."""
    values: dict[str, str] = {}
    for suffix in spec.all_keys():
        raw = secrets.get(full_key(provider, suffix))
        if raw is None or str(raw).strip() == "":
            raw = environ.get(env_name(provider, suffix))
        if raw is not None and str(raw).strip() != "":
            values[suffix] = str(raw).strip()

    problems = [full_key(provider, k) for k in spec.required if k not in values]
    if spec.alternatives and not any(all(k in values for k in g) for g in spec.alternatives):
        problems.append(_describe_alternatives(provider, spec.alternatives, values))
    if problems:
        raise PluginError(
            f"dns-{provider}: missing credentials: {', '.join(problems)}. Put them in the "
            f"file given to --dns-{provider}-credentials or set "
            f"{'/'.join(env_name(provider, k) for k in _missing_suffixes(spec, values))} "
            "in the environment."
        )
    return Credentials(provider, values)


def _missing_suffixes(spec: CredentialSpec, values: Mapping[str, str]) -> list[str]:
    missing = [k for k in spec.required if k not in values]
    if spec.alternatives and not any(all(k in values for k in g) for g in spec.alternatives):
        missing.extend(k for k in _closest_group(spec.alternatives, values) if k not in values)
    return missing


def _closest_group(groups: Sequence[Sequence[str]], values: Mapping[str, str]) -> Sequence[str]:
    """The group the user seems to be aiming at: the one with most keys present."""
    return max(groups, key=lambda g: sum(1 for k in g if k in values))


def _describe_alternatives(
    provider: str, groups: Sequence[Sequence[str]], values: Mapping[str, str]
) -> str:
    started = [g for g in groups if any(k in values for k in g)]
    if len(started) == 1:
        group = started[0]
        return " and ".join(full_key(provider, k) for k in group if k not in values)
    options = [" + ".join(full_key(provider, k) for k in g) for g in groups]
    return "one of (" + " | ".join(options) + ")"
