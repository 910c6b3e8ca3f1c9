"""ACME Renewal Information over the network: fetch, refresh the cache, ``replaces``.

Why apart from :mod:`certkernel.ca.ari`: that module decides offline with the
standard library only; everything here may import ``requests`` and
``cryptography`` and is called only when a cached answer is missing or past
its Retry-After, right after an issuance, or when ordering a renewal.

Failures here never fail a renewal or an issuance: they are logged and the
caller falls back to ``renew_before_expiry`` (or to an order without
``replaces``). The renewalInfo resource is a plain unauthenticated GET
(RFC 9773 §4.1), so no account key is needed to ask.
"""

from __future__ import annotations

import base64
import datetime
import logging
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from certkernel import errors
from certkernel.ca import ari
from certkernel.ca.acme_setup import session_settings
from certkernel.lineages.named_lineage import lineage_config

if TYPE_CHECKING:
    from certkernel.ca.acme_session import AcmeSession
    from certkernel.config import Config
    from certkernel.lineages.storage import Lineage

logger = logging.getLogger(__name__)

TIMEOUT = 10.0
MAX_WORKERS = 8


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def cert_id(cert_pem: bytes) -> str | None:
    """RFC 9773 §4.1 certificate identifier: base64url(AKI keyIdentifier) "." base64url(serial).

    The serial is the DER INTEGER's content bytes (two's complement, so a
    leading zero byte when the top bit is set). None when the cert has no
    Authority Key Identifier: such a cert cannot be named to the CA.
    """
    from cryptography import x509

    cert = x509.load_pem_x509_certificate(cert_pem)
    try:
        aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    except x509.ExtensionNotFound:
        return None
    if aki.key_identifier is None:
        return None
    serial = cert.serial_number
    serial_bytes = serial.to_bytes((serial.bit_length() + 8) // 8, "big", signed=True)
    return f"{_b64(aki.key_identifier)}.{_b64(serial_bytes)}"


@dataclass(frozen=True)
class Endpoint:
    """How to reach one CA: its directory, TLS trust and our User-Agent."""

    server: str
    verify: bool | str = True
    user_agent: str = "certkernel"


def _get(endpoint: Endpoint, url: str) -> Any:
    import requests

    try:
        response = requests.get(url, verify=endpoint.verify, timeout=TIMEOUT,
                                headers={"User-Agent": endpoint.user_agent})
    except requests.exceptions.RequestException as exc:
        raise errors.CAError(f"cannot reach {url} ({type(exc).__name__}: {exc})") from exc
    if response.status_code != 200:
        raise errors.CAError(f"HTTP {response.status_code} from {url}")
    return response


def parse_renewal_info(body: Any) -> tuple[ari.Window, str | None]:
    """(window, explanationURL) from a renewalInfo JSON body; CAError when malformed."""
    try:
        window = body["suggestedWindow"]
        start, end = ari.parse_time(window["start"]), ari.parse_time(window["end"])
    except (KeyError, TypeError, ValueError) as exc:
        raise errors.CAError(f"malformed renewalInfo (no valid suggestedWindow: {exc})") from exc
    if end < start:
        raise errors.CAError("malformed renewalInfo: the window ends before it starts")
    explanation = body.get("explanationURL") if isinstance(body, dict) else None
    return ari.Window(start, end), str(explanation) if explanation else None


def fetch_state(endpoint: Endpoint, renewal_info_url: str | None, cert_pem: bytes,
                now: datetime.datetime | None = None) -> ari.AriState:
    """Ask the CA about one certificate (or record that it cannot be asked)."""
    now = now or datetime.datetime.now(datetime.UTC)
    digest = ari.cert_digest(cert_pem)
    cid = cert_id(cert_pem)
    if renewal_info_url is None or cid is None:
        return ari.AriState(digest, endpoint.server, None, now, now + ari.NO_ARI_RETRY,
                            cert_id=cid)
    response = _get(endpoint, f"{renewal_info_url.rstrip('/')}/{cid}")
    try:
        body = response.json()
    except ValueError as exc:
        raise errors.CAError(f"renewalInfo is not JSON: {exc}") from exc
    window, explanation = parse_renewal_info(body)
    return ari.AriState(digest, endpoint.server, renewal_info_url, now,
                        ari.retry_after(response.headers.get("Retry-After"), now),
                        cert_id=cid, window=window, explanation_url=explanation)


@dataclass
class Refresher:
    """Refreshes stale caches for one ``renew`` run: one directory fetch per server."""

    config: Config
    # the run's clock (the database's in fleet mode): the answers' fetched/next-check times
    now: datetime.datetime | None = None
    _directories: dict[str, str | None] = field(default_factory=dict)
    _failed: dict[str, errors.CAError] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    directory_fetches: int = 0

    def renewal_info_url(self, endpoint: Endpoint) -> str | None:
        """The server's renewalInfo URL; a failed lookup is not retried in this run."""
        with self._lock:
            if endpoint.server in self._failed:
                raise self._failed[endpoint.server]
            if endpoint.server in self._directories:
                return self._directories[endpoint.server]
            self.directory_fetches += 1
            try:
                body = _get(endpoint, endpoint.server).json()
            except ValueError:
                body = None
            except errors.CAError as exc:
                self._failed[endpoint.server] = exc
                raise
            if not isinstance(body, dict):
                not_acme = errors.CAError(f"{endpoint.server} is not an ACME directory")
                self._failed[endpoint.server] = not_acme
                raise not_acme
            url = body.get("renewalInfo")
            self._directories[endpoint.server] = str(url) if url else None
            return self._directories[endpoint.server]

    def endpoint_for(self, lineage: Lineage) -> Endpoint:
        """The lineage's server and TLS settings, the command line overriding its conf."""
        settings = session_settings(lineage_config(self.config, lineage))
        return Endpoint(settings.server, settings.verify, settings.user_agent)

    def refresh(self, lineage: Lineage, cached: ari.AriState | None) -> ari.AriState | None:
        """Fetch and save the lineage's state.

        On failure (logged) the old window, if any, is kept and the next
        attempt is put off by :data:`ari.FAILED_RETRY`, so an unreachable CA
        costs one attempt per hour, not one per run and lineage.
        """
        endpoint: Endpoint | None = None
        try:
            endpoint = self.endpoint_for(lineage)
            if cached is not None and cached.server == endpoint.server \
                    and cached.renewal_info_url:
                url: str | None = cached.renewal_info_url
            else:
                url = self.renewal_info_url(endpoint)
            state = fetch_state(endpoint, url, lineage.read("cert"), self.now)
        except (errors.Error, OSError, ValueError) as exc:
            logger.warning("Could not get renewal information for %s: %s; deciding from %s",
                           lineage.name, exc, "the cached window" if cached and cached.window
                           else "the certificate's expiry")
            if endpoint is None:
                return cached
            state = ari.failed_state(lineage.read("cert"), endpoint.server, cached, self.now)
        ari.save(lineage, state)
        return state

    def refresh_all(self, items: Sequence[tuple[Lineage, ari.AriState | None]]
                    ) -> list[ari.AriState | None]:
        """Refresh many lineages on a small pool (a CA round trip each)."""
        if not items:
            return []
        with ThreadPoolExecutor(min(MAX_WORKERS, len(items)), thread_name_prefix="ari") as pool:
            return list(pool.map(lambda item: self.refresh(*item), items))


def directory_renewal_info(session: AcmeSession) -> str | None:
    """The renewalInfo URL of a session's directory, None when the CA has no ARI."""
    try:
        url = session.client.directory["renewalInfo"]
    except (KeyError, AttributeError):
        return None
    return str(url) if url else None


def replaces_for(session: AcmeSession, lineage: Lineage) -> str | None:
    """The ARI cert ID a renewal order names in ``replaces``, when the CA supports ARI."""
    if directory_renewal_info(session) is None:
        return None
    try:
        return cert_id(lineage.read("cert"))
    except (OSError, ValueError, errors.Error) as exc:
        logger.warning("Cannot name the certificate %s replaces: %s", lineage.name, exc)
        return None


def record_after_issuance(session: AcmeSession, lineage: Lineage,
                          now: datetime.datetime | None = None) -> None:
    """Cache the new cert's window right away, so the next renew runs offline.

    ``now`` is the store's clock (the database's in fleet mode), which the
    answer's fetched and next-check times are on.
    """
    settings = session.settings
    endpoint = Endpoint(settings.server, settings.verify, settings.user_agent)
    try:
        state = fetch_state(endpoint, directory_renewal_info(session), lineage.read("cert"),
                            now)
    except (errors.Error, OSError, ValueError) as exc:
        logger.warning("Could not get renewal information for %s: %s", lineage.name, exc)
        return
    ari.save(lineage, state)
