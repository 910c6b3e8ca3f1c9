"""Keys, CSRs and certificate parsing, checked with the real library."""

from __future__ import annotations

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from certkernel import crypto
from certkernel.errors import ValidationError
from tests.infra.minica import MiniCA


@pytest.mark.parametrize(
    ("spec", "kind", "detail"),
    [
        (crypto.KeySpec(), ec.EllipticCurvePrivateKey, "secp256r1"),
        (crypto.KeySpec("ecdsa", "secp384r1"), ec.EllipticCurvePrivateKey, "secp384r1"),
        (crypto.KeySpec("ecdsa", "P-521"), ec.EllipticCurvePrivateKey, "secp521r1"),
        (crypto.KeySpec("rsa", rsa_key_size=2048), rsa.RSAPrivateKey, 2048),
    ],
)
def test_make_key(spec: crypto.KeySpec, kind: type, detail: object) -> None:
    pem = crypto.make_key(spec)
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----")
    key = serialization.load_pem_private_key(pem, None)
    assert isinstance(key, kind)
    got = key.curve.name if isinstance(key, ec.EllipticCurvePrivateKey) else key.key_size
    assert got == detail
    assert crypto.key_spec_of(pem).key_type == spec.key_type


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (crypto.KeySpec("rsa", rsa_key_size=1024), "too small"),
        (crypto.KeySpec("dsa"), "Unknown key type 'dsa'"),
        (crypto.KeySpec("ecdsa", "secp192r1"), "Unsupported elliptic curve 'secp192r1'"),
    ],
)
def test_bad_key_specs(spec: crypto.KeySpec, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        crypto.make_key(spec)


def test_csr_has_dns_and_ip_sans_and_must_staple() -> None:
    key = crypto.make_key()
    pem = crypto.make_csr(key, ["example.com", "*.example.com", "192.0.2.7", "2001:db8::1"], must_staple=True)
    csr = x509.load_pem_x509_csr(pem)
    assert csr.is_signature_valid
    san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["example.com", "*.example.com"]
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["192.0.2.7", "2001:db8::1"]
    feature = csr.extensions.get_extension_for_class(x509.TLSFeature).value
    assert list(feature) == [x509.TLSFeatureType.status_request]
    plain = x509.load_pem_x509_csr(crypto.make_csr(key, ["example.com"]))
    with pytest.raises(x509.ExtensionNotFound):
        plain.extensions.get_extension_for_class(x509.TLSFeature)


def test_load_csr_pem_and_der_give_the_same_names() -> None:
    pem = crypto.make_csr(crypto.make_key(), ["a.example.com", "b.example.com"])
    der = x509.load_pem_x509_csr(pem).public_bytes(serialization.Encoding.DER)
    from_pem = crypto.load_csr(pem)
    from_der = crypto.load_csr(der)
    assert from_pem.names == from_der.names == ["a.example.com", "b.example.com"]
    assert from_der.pem == pem


def test_load_csr_garbage_names_the_source() -> None:
    with pytest.raises(ValidationError, match="/tmp/x.csr is not a PEM or DER"):
        crypto.load_csr(b"not a csr", source="/tmp/x.csr")


def test_cert_info_and_key_match(ca: MiniCA) -> None:
    issued = ca.issue(["www.example.com", "example.com", "192.0.2.1"], days=30)
    info = crypto.cert_info(issued.cert)
    assert info.names == ["www.example.com", "example.com", "192.0.2.1"]
    assert info.lifetime.days == 30
    assert "storage test int" in info.issuer
    assert info.key_type == "ECDSA secp256r1"
    assert crypto.key_matches_cert(issued.key, issued.cert)
    assert not crypto.key_matches_cert(crypto.make_key(), issued.cert)
    assert not crypto.key_matches_cert(b"junk", issued.cert)


def test_split_chain(ca: MiniCA) -> None:
    issued = ca.issue(["example.com"])
    parts = crypto.split_pem_chain(issued.fullchain.replace(b"\n", b"\r\n"))
    assert parts == [issued.cert, issued.chain]
    cert, chain = crypto.split_fullchain(issued.fullchain)
    assert (cert, chain) == (issued.cert, issued.chain)
    with pytest.raises(ValidationError):
        crypto.split_fullchain(b"")
