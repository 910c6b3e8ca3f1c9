"""One certificate order, from CSR to PEM files, driving the authenticators.

Why this is separate from the session: this is the part with the policy a
user sees — which challenge is chosen (plugin preference intersected with
``--preferred-challenges``), that every authenticator gets all of its
challenges in one ``perform`` call, that ``cleanup`` ALWAYS runs, that
authorizations left pending after a failure are deactivated, and what
``--allow-subset-of-names`` drops. The CSR (and its key) are made by the
caller; for ``--allow-subset-of-names`` the caller gives ``make_csr``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from certkernel import errors
from certkernel.ca.acme_problems import describe_failed_authorization
from certkernel.ca.acme_session import AcmeSession
from certkernel.ca.chains import select_chain, split_fullchain
from certkernel.interfaces import Authenticator
from certkernel.protocol.messages import Challenge

if TYPE_CHECKING:
    from acme import messages

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class IssuedCertificate:
    """What the CA gave us, after --preferred-chain; what storage saves."""

    cert_pem: str
    chain_pem: str
    fullchain_pem: str
    dropped_names: tuple[str, ...] = ()


@dataclass
class _Pending:
    """One authorization we must answer, with the challenge picked for it."""

    authzr: messages.AuthorizationResource
    name: str  # as requested: "*.example.com" for a wildcard
    challb: Any
    response: Any
    challenge: Challenge
    authenticator: Authenticator


class AuthorizationFailed(errors.AuthorizationError):
    """Some identifiers failed validation; ``failed`` maps each name to the CA's problem."""

    def __init__(self, failed: Mapping[str, str]) -> None:
        self.failed = dict(failed)
        lines = "; ".join(self.failed.values())
        super().__init__(f"Some challenges failed ({', '.join(self.failed)}): {lines}")


def csr_names(csr_pem: bytes) -> list[str]:
    """DNS names and IP addresses a CSR asks for (SAN, else CN), in order."""
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    try:
        csr = x509.load_pem_x509_csr(csr_pem)
    except ValueError as exc:
        raise errors.ValidationError(f"the CSR is not valid PEM: {exc}") from None
    try:
        san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = san.get_values_for_type(x509.DNSName)
        names += [str(ip) for ip in san.get_values_for_type(x509.IPAddress)]
    except x509.ExtensionNotFound:
        names = [str(a.value) for a in csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    if not names:
        raise errors.ValidationError("the CSR names no domain or IP address")
    return list(dict.fromkeys(names))


def choose_challenge_type(name: str, offered: Sequence[str], plugin_prefs: Sequence[str],
                          preferred: Sequence[str] = ()) -> str:
    """Certbot's rule: the user's order (if any) restricted to what the plugin can do."""
    order = [c for c in preferred if c in plugin_prefs] if preferred else list(plugin_prefs)
    for typ in order:
        if typ in offered:
            return typ
    raise errors.AuthorizationError(
        f"No challenge for {name} that both sides support: the CA offers "
        f"{', '.join(offered) or 'none'}, the authenticator can do "
        f"{', '.join(plugin_prefs) or 'none'}"
        + (f", --preferred-challenges allows {', '.join(preferred)}" if preferred else ""))


def _requested_name(authzr: messages.AuthorizationResource) -> str:
    value = authzr.body.identifier.value
    return f"*.{value}" if authzr.body.wildcard else value


def _challenge_for(authzr: messages.AuthorizationResource, challb: Any,
                   account_key: Any) -> tuple[Any, Challenge]:
    """Compute every value a plugin needs, so plugins never see the account key."""
    chall = challb.chall
    ident = authzr.body.identifier
    response, validation = chall.response_and_validation(account_key)
    key_authz = chall.key_authorization(account_key)
    is_ip = ident.typ.name == "ip"
    dns_name = ""
    if chall.typ == "dns-01":
        dns_name = chall.validation_domain_name(ident.value)
    elif not isinstance(validation, str):
        validation = key_authz  # tls-alpn-01 gives a (cert, key) pair; send the key authz
    uri_path = chall.path if chall.typ == "http-01" else ""
    challenge = Challenge(
        identifier=ident.value, identifier_type="ip" if is_ip else "dns",
        wildcard=bool(authzr.body.wildcard), type=chall.typ,
        token=chall.encode("token"), key_authorization=key_authz, validation=validation,
        validation_domain_name=dns_name, uri_path=uri_path)
    return response, challenge


class Issuance:
    """Run orders for one session; keeps the last order for callers that inspect it."""

    def __init__(self, session: AcmeSession,
                 before_answer: Callable[[list[Challenge]], None] | None = None,
                 *, dry_run: bool = False) -> None:
        self.session = session
        # A dry run must really test the challenges: authorizations the CA
        # reuses (valid from an earlier issuance) are deactivated and the
        # order made again, as Certbot does.
        self.dry_run = dry_run
        self.last_order: messages.OrderResource | None = None
        # Called after every perform, before the CA is told to validate
        # (``--debug-challenges`` pauses there so the user can inspect).
        self.before_answer = before_answer

    def issue(self, *, csr_pem: bytes, authenticators: Mapping[str, Authenticator],
              preferred_challenges: Sequence[str] = (), preferred_chain: str | None = None,
              allow_subset_of_names: bool = False,
              make_csr: Callable[[list[str]], bytes] | None = None,
              replaces: str | None = None) -> IssuedCertificate:
        """Obtain a certificate for the CSR's names; see the module docstring."""
        names = csr_names(csr_pem)
        missing = [n for n in names if n not in authenticators]
        if missing:
            raise errors.ConfigurationError(f"no authenticator for {', '.join(missing)}")
        for name in names:
            if name.startswith("*."):
                prefs = authenticators[name].get_chall_pref(name)
                usable = [c for c in preferred_challenges if c in prefs] if \
                    preferred_challenges else prefs
                if "dns-01" not in usable:
                    raise errors.ConfigurationError(
                        f"{name} is a wildcard, which needs dns-01, but its authenticator "
                        f"(with --preferred-challenges) offers only {', '.join(usable) or 'none'}")
        if allow_subset_of_names and make_csr is None:
            raise errors.ConfigurationError("--allow-subset-of-names needs a CSR factory")
        try:
            fullchains = self._run(csr_pem, authenticators, preferred_challenges, replaces)
            dropped: list[str] = []
        except AuthorizationFailed as exc:
            if not allow_subset_of_names or make_csr is None:
                raise
            dropped = [n for n in names if n in exc.failed]
            remaining = [n for n in names if n not in exc.failed]
            if not remaining:
                raise
            logger.warning("Dropping names that failed validation: %s", ", ".join(dropped))
            fullchains = self._run(make_csr(remaining), authenticators,
                                   preferred_challenges, replaces)
        fullchain = select_chain(fullchains, preferred_chain)
        cert, chain = split_fullchain(fullchain)
        return IssuedCertificate(cert_pem=cert, chain_pem=chain, fullchain_pem=cert + chain,
                                 dropped_names=tuple(dropped))

    def _run(self, csr_pem: bytes, authenticators: Mapping[str, Authenticator],
             preferred: Sequence[str], replaces: str | None = None) -> list[str]:
        """One order: perform, answer, poll, cleanup (always), finalize."""
        from acme import messages

        orderr = (self.session.new_order(csr_pem, replaces=replaces) if replaces
                  else self.session.new_order(csr_pem))
        if self.dry_run and self._deactivate_valid(orderr):
            logger.info("Recreating order after authz deactivations")  # Certbot's words
            orderr = self.session.new_order(csr_pem)
        self.last_order = orderr
        succeeded = False
        performed: list[list[_Pending]] = []
        try:
            todo = self._select(orderr, authenticators, preferred)
            groups = self._group(todo)
            for group in groups:
                performed.append(group)
                group[0].authenticator.perform([p.challenge for p in group])
            if self.before_answer is not None and todo:
                self.before_answer([p.challenge for p in todo])
            for pending in todo:
                self.session.answer_challenge(pending.challb, pending.response)
            final = self.session.poll_authorizations([p.authzr for p in todo])
            failed = {_requested_name(a): describe_failed_authorization(a)
                      for a in final if a.body.status != messages.STATUS_VALID}
            if failed:
                raise AuthorizationFailed(failed)
            succeeded = True
        finally:
            self._cleanup(performed)
            if not succeeded:
                count = self.session.deactivate_pending(orderr.authorizations)
                if count:
                    logger.info("Deactivated %d pending authorization(s)", count)
        done = self.session.finalize(orderr)
        self.last_order = done
        return [done.fullchain_pem, *(done.alternative_fullchains_pem or [])]

    def _deactivate_valid(self, orderr: messages.OrderResource) -> int:
        """Deactivate the order's already-valid authorizations; return how many were.

        One that cannot be deactivated is logged and the dry run goes on
        (Certbot warns the same way): its name is then not really tested.
        """
        from acme import messages

        count = 0
        for authzr in orderr.authorizations:
            if authzr.body.status != messages.STATUS_VALID:
                continue
            try:
                with self.session.mapped(errors.CAError, "deactivate an authorization"):
                    self.session.client.deactivate_authorization(authzr)
                count += 1
            except errors.Error as exc:
                logger.warning("Could not deactivate the valid authorization for %s (%s); the "
                               "dry run goes on, but does not test that name",
                               _requested_name(authzr), exc)
        if count:
            logger.info("Dry run: deactivated %d reused authorization(s) so the challenges "
                        "are really tested", count)
        return count

    def _select(self, orderr: messages.OrderResource,
                authenticators: Mapping[str, Authenticator],
                preferred: Sequence[str]) -> list[_Pending]:
        from acme import messages

        todo = []
        for authzr in orderr.authorizations:
            if authzr.body.status == messages.STATUS_VALID:
                continue  # reused authorization: nothing to prove
            name = _requested_name(authzr)
            auth = authenticators.get(name)
            if auth is None:
                raise errors.AuthorizationError(f"the CA asked about {name}, not in the CSR")
            offered = [c.chall.typ for c in authzr.body.challenges]
            typ = choose_challenge_type(name, offered, auth.get_chall_pref(name), preferred)
            challb = next(c for c in authzr.body.challenges if c.chall.typ == typ)
            response, challenge = _challenge_for(authzr, challb, self.session.key)
            todo.append(_Pending(authzr, name, challb, response, challenge, auth))
        return todo

    @staticmethod
    def _group(todo: list[_Pending]) -> list[list[_Pending]]:
        """All challenges of one authenticator together, in first-seen order."""
        groups: dict[int, list[_Pending]] = {}
        for pending in todo:
            groups.setdefault(id(pending.authenticator), []).append(pending)
        return list(groups.values())

    @staticmethod
    def _cleanup(performed: list[list[_Pending]]) -> None:
        """Clean up every group whose perform was attempted; log, never mask, failures."""
        for group in performed:
            try:
                group[0].authenticator.cleanup([p.challenge for p in group])
            except Exception as exc:  # a cleanup failure must not hide the real outcome
                logger.error("Cleanup by %s failed: %s",
                             getattr(group[0].authenticator, "name", type(group[0].authenticator).__name__), exc)
