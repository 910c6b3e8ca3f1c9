"""Issuance against a real Pebble: what a user gets, and what happens on failure."""

from __future__ import annotations

import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from certkernel import errors
from certkernel.ca.acme_session import AcmeSession
from certkernel.ca.issuance import AuthorizationFailed, Issuance, choose_challenge_type
from tests.acme.helpers import DnsAuthenticator, HttpAuthenticator, http01_server
from tests.infra.csr import make_key_and_csr
from tests.infra.pebble import Pebble


def _san(cert_pem: str) -> set[str]:
    cert = x509.load_pem_x509_certificate(cert_pem.encode())
    ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return set(ext.get_values_for_type(x509.DNSName))


def _statuses(session: AcmeSession, issuance: Issuance) -> list[str]:
    assert issuance.last_order is not None
    return [session.client.poll(a)[0].body.status.name for a in issuance.last_order.authorizations]


def test_dns01_wildcard_and_apex_issue_a_matching_certificate(
        pebble: Pebble, session: AcmeSession) -> None:
    key_pem, csr = make_key_and_csr(["wild.example.com", "*.wild.example.com"])
    auth = DnsAuthenticator(pebble)
    result = Issuance(session).issue(
        csr_pem=csr, authenticators={"wild.example.com": auth, "*.wild.example.com": auth})

    assert _san(result.cert_pem) == {"wild.example.com", "*.wild.example.com"}
    assert result.fullchain_pem == result.cert_pem + result.chain_pem
    cert = x509.load_pem_x509_certificate(result.cert_pem.encode())
    key = serialization.load_pem_private_key(key_pem, None)
    assert cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) == key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    intermediate = x509.load_pem_x509_certificate(result.chain_pem.encode())
    cert.verify_directly_issued_by(intermediate)
    # One perform with both challenges, one matching cleanup.
    assert len(auth.performed) == 1 and len(auth.cleaned) == 1
    challs = auth.performed[0]
    assert {(c.identifier, c.wildcard) for c in challs} == {
        ("wild.example.com", False), ("wild.example.com", True)}
    assert all(c.validation_domain_name == "_acme-challenge.wild.example.com" for c in challs)
    assert all(c.type == "dns-01" and c.key_authorization.startswith(c.token + ".")
               for c in challs)
    assert auth.cleaned[0] == challs


def test_http01_through_a_real_http_server(pebble: Pebble, session: AcmeSession) -> None:
    _, csr = make_key_and_csr(["web.example.com"])
    with http01_server(pebble.http01_port) as responses:
        auth = HttpAuthenticator(responses)
        result = Issuance(session).issue(csr_pem=csr,
                                         authenticators={"web.example.com": auth})
        assert responses == {}  # cleanup removed what perform published
    assert _san(result.cert_pem) == {"web.example.com"}
    chall = auth.performed[0][0]
    assert chall.type == "http-01"
    assert chall.uri_path == f"/.well-known/acme-challenge/{chall.token}"
    assert chall.validation == chall.key_authorization


def test_ip_identifier_over_http01(pebble: Pebble, session: AcmeSession) -> None:
    _, csr = make_key_and_csr(["127.0.0.1"])
    with http01_server(pebble.http01_port) as responses:
        auth = HttpAuthenticator(responses)
        result = Issuance(session).issue(csr_pem=csr, authenticators={"127.0.0.1": auth})
    chall = auth.performed[0][0]
    assert (chall.identifier, chall.identifier_type, chall.type) == ("127.0.0.1", "ip", "http-01")
    cert = x509.load_pem_x509_certificate(result.cert_pem.encode())
    ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(ip) for ip in ext.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]


def test_wildcard_without_dns01_fails_before_contacting_ca(session: AcmeSession) -> None:
    _, csr = make_key_and_csr(["*.nodns.example.com"])
    issuance = Issuance(session)
    with pytest.raises(errors.ConfigurationError, match=r"\*.nodns.example.com is a wildcard"):
        issuance.issue(csr_pem=csr, authenticators={"*.nodns.example.com": HttpAuthenticator({})},
                       preferred_challenges=["http-01"])
    assert issuance.last_order is None


def test_preferred_challenges_overrides_plugin_order(pebble: Pebble,
                                                     session: AcmeSession) -> None:
    """HttpAuthenticator prefers http-01; --preferred-challenges dns-01 must win."""
    _, csr = make_key_and_csr(["pref.example.com"])
    dns = DnsAuthenticator(pebble)

    class Both(HttpAuthenticator):
        def perform(self, challenges: list) -> None:  # type: ignore[override]
            self.performed.append(challenges)
            dns.perform(challenges)

        def cleanup(self, challenges: list) -> None:  # type: ignore[override]
            dns.cleanup(challenges)

    auth = Both({})
    Issuance(session).issue(csr_pem=csr, authenticators={"pref.example.com": auth},
                            preferred_challenges=["dns-01"])
    assert [c.type for c in auth.performed[0]] == ["dns-01"]


def test_no_common_challenge_is_a_clear_error() -> None:
    with pytest.raises(errors.AuthorizationError, match="offers dns-01.*can do http-01"):
        choose_challenge_type("*.x.example", ["dns-01"], ["http-01"])
    with pytest.raises(errors.AuthorizationError, match="--preferred-challenges allows tls"):
        choose_challenge_type("x.example", ["http-01"], ["http-01"], ["tls-alpn-01"])


def test_failed_challenge_shows_ca_problem_and_cleans_up(pebble: Pebble,
                                                         session: AcmeSession) -> None:
    _, csr = make_key_and_csr(["ok.example.com", "bad.example.com"])
    auth = DnsAuthenticator(pebble, wrong=frozenset({"bad.example.com"}))
    issuance = Issuance(session)
    with pytest.raises(AuthorizationFailed) as info:
        issuance.issue(csr_pem=csr, authenticators={"ok.example.com": auth,
                                                    "bad.example.com": auth})
    message = str(info.value)
    assert list(info.value.failed) == ["bad.example.com"]
    assert "bad.example.com (dns-01): urn:ietf:params:acme:error:unauthorized" in message
    assert "hint:" in message and "TXT" in message
    assert "\n" not in message
    assert len(auth.cleaned) == 1
    assert "pending" not in _statuses(session, issuance)


def test_perform_failure_deactivates_pending_authorizations(pebble: Pebble,
                                                            session: AcmeSession) -> None:
    _, csr = make_key_and_csr(["p1.example.com", "p2.example.com"])
    auth = DnsAuthenticator(pebble, fail_perform=True)
    issuance = Issuance(session)
    with pytest.raises(RuntimeError, match="on purpose"):
        issuance.issue(csr_pem=csr, authenticators={"p1.example.com": auth,
                                                    "p2.example.com": auth})
    assert len(auth.cleaned) == 1  # cleanup ran although perform raised
    assert _statuses(session, issuance) == ["deactivated", "deactivated"]


def test_allow_subset_of_names_drops_failed_names(pebble: Pebble,
                                                  session: AcmeSession) -> None:
    names = ["keep.example.com", "drop.example.com", "also.example.com"]
    _, csr = make_key_and_csr(names)
    auth = DnsAuthenticator(pebble, wrong=frozenset({"drop.example.com"}))
    requested: list[list[str]] = []

    def make_csr(remaining: list[str]) -> bytes:
        requested.append(remaining)
        return make_key_and_csr(remaining)[1]

    result = Issuance(session).issue(csr_pem=csr, authenticators=dict.fromkeys(names, auth),
                                     allow_subset_of_names=True, make_csr=make_csr)
    assert result.dropped_names == ("drop.example.com",)
    assert requested == [["keep.example.com", "also.example.com"]]
    assert _san(result.cert_pem) == {"keep.example.com", "also.example.com"}
    assert len(auth.cleaned) == 2  # both orders cleaned up


def test_missing_authenticator_fails_before_contacting_ca(session: AcmeSession) -> None:
    _, csr = make_key_and_csr(["a.example.com", "b.example.com"])
    issuance = Issuance(session)
    with pytest.raises(errors.ConfigurationError, match="no authenticator for b.example.com"):
        issuance.issue(csr_pem=csr, authenticators={"a.example.com": HttpAuthenticator({})})
    assert issuance.last_order is None


def test_one_issuance_is_fast(pebble: Pebble, session: AcmeSession) -> None:
    """Polling must not sleep a fixed second: Pebble answers in milliseconds."""
    auth = DnsAuthenticator(pebble)
    timings = []
    for i in range(3):
        _, csr = make_key_and_csr([f"fast{i}.example.com"])
        start = time.perf_counter()
        Issuance(session).issue(csr_pem=csr, authenticators={f"fast{i}.example.com": auth})
        timings.append(time.perf_counter() - start)
    print(f"issuance wall times: {[round(t, 3) for t in timings]}")
    assert min(timings) < 0.5
    assert all(d < 0.5 for d in session.stats.delays)
