"""The HTTP-API providers: Certbot's names, credential keys and defaults, mapped to dns-lexicon.

One table, so a manifest, the credential check and the lexicon options can
never disagree. ``api_url`` is an optional extra key for every provider: the
API's base URL, for a compatible service or a local test double (the
official URL otherwise).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from certkernel.plugins.dns.credentials import Credentials, CredentialSpec

OptionMap = Callable[[Credentials], dict[str, str]]


@dataclass(frozen=True)
class ProviderSpec:
    """One provider: how users name it and what lexicon needs."""

    name: str  # certkernel/Certbot name without "dns-": "cloudflare"
    title: str  # for help texts: "Cloudflare"
    lexicon: str  # lexicon's provider module
    credentials: CredentialSpec
    options: OptionMap
    propagation_seconds: int  # Certbot's default
    endpoint_attr: str = "api_endpoint"  # attribute of the lexicon provider holding the base URL
    endpoint_slash: bool = False  # lexicon joins "base/" + "path" (Linode) rather than "base" + "/path"
    rejected_markers: tuple[str, ...] = ()  # error-body words that mean "bad credentials" whatever the status
    unavailable: str = ""  # non-empty: why this provider cannot be used


def _map(**pairs: str) -> OptionMap:
    """lexicon option -> credential suffix, for the keys that are present."""

    def build(creds: Credentials) -> dict[str, str]:
        return {opt: creds.get(key) for opt, key in pairs.items() if creds.get(key)}

    return build


def _cloudflare(creds: Credentials) -> dict[str, str]:
    if creds.get("api_token"):
        return {"auth_token": creds.get("api_token")}
    return {"auth_username": creds.get("email"), "auth_token": creds.get("api_key")}


def _spec(required: tuple[str, ...] = (), alternatives: tuple[tuple[str, ...], ...] = (),
          optional: tuple[str, ...] = ()) -> CredentialSpec:
    return CredentialSpec(required=required, optional=(*optional, "api_url"),
                          alternatives=alternatives)


PROVIDERS: dict[str, ProviderSpec] = {
    spec.name: spec
    for spec in (
        ProviderSpec("cloudflare", "Cloudflare", "cloudflare",
                     _spec(alternatives=(("api_token",), ("email", "api_key"))),
                     _cloudflare, 10),
        ProviderSpec("digitalocean", "DigitalOcean", "digitalocean", _spec(("token",)),
                     _map(auth_token="token"), 10),
        ProviderSpec("dnsimple", "DNSimple", "dnsimple", _spec(("token",)),
                     _map(auth_token="token"), 30),
        ProviderSpec("dnsmadeeasy", "DNS Made Easy", "dnsmadeeasy",
                     _spec(("api_key", "secret_key")),
                     _map(auth_username="api_key", auth_token="secret_key"), 60),
        ProviderSpec("gehirn", "Gehirn Infrastructure Service", "gehirn",
                     _spec(("api_token", "api_secret")),
                     _map(auth_token="api_token", auth_secret="api_secret"), 30),
        ProviderSpec("linode", "Linode", "linode", _spec(("key",), optional=("version",)),
                     _map(auth_token="key"), 120, endpoint_slash=True),
        ProviderSpec("luadns", "LuaDNS", "luadns", _spec(("email", "token")),
                     _map(auth_username="email", auth_token="token"), 30),
        ProviderSpec("nsone", "NS1", "nsone", _spec(("api_key",)),
                     _map(auth_token="api_key"), 30),
        ProviderSpec("ovh", "OVH", "ovh",
                     _spec(("endpoint", "application_key", "application_secret",
                            "consumer_key")),
                     _map(auth_entrypoint="endpoint", auth_application_key="application_key",
                          auth_application_secret="application_secret",
                          auth_consumer_key="consumer_key"),
                     30, endpoint_attr="endpoint_api",
                     rejected_markers=("INVALID_SIGNATURE", "INVALID_KEY", "INVALID_CREDENTIAL")),
        ProviderSpec("sakuracloud", "Sakura Cloud", "sakuracloud",
                     _spec(("api_token", "api_secret")),
                     _map(auth_token="api_token", auth_secret="api_secret"), 90),
        ProviderSpec("cloudxns", "CloudXNS", "cloudxns", _spec(("api_key", "secret_key")),
                     _map(auth_username="api_key", auth_token="secret_key"), 30,
                     unavailable="CloudXNS has shut down its DNS service; its API no longer "
                                 "exists (Certbot dropped dns-cloudxns in 2.0). Move the zone "
                                 "to another provider"),
    )
}
