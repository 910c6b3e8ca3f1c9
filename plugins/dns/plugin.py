"""The SDK-facing authenticators: one class per provider, all sharing the core.

``python -m certkernel.plugins.dns <provider>`` serves one of them. Options
come from the manifest (``credentials``, ``propagation-seconds``); secrets are
the credential file's keys, read by the kernel.
"""

from __future__ import annotations

import os
from typing import Any, ClassVar

from certkernel.plugins.dns import rfc2136 as rfc2136_backend
from certkernel.plugins.dns.core import ChallengeRunner, RecordBackend
from certkernel.plugins.dns.credentials import CredentialSpec, resolve_credentials
from certkernel.plugins.dns.extras import require
from certkernel.plugins.dns.lexicon_backend import LexiconBackend
from certkernel.plugins.dns.providers import PROVIDERS, ProviderSpec
from certkernel.sdk import Authenticator, Challenge, NotSupportedError, PluginError


class DnsAuthenticator(Authenticator):
    """Common behaviour; subclasses say how to build their backend."""

    version = "1.0.0"
    provider: ClassVar[str] = ""
    default_propagation: ClassVar[int] = 60
    credential_spec: ClassVar[CredentialSpec] = CredentialSpec()

    def prepare(self) -> None:
        self._runner()  # fail here, with every credential problem, not in perform

    def get_chall_pref(self, domain: str) -> list[str]:
        return ["dns-01"]

    def perform(self, challenges: list[Challenge]) -> None:
        self._runner().perform(self._dns01(challenges))

    def cleanup(self, challenges: list[Challenge]) -> None:
        self._runner().cleanup(self._dns01(challenges))

    def more_info(self) -> str:
        return (
            f"Proves control of names with dns-01 TXT records ({self.provider}). Follows a "
            "CNAME on _acme-challenge, and waits for the records to be served by the zone's "
            "authoritative servers, at most --dns-"
            f"{self.provider}-propagation-seconds (default {self.default_propagation})."
        )

    # -- helpers ----------------------------------------------------------

    def _propagation_seconds(self) -> float:
        raw: Any = self.options.get("propagation-seconds",
                                    self.options.get("propagation_seconds"))
        if raw is None:
            return float(self.default_propagation)
        try:
            seconds = float(raw)
        except (TypeError, ValueError):
            raise PluginError(
                f"--dns-{self.provider}-propagation-seconds must be a number, not {raw!r}"
            ) from None
        if seconds < 0:
            raise PluginError(f"--dns-{self.provider}-propagation-seconds must not be negative")
        return seconds

    def _runner(self) -> ChallengeRunner:
        creds = resolve_credentials(self.provider, self.credential_spec, self.secrets, os.environ)
        return ChallengeRunner(self._backend(creds), self._propagation_seconds(),
                               progress=self._progress)

    def _backend(self, creds: Any) -> RecordBackend:
        raise NotImplementedError

    def _progress(self, message: str) -> None:
        self.kernel.progress(message)

    @staticmethod
    def _dns01(challenges: list[Challenge]) -> list[Challenge]:
        return [c for c in challenges if c.type == "dns-01"]


class Rfc2136(DnsAuthenticator):
    """Obtain certificates using a DNS TXT record (if you are using BIND for DNS)."""

    name = "dns-rfc2136"
    provider = "rfc2136"
    default_propagation = 60

    credential_spec = rfc2136_backend.CREDENTIALS

    def _backend(self, creds: Any) -> RecordBackend:
        return rfc2136_backend.Rfc2136Backend(rfc2136_backend.parse_config(creds))


class LexiconAuthenticator(DnsAuthenticator):
    """A provider reached over its HTTP API through dns-lexicon."""

    spec: ClassVar[ProviderSpec]

    def prepare(self) -> None:
        if self.spec.unavailable:
            raise NotSupportedError(f"dns-{self.provider}: {self.spec.unavailable}")
        require("lexicon", "lexicon")
        super().prepare()

    def _backend(self, creds: Any) -> RecordBackend:
        return LexiconBackend(self.spec, creds)


def _lexicon_class(provider: str) -> type[LexiconAuthenticator]:
    spec = PROVIDERS[provider]
    doc = f"Obtain certificates using a DNS TXT record (if you are using {spec.title} for DNS)."
    return type(
        f"Dns{provider.title()}", (LexiconAuthenticator,),
        {"__doc__": doc, "name": f"dns-{provider}", "provider": provider, "spec": spec,
         "default_propagation": spec.propagation_seconds,
         "credential_spec": spec.credentials},
    )


cloudflare = _lexicon_class("cloudflare")
cloudxns = _lexicon_class("cloudxns")
digitalocean = _lexicon_class("digitalocean")
dnsimple = _lexicon_class("dnsimple")
dnsmadeeasy = _lexicon_class("dnsmadeeasy")
gehirn = _lexicon_class("gehirn")
linode = _lexicon_class("linode")
luadns = _lexicon_class("luadns")
nsone = _lexicon_class("nsone")
ovh = _lexicon_class("ovh")
sakuracloud = _lexicon_class("sakuracloud")
rfc2136 = Rfc2136


class Route53(DnsAuthenticator):
    """Obtain certificates using a DNS TXT record (if you are using AWS Route53 for DNS)."""

    name = "dns-route53"
    provider = "route53"
    default_propagation = 10
    credential_spec = CredentialSpec(optional=("endpoint_url",))

    def prepare(self) -> None:
        require("boto3", "route53")
        super().prepare()

    def _backend(self, creds: Any) -> RecordBackend:
        from certkernel.plugins.dns.route53 import Route53Backend

        endpoint = str(self.options.get("endpoint-url") or creds.get("endpoint_url") or "")
        return Route53Backend(endpoint_url=endpoint)


route53 = Route53


class Google(DnsAuthenticator):
    """Obtain certificates using a DNS TXT record (if you are using Google Cloud DNS for DNS)."""

    name = "dns-google"
    provider = "google"
    default_propagation = 60
    credential_spec = CredentialSpec(optional=("api_url",))

    def _backend(self, creds: Any) -> RecordBackend:
        from certkernel.plugins.dns.google import GoogleBackend, load_service_account

        path = str(self.options.get("credentials") or "")
        if not path:
            raise PluginError(
                "dns-google: --dns-google-credentials is required: the path to a service "
                "account's JSON key (the GCE metadata server is not supported)")
        api_url = str(self.options.get("api-url") or creds.get("api_url") or "")
        # The kernel reads the key file (secret-text) and sends its text: this
        # process runs unprivileged and cannot read root's 0600 file itself.
        text = self.secrets.get("dns_google_credentials")
        return GoogleBackend(load_service_account(path, text), api_url=api_url)


google = Google
