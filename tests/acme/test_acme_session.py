"""Session behaviour: chains, revocation, bad nonces, polling, error texts."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from types import SimpleNamespace

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from certkernel import errors
from certkernel.ca.accounts import new_account_key
from certkernel.ca.acme_problems import describe_problem, retry_after_seconds
from certkernel.ca.acme_session import AcmeSession, SessionSettings
from certkernel.ca.issuance import Issuance, IssuedCertificate
from tests.acme.conftest import settings_for
from tests.acme.helpers import DnsAuthenticator
from tests.infra.csr import make_key_and_csr
from tests.infra.pebble import Pebble


def _issue(pebble: Pebble, session: AcmeSession, name: str,
           preferred_chain: str | None = None) -> tuple[bytes, IssuedCertificate]:
    key_pem, csr = make_key_and_csr([name])
    result = Issuance(session).issue(csr_pem=csr, authenticators={name: DnsAuthenticator(pebble)},
                                     preferred_chain=preferred_chain)
    return key_pem, result


def _cn(name: x509.Name) -> str:
    return str(name.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)


def _serial(cert_pem: str) -> int:
    return x509.load_pem_x509_certificate(cert_pem.encode()).serial_number


def test_preferred_chain_picks_alternate_root(pebble_factory: Callable[..., Pebble],
                                              session_factory: Callable[..., AcmeSession]) -> None:
    alt = pebble_factory(alternate_roots=1)
    session = session_factory(alt)
    roots = [x509.load_pem_x509_certificate(alt.root_pem(i).encode()) for i in (0, 1)]
    assert _cn(roots[0].subject) != _cn(roots[1].subject)

    for wanted, preferred in ((roots[1], _cn(roots[1].subject)), (roots[0], _cn(roots[0].subject)),
                              (roots[0], "No Such Root CA"), (roots[0], None)):
        _, result = _issue(alt, session, "chain.example.com", preferred)
        top = x509.load_pem_x509_certificates(result.chain_pem.encode())[-1]
        assert _cn(top.issuer) == _cn(wanted.subject), preferred
        top.verify_directly_issued_by(wanted)


def test_revoke_with_account_key(pebble: Pebble, session: AcmeSession) -> None:
    _, result = _issue(pebble, session, "revoke-acct.example.com")
    serial = _serial(result.cert_pem)
    assert pebble.cert_status(serial)["Status"] == "Valid"
    session.revoke(result.cert_pem.encode(), reason=4)
    assert pebble.cert_status(serial)["Status"] == "Revoked"
    with pytest.raises(errors.CAError, match="alreadyRevoked.*hint: the certificate was"):
        session.revoke(result.cert_pem.encode())


def test_revoke_with_certificate_key(pebble: Pebble, session: AcmeSession) -> None:
    key_pem, result = _issue(pebble, session, "revoke-key.example.com")
    serial = _serial(result.cert_pem)
    by_key = AcmeSession.with_certificate_key(settings_for(pebble), key_pem)
    by_key.revoke(result.cert_pem.encode(), reason=1)
    assert pebble.cert_status(serial)["Status"] == "Revoked"


def test_revoke_with_unrelated_account_is_refused(
        pebble: Pebble, session: AcmeSession,
        session_factory: Callable[..., AcmeSession]) -> None:
    _, result = _issue(pebble, session, "revoke-other.example.com")
    stranger = session_factory(pebble)
    with pytest.raises(errors.CAError, match="urn:ietf:params:acme:error:unauthorized"):
        stranger.revoke(result.cert_pem.encode())
    assert pebble.cert_status(_serial(result.cert_pem))["Status"] == "Valid"


def test_bad_nonces_are_retried(pebble_factory: Callable[..., Pebble],
                                session_factory: Callable[..., AcmeSession]) -> None:
    """Half of all nonces rejected: the library alone (one retry) fails ~97% of issuances.

    Our retries start where the library's one retry fails too, a quarter of the
    requests; two issuances (about ten requests) see none about once in twenty
    runs, so issue until one has been needed (bounded), and every issuance must
    succeed.
    """
    flaky = pebble_factory(nonce_reject_percent=50)
    session = session_factory(flaky)
    for i in range(8):
        _, result = _issue(flaky, session, f"nonce{i}.example.com")
        assert "BEGIN CERTIFICATE" in result.cert_pem
        if i >= 1 and session.stats.bad_nonce_retries > 0:
            break
    assert session.stats.bad_nonce_retries > 0


def test_bad_nonce_retries_are_bounded(pebble_factory: Callable[..., Pebble]) -> None:
    hostile = pebble_factory(nonce_reject_percent=100)
    session = AcmeSession(settings_for(hostile, bad_nonce_retries=3), new_account_key("ecdsa"))
    with pytest.raises(errors.AccountError, match="urn:ietf:params:acme:error:badNonce"):
        session.register(agree_tos=True)
    assert session.stats.bad_nonce_retries == 3


def test_unreachable_or_wrong_server_is_one_clear_line(pebble: Pebble) -> None:
    cases = [
        (SessionSettings(server="https://127.0.0.1:1/dir"), "cannot reach"),
        (SessionSettings(server=pebble.directory_url), "TLS verification .* failed"),
        (settings_for(pebble).__class__(server=pebble.directory_url + "x",
                                        verify=pebble.ca_bundle), "HTTP 404 from"),
    ]
    for settings, pattern in cases:
        with pytest.raises(errors.CAError, match=pattern) as info:
            AcmeSession(settings, new_account_key("ecdsa"))
        assert "\n" not in str(info.value)


def _response(headers: dict[str, str]) -> object:
    return SimpleNamespace(headers=headers)


def test_poll_delay_follows_retry_after_then_backs_off(pebble: Pebble) -> None:
    session = AcmeSession(settings_for(pebble, poll_initial=0.02, poll_factor=2, poll_max=0.1),
                          new_account_key("ecdsa"))
    delays = [session.next_delay(None, None)]
    for _ in range(4):
        delays.append(session.next_delay(delays[-1], _response({})))
    assert delays == [0.02, 0.04, 0.08, 0.1, 0.1]
    assert session.next_delay(0.02, _response({"Retry-After": "7"})) == 7
    assert session.next_delay(0.02, _response({"Retry-After": "999999"})) == 60  # capped
    assert session.next_delay(0.02, _response({"Retry-After": "soon"})) == 0.04


def test_retry_after_http_date() -> None:
    now = datetime.datetime(2026, 1, 1, 12, 0, 0, tzinfo=datetime.UTC)
    assert retry_after_seconds("Thu, 01 Jan 2026 12:00:30 GMT", now) == 30
    assert retry_after_seconds("Thu, 01 Jan 2026 11:00:00 GMT", now) == 0
    assert retry_after_seconds("120", now) == 120
    assert retry_after_seconds("garbage", now) is None


def test_problem_with_subproblems_names_each_identifier() -> None:
    def problem(typ: str, detail: str, ident: str | None = None) -> SimpleNamespace:
        return SimpleNamespace(typ="urn:ietf:params:acme:error:" + typ, detail=detail,
                               title=None, identifier=SimpleNamespace(value=ident),
                               subproblems=())

    top = problem("rejectedIdentifier", "Error creating new order")
    top.subproblems = (problem("rejectedIdentifier", "blocked name", "bad.example"),
                       problem("caa", "CAA forbids", "caa.example"))
    text = describe_problem(top)
    assert text.startswith("urn:ietf:params:acme:error:rejectedIdentifier: Error creating")
    assert "bad.example: urn:ietf:params:acme:error:rejectedIdentifier: blocked name" in text
    assert "caa.example: urn:ietf:params:acme:error:caa: CAA forbids" in text
    assert "CAA DNS record forbids" in text and "policy" in text
    assert describe_problem(problem("rateLimited", "too many")).endswith(
        "(hint: the CA's rate limit was hit; wait before retrying and use --dry-run "
        "or --staging while testing)")
