"""The ACME conversation with one CA, for one account key, behind one object.

Why not use ``acme.client.ClientV2`` directly: its polling sleeps a fixed
second (a Pebble issuance would take >1 s instead of milliseconds), it
retries a bad nonce only once, and its exceptions are not ours. This module
keeps the library for JWS, messages and transport, and owns the policy:
polling with a short first interval, backoff and Retry-After; bounded
bad-nonce retries; errors that quote the RFC 8555 problem with a hint.

``acme``/``josepy``/``requests`` are imported lazily so ``--help`` stays fast.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from certkernel import errors
from certkernel.ca.acme_network import client_error_text, client_network
from certkernel.ca.acme_problems import describe_problem, retry_after_seconds
from certkernel.version import __version__

if TYPE_CHECKING:
    import requests
    from acme import messages
    from josepy.jwk import JWK

logger = logging.getLogger(__name__)

DEFAULT_USER_AGENT = f"certkernel/{__version__}"
# Revocation reasons (RFC 5280) by the names Certbot's --reason accepts.
REVOCATION_REASONS = {
    "unspecified": 0, "keycompromise": 1, "affiliationchanged": 3,
    "superseded": 4, "cessationofoperation": 5,
}


@dataclass(frozen=True)
class SessionSettings:
    """How to reach the CA and how patient to be with it."""

    server: str
    verify: bool | str = True  # False = --no-verify-ssl; a path = private CA bundle
    user_agent: str = DEFAULT_USER_AGENT
    network_timeout: float = 45.0
    bad_nonce_retries: int = 8
    poll_initial: float = 0.02  # Pebble answers in ms; LE in ~1 s
    poll_factor: float = 1.6
    poll_max: float = 3.0
    retry_after_cap: float = 60.0
    poll_timeout: float = 90.0  # --issuance-timeout
    # ACME profiles (draft-aaron-acme-profiles): required fails, preferred falls back
    preferred_profile: str | None = None
    required_profile: str | None = None


@dataclass(frozen=True)
class AccountInfo:
    """What the CA says about an account (stored by accounts.py as regr.json)."""

    uri: str
    contacts: tuple[str, ...] = ()
    status: str | None = None
    terms_of_service: str | None = None


@dataclass
class PollStats:
    """Counts kept for logs, tests and benchmarks."""

    polls: int = 0
    bad_nonce_retries: int = 0
    delays: list[float] = field(default_factory=list)


class AcmeSession:
    """One CA directory and one account key; every ACME request goes through here."""

    def __init__(self, settings: SessionSettings, key: JWK,
                 account_uri: str | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        from acme import client as acme_client
        from acme import messages

        self.settings = settings
        self.key = key
        self.stats = PollStats()
        self._sleep = sleep
        self.net = client_network(settings, key, self.stats)
        with self.mapped(errors.CAError, f"fetch the ACME directory {settings.server}"):
            directory = acme_client.ClientV2.get_directory(settings.server, self.net)
        self.client = acme_client.ClientV2(directory, self.net)
        if account_uri:
            self.net.account = messages.RegistrationResource(
                uri=account_uri, body=messages.Registration())

    # -- error mapping ----------------------------------------------------
    @contextmanager
    def mapped(self, kind: type[errors.Error], action: str) -> Iterator[None]:
        """Turn acme/requests exceptions into ``kind`` with a one-line message."""
        import requests
        from acme import errors as acme_errors
        from acme import messages

        try:
            yield
        except errors.Error:
            raise
        except messages.Error as exc:
            raise kind(f"Could not {action}: {describe_problem(exc)}") from exc
        except requests.exceptions.SSLError as exc:
            raise kind(f"Could not {action}: TLS verification of {self.settings.server} "
                       f"failed ({exc}). Hint: pass the CA bundle of a private CA, or "
                       "--no-verify-ssl for testing only.") from exc
        except requests.exceptions.RequestException as exc:
            raise kind(f"Could not {action}: cannot reach {self.settings.server} "
                       f"({type(exc).__name__}: {exc})") from exc
        except acme_errors.ClientError as exc:
            raise kind(f"Could not {action}: {client_error_text(exc)}") from exc
        except (acme_errors.Error, ValueError) as exc:
            raise kind(f"Could not {action}: {exc}") from exc

    # -- accounts ---------------------------------------------------------
    @property
    def terms_of_service(self) -> str | None:
        meta = getattr(self.client.directory, "meta", None)
        return getattr(meta, "terms_of_service", None) if meta else None

    @property
    def external_account_required(self) -> bool:
        return bool(self.client.external_account_required())

    def register(self, *, emails: Sequence[str] = (), agree_tos: bool,
                 eab_kid: str | None = None, eab_hmac_key: str | None = None,
                 eab_hmac_alg: str = "HS256") -> AccountInfo:
        """Create the account (or find the existing one for this key)."""
        from acme import errors as acme_errors
        from acme import messages

        if bool(eab_kid) != bool(eab_hmac_key):
            raise errors.AccountError("--eab-kid and --eab-hmac-key must be given together")
        if self.external_account_required and not eab_kid:
            raise errors.AccountError(
                f"{self.settings.server} requires External Account Binding: "
                "pass --eab-kid and --eab-hmac-key from your CA")
        eab = None
        if eab_kid and eab_hmac_key:
            try:
                eab = messages.ExternalAccountBinding.from_data(
                    account_public_key=self.key.public_key(), kid=eab_kid,
                    hmac_key=eab_hmac_key, directory=self.client.directory,
                    hmac_alg=eab_hmac_alg)
            except Exception as exc:  # josepy raises several kinds for bad base64
                raise errors.AccountError(
                    f"--eab-hmac-key is not valid base64url: {exc}") from None
        new = messages.NewRegistration.from_data(
            email=",".join(emails) or None, terms_of_service_agreed=agree_tos,
            external_account_binding=eab)
        with self.mapped(errors.AccountError, "register an account"):
            try:
                regr = self.client.new_account(new)
            except acme_errors.ConflictError as exc:
                self._set_account_uri(exc.location)
                return self.query_account()
        return self._info(regr)

    def _set_account_uri(self, uri: str) -> None:
        from acme import messages

        self.net.account = messages.RegistrationResource(uri=uri, body=messages.Registration())

    def _regr(self) -> messages.RegistrationResource:
        if self.net.account is None:
            raise errors.AccountNotFound("no account URI known for this key; register first")
        return self.net.account

    @staticmethod
    def _info(regr: messages.RegistrationResource) -> AccountInfo:
        body = regr.body
        status = getattr(body, "status", None)
        return AccountInfo(uri=regr.uri, contacts=tuple(body.contact or ()),
                           status=str(getattr(status, "name", status)) if status is not None else None,
                           terms_of_service=regr.terms_of_service)

    def query_account(self) -> AccountInfo:
        with self.mapped(errors.AccountError, "look up the account"):
            return self._info(self.client.query_registration(self._regr()))

    def update_contacts(self, emails: Sequence[str]) -> AccountInfo:
        """Replace the account's contact list (empty = remove all)."""
        from acme import messages

        with self.mapped(errors.AccountError, "update the account"):
            regr = self.client.query_registration(self._regr())
            update = messages.Registration(contact=tuple(f"mailto:{e}" for e in emails))
            return self._info(self.client.update_registration(regr, update))

    def deactivate_account(self) -> AccountInfo:
        with self.mapped(errors.AccountError, "deactivate the account"):
            return self._info(self.client.deactivate_registration(self._regr()))

    # -- orders -----------------------------------------------------------
    def new_order(self, csr_pem: bytes, replaces: str | None = None) -> messages.OrderResource:
        """Create an order; with ``replaces`` (an RFC 9773 cert ID) it names the cert it renews.

        A CA that refuses the ``replaces`` field (already replaced, unknown
        cert) must not fail the renewal: the order is retried without it.
        """
        from acme import messages

        profile = self.order_profile()
        if replaces:
            try:
                with self.mapped(errors.CAError, "create an order"):
                    return self._new_order_replacing(csr_pem, replaces, profile)
            except errors.CAError as exc:
                if not isinstance(exc.__cause__, messages.Error):
                    raise
                logger.warning("The CA refused an order that replaces %s (%s); "
                               "ordering without 'replaces'", replaces, exc)
        with self.mapped(errors.CAError, "create an order"):
            return self.client.new_order(csr_pem, profile=profile)

    def offered_profiles(self) -> dict[str, str]:
        """Profile name -> description, from the directory's ``meta.profiles``."""
        meta = getattr(self.client.directory, "meta", None)
        profiles = getattr(meta, "profiles", None) if meta else None
        return {str(k): str(v) for k, v in (profiles or {}).items()}

    def order_profile(self) -> str | None:
        """The profile to put in new orders (Certbot's rule, with an early, clear refusal).

        ``--required-profile`` must be offered by the CA's directory: asking
        a CA that does not list it would either fail late or be silently
        ignored (Pebble 2.4), which is what "required" rules out.
        ``--preferred-profile`` is used only when offered, else the CA's default.
        """
        s = self.settings
        offered = self.offered_profiles()
        if s.required_profile:
            if s.required_profile not in offered:
                listing = (f"it offers {', '.join(sorted(offered))}" if offered
                           else "its directory lists no profiles")
                raise errors.CAError(
                    f"--required-profile {s.required_profile}: the CA at {s.server} does not "
                    f"offer this profile ({listing}). Choose one it offers, or use "
                    "--preferred-profile to fall back to the CA's default.")
            return s.required_profile
        if s.preferred_profile:
            if s.preferred_profile in offered:
                return s.preferred_profile
            logger.info("Profile %r is not offered by %s (offered: %s); using the CA's default",
                        s.preferred_profile, s.server, ", ".join(sorted(offered)) or "none")
        return None

    def _new_order_replacing(self, csr_pem: bytes, replaces: str,
                             profile: str | None = None) -> messages.OrderResource:
        from acme import crypto_util, messages
        from cryptography import x509
        from josepy.json_util import field as jose_field

        class _Replacing(messages.NewOrder):
            replaces: str = jose_field("replaces", omitempty=True)

        csr = x509.load_pem_x509_csr(csr_pem)
        dns_names, ips = crypto_util.get_identifiers_from_x509(csr.subject, csr.extensions)
        identifiers = [messages.Identifier(typ=messages.IDENTIFIER_FQDN, value=name)
                       for name in dns_names]
        identifiers += [messages.Identifier(typ=messages.IDENTIFIER_IP, value=str(ip))
                        for ip in ips]
        order = _Replacing(identifiers=identifiers, replaces=replaces, profile=profile)
        response = self.net.post(self.client.directory["newOrder"], order,
                                 new_nonce_url=self.client.directory["newNonce"])
        body = messages.Order.from_json(response.json())
        authorizations = []
        for url in body.authorizations or ():
            authz = self._post_as_get(url)
            authorizations.append(messages.AuthorizationResource(
                body=messages.Authorization.from_json(authz.json()), uri=url))
        return messages.OrderResource(body=body, uri=response.headers.get("Location"),
                                      authorizations=authorizations, csr_pem=csr_pem)

    def answer_challenge(self, challb: messages.ChallengeBody, response: Any) -> None:
        with self.mapped(errors.CAError, f"answer the {challb.chall.typ} challenge"):
            self.client.answer_challenge(challb, response)

    def _post_as_get(self, url: str) -> requests.Response:
        return self.net.post(url, None, new_nonce_url=self.client.directory["newNonce"])

    def next_delay(self, previous: float | None, response: requests.Response | None) -> float:
        """Seconds to wait before the next poll: Retry-After if given, else backoff."""
        s = self.settings
        header = response.headers.get("Retry-After") if response is not None else None
        hinted = retry_after_seconds(header) if header else None
        if hinted is not None:
            return min(max(hinted, 0.0), s.retry_after_cap)
        return s.poll_initial if previous is None else min(previous * s.poll_factor, s.poll_max)

    def _wait(self, delay: float, deadline: float, what: str) -> None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise errors.CAError(f"Timed out after {self.settings.poll_timeout:.0f}s "
                                 f"waiting for the CA to {what} (see --issuance-timeout)")
        delay = min(delay, remaining)
        self.stats.delays.append(delay)
        self._sleep(delay)

    def poll_authorizations(self, authzrs: Sequence[messages.AuthorizationResource]
                            ) -> list[messages.AuthorizationResource]:
        """Poll until no authorization is pending; return them in their final state."""
        from acme import messages

        deadline = time.monotonic() + self.settings.poll_timeout
        current = list(authzrs)
        delay: float | None = None
        with self.mapped(errors.AuthorizationError, "poll the authorizations"):
            while True:
                last = None
                for i, authzr in enumerate(current):
                    if authzr.body.status == messages.STATUS_PENDING:
                        current[i], last = self.client.poll(authzr)
                        self.stats.polls += 1
                if all(a.body.status != messages.STATUS_PENDING for a in current):
                    return current
                delay = self.next_delay(delay, last)
                self._wait(delay, deadline, "validate the challenges")

    def finalize(self, orderr: messages.OrderResource) -> messages.OrderResource:
        """Send the CSR, poll until the certificate exists, fetch it and its alternates."""
        from acme import messages

        deadline = time.monotonic() + self.settings.poll_timeout
        delay: float | None = None
        with self.mapped(errors.IssuanceError, "finalize the order"):
            try:
                orderr = self.client.begin_finalization(orderr)
                body, response = orderr.body, None
            except messages.Error as exc:
                if exc.code != "orderNotReady":
                    raise
                body, response = orderr.body, None
            while True:
                if body.status == messages.STATUS_VALID and body.certificate:
                    return self._download(orderr.update(body=body), body.certificate)
                if body.status == messages.STATUS_INVALID:
                    problem = describe_problem(body.error) if body.error else "no reason given"
                    raise errors.IssuanceError(f"The CA refused to issue: {problem}")
                if body.status == messages.STATUS_READY and response is not None:
                    orderr = self.client.begin_finalization(orderr)
                    body = orderr.body
                    continue
                delay = self.next_delay(delay, response)
                self._wait(delay, deadline, "issue the certificate")
                response = self._post_as_get(orderr.uri)
                self.stats.polls += 1
                body = messages.Order.from_json(response.json())

    def _download(self, orderr: messages.OrderResource, url: str) -> messages.OrderResource:
        import requests

        response = self._post_as_get(url)
        links = requests.utils.parse_header_links(response.headers.get("Link", ""))
        alternates = [link["url"] for link in links
                      if link.get("rel") == "alternate" and "url" in link]
        texts = [self._post_as_get(alt).text for alt in alternates]
        # josepy's ImmutableMap.update is untyped through acme's resource classes.
        updated: messages.OrderResource = orderr.update(
            fullchain_pem=response.text, alternative_fullchains_pem=texts)
        return updated

    def deactivate_pending(self, authzrs: Sequence[messages.AuthorizationResource]) -> int:
        """Deactivate those still pending (after a failure); return how many were."""
        from acme import messages

        count = 0
        for authzr in authzrs:
            try:
                fresh, _ = self.client.poll(authzr)
                if fresh.body.status == messages.STATUS_PENDING:
                    self.client.deactivate_authorization(fresh)
                    count += 1
            except Exception as exc:  # best effort: the original error matters more
                logger.warning("Could not deactivate authorization %s: %s", authzr.uri, exc)
        return count

    # -- revocation -------------------------------------------------------
    def revoke(self, cert_pem: bytes, reason: int = 0) -> None:
        """Revoke with this session's key (the account key, or the cert's own key)."""
        from cryptography import x509

        cert = x509.load_pem_x509_certificate(cert_pem)
        with self.mapped(errors.CAError, f"revoke certificate serial {cert.serial_number:x}"):
            self.client.revoke(cert, reason)

    @classmethod
    def with_certificate_key(cls, settings: SessionSettings, key_pem: bytes,
                             sleep: Callable[[float], None] = time.sleep) -> AcmeSession:
        """A session signed by a certificate's private key (revocation without account)."""
        from cryptography.hazmat.primitives import serialization
        from josepy.jwk import JWK

        try:
            private = serialization.load_pem_private_key(key_pem, password=None)
        except (ValueError, TypeError) as exc:
            raise errors.ValidationError(f"cannot read the certificate key: {exc}") from None
        return cls(settings, JWK.load(private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption())), sleep=sleep)


