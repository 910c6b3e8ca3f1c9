#!/usr/bin/env python3
"""Write the manifests of the DNS providers from their tables.

    python scripts/gen-dns-manifests.py            # rewrite plugins/dns/<provider>/plugin.toml
    python scripts/gen-dns-manifests.py --check    # exit 1 if a committed manifest is stale

The HTTP-API providers come from ``plugins/dns/providers.py`` (``PROVIDERS``),
RFC 2136 from ``plugins/dns/rfc2136.py`` and its authenticator class. A
manifest's ``env`` must list every credential key's variable, and its
propagation default must be the plugin's: written by hand, they drift.
dns-google and dns-route53 take different credentials and stay hand-written.
Run this after changing a provider; tests/dns/test_dns_manifests.py fails
while a manifest is stale.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from certkernel.plugins.dns import rfc2136
from certkernel.plugins.dns.credentials import CredentialSpec, env_names
from certkernel.plugins.dns.plugin import Rfc2136
from certkernel.plugins.dns.providers import PROVIDERS

ROOT = Path(__file__).resolve().parents[1]
DNS = ROOT / "plugins" / "dns"

PROPAGATION_HELP = (
    "The number of seconds to wait for DNS to propagate before asking the ACME server to "
    "verify the DNS record (a maximum: the wait ends as soon as the zone's authoritative "
    "servers serve every record)."
)
# The only reason a provider is marked unavailable so far: its service is gone.
UNAVAILABLE = " Unavailable: the service has shut down."


@dataclass(frozen=True)
class Entry:
    """What one generated manifest says."""

    provider: str  # "cloudflare": the folder, the argument of `-m certkernel.plugins.dns`
    source: str  # the file the values come from, named in the manifest's first line
    description: str
    help_title: str  # "<title> credentials INI file."
    credentials: CredentialSpec
    propagation: int


def entries() -> list[Entry]:
    """Every generated manifest: RFC 2136 first, then the providers' table in its order."""
    result = [Entry("rfc2136", "plugins/dns/rfc2136.py", (Rfc2136.__doc__ or "").strip(),
                    "RFC 2136", rfc2136.CREDENTIALS, Rfc2136.default_propagation)]
    for spec in PROVIDERS.values():
        description = ("Obtain certificates using a DNS TXT record "
                       f"(if you are using {spec.title} for DNS).")
        if spec.unavailable:
            description += UNAVAILABLE
        result.append(Entry(spec.name, "plugins/dns/providers.py", description, spec.title,
                            spec.credentials, spec.propagation_seconds))
    return result


def _quoted(value: str) -> str:
    """A TOML basic string (JSON's escaping is a subset TOML reads the same way)."""
    return json.dumps(value, ensure_ascii=False)


def render(entry: Entry) -> str:
    """The manifest text for one provider."""
    env = ", ".join(_quoted(v) for v in env_names(entry.provider, entry.credentials))
    return "\n".join([
        f"# Generated from {entry.source} (tests/dns/test_dns_manifests.py keeps them in step).",
        f"name = {_quoted('dns-' + entry.provider)}",
        f"description = {_quoted(entry.description)}",
        'version = "1.0.0"',
        'roles = ["authenticator"]',
        'challenges = ["dns-01"]',
        f'command = ["{{python}}", "-m", "certkernel.plugins.dns", {_quoted(entry.provider)}]',
        "protocol_versions = [1]",
        "# Credentials may also come from the environment (a value in the file wins).",
        f"env = [{env}]",
        "",
        "[[options]]",
        'name = "credentials"',
        'type = "secret-file"',
        f"help = {_quoted(entry.help_title + ' credentials INI file.')}",
        "",
        "[[options]]",
        'name = "propagation-seconds"',
        'type = "int"',
        f"default = {entry.propagation}",
        f"help = {_quoted(PROPAGATION_HELP)}",
        "",
        "[timeouts]",
        "perform = 300",
        "cleanup = 300",
        "",
    ])


def manifests(root: Path = DNS) -> dict[Path, str]:
    """Manifest path under ``root`` -> the text it must hold."""
    return {root / e.provider / "plugin.toml": render(e) for e in entries()}


def stale(root: Path = DNS) -> list[Path]:
    """The manifests under ``root`` that differ from what this script writes (or are missing)."""
    return [path for path, text in manifests(root).items()
            if not path.exists() or path.read_text() != text]


def main(argv: list[str] | None = None) -> int:
    opts = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    opts.add_argument("--check", action="store_true", help="only compare; exit 1 if stale")
    args = opts.parse_args(argv)
    wanted = manifests()
    found = stale()
    for path in found:
        if args.check:
            print(f"stale: {path.relative_to(ROOT)} (run python scripts/gen-dns-manifests.py)",
                  file=sys.stderr)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(wanted[path])
            print(f"wrote {path.relative_to(ROOT)}")
    return 1 if (found and args.check) else 0


if __name__ == "__main__":
    sys.exit(main())
