"""TXT records through dns-lexicon's provider classes.

We drive lexicon's ``Provider`` classes directly rather than its ``Client``:
the client guesses the zone with tldextract, which downloads the Public Suffix
List on first use (and logs tracebacks when offline). Our core guesses zones
itself — each candidate name, most specific first, is tried with the
provider's own ``authenticate()`` — so nothing here touches the network
except the provider's API.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

import requests
import urllib3.exceptions

from certkernel.plugins.dns.credentials import Credentials
from certkernel.plugins.dns.lookup import Nameserver, PublicLookup
from certkernel.plugins.dns.names import zone_candidates
from certkernel.plugins.dns.providers import ProviderSpec
from certkernel.sdk import PluginError

log = logging.getLogger(__name__)

TTL = 60


class LexiconBackend(PublicLookup):
    """One provider account; a lexicon provider object per zone, made on demand."""

    def __init__(self, spec: ProviderSpec, creds: Credentials,
                 resolvers: list[Nameserver] | None = None) -> None:
        self.spec = spec
        self.provider = spec.name
        self.creds = creds
        super().__init__(resolvers)
        self._zones: dict[str, Any] = {}

    # -- RecordBackend ----------------------------------------------------

    def find_zone(self, fqdn: str) -> str:
        tried: list[str] = []
        last = ""
        for candidate in zone_candidates(fqdn, min_labels=2):
            if candidate in self._zones:
                return candidate
            tried.append(candidate)
            try:
                self._zones[candidate] = self._open(candidate)
                return candidate
            except PluginError:
                raise
            except requests.HTTPError as exc:
                status = exc.response.status_code if exc.response is not None else 0
                if status in (401, 403) or self._says_rejected(exc.response):
                    raise PluginError(
                        f"dns-{self.provider}: the {self.spec.title} API rejected the "
                        f"credentials (HTTP {status}); check the file given to "
                        f"--dns-{self.provider}-credentials"
                    ) from exc
                last = f"HTTP {status}"
            except requests.RequestException as exc:
                raise PluginError(
                    f"dns-{self.provider}: cannot reach the {self.spec.title} API: {exc}"
                ) from exc
            except Exception as exc:  # noqa: BLE001 - lexicon raises bare Exceptions
                if _unreachable(exc):
                    raise PluginError(
                        f"dns-{self.provider}: cannot reach the {self.spec.title} API: "
                        f"{_unreachable(exc)}"
                    ) from exc
                last = str(exc) or type(exc).__name__
            log.debug("%s is not a %s zone: %s", candidate, self.spec.title, last)
        raise PluginError(
            f"dns-{self.provider}: none of {', '.join(tried)} is a zone in this "
            f"{self.spec.title} account (last answer: {last})"
        )

    def add_txt(self, zone: str, fqdn: str, value: str) -> None:
        self._call(zone, "create_record", f"add TXT {fqdn}", "TXT", fqdn, value)

    def remove_txt(self, zone: str, fqdn: str, value: str) -> None:
        self._call(zone, "delete_record", f"remove TXT {fqdn}", None, "TXT", fqdn, value)

    # -- internals --------------------------------------------------------

    def _open(self, zone: str) -> Any:
        from lexicon.config import ConfigResolver

        module = importlib.import_module(f"lexicon._private.providers.{self.spec.lexicon}")
        # lexicon's ConfigResolver.__init__ carries no annotations (the rest of it does).
        resolver = ConfigResolver()  # type: ignore[no-untyped-call]
        config = resolver.with_dict({
            "provider_name": self.spec.lexicon,
            "domain": zone,
            "ttl": TTL,
            self.spec.lexicon: self.spec.options(self.creds),
        })
        provider = module.Provider(config)
        api_url = self.creds.get("api_url")
        if api_url:
            base = api_url.rstrip("/") + ("/" if self.spec.endpoint_slash else "")
            setattr(provider, self.spec.endpoint_attr, base)
        elif not getattr(provider, self.spec.endpoint_attr, None):
            raise PluginError(
                f"dns-{self.provider}: lexicon knows no {self.spec.title} API URL for these "
                f"credentials (check dns_{self.provider}_endpoint, or set "
                f"dns_{self.provider}_api_url)"
            )
        provider.authenticate()
        return provider

    def _says_rejected(self, response: requests.Response | None) -> bool:
        """Some APIs refuse bad credentials with a 400 (OVH: a wrong secret breaks the signature)."""
        if response is None or not self.spec.rejected_markers:
            return False
        return any(marker in response.text for marker in self.spec.rejected_markers)

    def _call(self, zone: str, method: str, what: str, *args: Any) -> None:
        provider = self._zones.get(zone)
        if provider is None:
            self.find_zone(zone)
            provider = self._zones[zone]
        try:
            getattr(provider, method)(*args)
        except requests.HTTPError as exc:
            status = exc.response.status_code if exc.response is not None else 0
            raise PluginError(
                f"dns-{self.provider}: the {self.spec.title} API refused to {what} "
                f"(HTTP {status})"
            ) from exc
        except requests.RequestException as exc:
            raise PluginError(f"dns-{self.provider}: {what} failed: {exc}") from exc
        except Exception as exc:  # noqa: BLE001 - lexicon raises bare Exceptions
            raise PluginError(f"dns-{self.provider}: {what} failed: {exc}") from exc


_NETWORK = (ConnectionError, urllib3.exceptions.NewConnectionError,
            urllib3.exceptions.ProtocolError, urllib3.exceptions.ConnectTimeoutError)


def _unreachable(exc: BaseException) -> str:
    """The network failure behind a wrapped error, or "".

    Some lexicon providers hide connection failures (DNS Made Easy's retry
    policy turns a refused connection into "returned a HTTP 400 status
    code"); the original is still on the exception's context chain.
    """
    seen: BaseException | None = exc
    for _ in range(10):  # chains are short; bounded anyway
        if seen is None:
            return ""
        if isinstance(seen, _NETWORK):
            return str(seen) or type(seen).__name__
        seen = seen.__cause__ or seen.__context__
    return ""
