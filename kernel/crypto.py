"""Keys, CSRs and certificate parsing, with the ``cryptography`` library.

This module is the kernel's boundary with ``cryptography``: it imports the
library inside the functions that use it (and for type checking only at the
top), so every kernel module can import this one at module level while quick
paths (``--help``, ``certificates`` listing, ``renew`` with nothing due) never
load it. Keys are written as unencrypted PKCS#8
PEM, which nginx, apache and every other TLS server read; the default key is
ECDSA P-256, as modern clients make.
"""

from __future__ import annotations

import datetime
import ipaddress
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeAlias

from certkernel.errors import ValidationError

if TYPE_CHECKING:
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    PrivateKey: TypeAlias = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

CURVES = ("secp256r1", "secp384r1", "secp521r1")
_CURVE_ALIASES = {
    "p-256": "secp256r1", "p256": "secp256r1", "prime256v1": "secp256r1",
    "p-384": "secp384r1", "p384": "secp384r1",
    "p-521": "secp521r1", "p521": "secp521r1",
}
MIN_RSA_SIZE = 2048
_PEM_CERT = re.compile(
    rb"-----BEGIN CERTIFICATE-----\r?\n.+?\r?\n-----END CERTIFICATE-----", re.DOTALL
)


@dataclass(frozen=True)
class KeySpec:
    """What key to make: ``ecdsa`` with a curve, or ``rsa`` with a size."""

    key_type: str = "ecdsa"
    elliptic_curve: str = "secp256r1"
    rsa_key_size: int = 2048


@dataclass(frozen=True)
class CertInfo:
    """What users and renewal need to know about one certificate."""

    names: list[str]
    not_before: datetime.datetime
    not_after: datetime.datetime
    serial: int
    issuer: str
    subject: str
    key_type: str
    must_staple: bool

    @property
    def lifetime(self) -> datetime.timedelta:
        return self.not_after - self.not_before


@dataclass(frozen=True)
class CsrInfo:
    """A user-given CSR (``--csr``): its PEM form and the names it asks for."""

    pem: bytes
    der: bytes
    names: list[str]


def normalize_curve(curve: str) -> str:
    """Map user spellings (``P-256``, ``prime256v1``) to the SEC name."""
    name = _CURVE_ALIASES.get(curve.strip().lower(), curve.strip().lower())
    if name not in CURVES:
        raise ValidationError(
            f"Unsupported elliptic curve {curve!r}: use one of {', '.join(CURVES)}"
        )
    return name


def make_key(spec: KeySpec | None = None) -> bytes:
    """A fresh private key as PKCS#8 PEM bytes."""
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    spec = spec or KeySpec()
    key: PrivateKey
    if spec.key_type == "ecdsa":
        curve = getattr(ec, normalize_curve(spec.elliptic_curve).upper())
        key = ec.generate_private_key(curve())
    elif spec.key_type == "rsa":
        if spec.rsa_key_size < MIN_RSA_SIZE:
            raise ValidationError(
                f"RSA key size {spec.rsa_key_size} is too small: use at least {MIN_RSA_SIZE}"
            )
        key = rsa.generate_private_key(public_exponent=65537, key_size=spec.rsa_key_size)
    else:
        raise ValidationError(f"Unknown key type {spec.key_type!r}: use 'ecdsa' or 'rsa'")
    return key_to_pem(key)


def key_to_pem(key: PrivateKey) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def load_key(pem: bytes, source: str = "private key") -> PrivateKey:
    """Load an unencrypted PEM private key (RSA or EC); the message names ``source``."""
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise ValidationError(f"{source} is not a readable unencrypted PEM private key") from exc
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise ValidationError(f"{source} is neither an RSA nor an ECDSA key")
    return key


def key_spec_of(pem: bytes) -> KeySpec:
    """The :class:`KeySpec` an existing key satisfies (for ``--reuse-key`` checks)."""
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = load_key(pem)
    if isinstance(key, rsa.RSAPrivateKey):
        return KeySpec("rsa", rsa_key_size=key.key_size)
    return KeySpec("ecdsa", elliptic_curve=key.curve.name)


def _general_names(names: list[str]) -> list[x509.GeneralName]:
    from cryptography import x509

    out: list[x509.GeneralName] = []
    for name in names:
        try:
            out.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            out.append(x509.DNSName(name))
    return out


def make_csr(key_pem: bytes, names: list[str], must_staple: bool = False) -> bytes:
    """A PEM CSR for ``names`` (DNS and IP SANs), signed by the key.

    The subject stays empty as RFC 8555 clients do; every name is in the SAN
    extension, which is what CAs read.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization

    if not names:
        raise ValidationError("cannot make a CSR without names")
    key = load_key(key_pem)
    builder = x509.CertificateSigningRequestBuilder().subject_name(x509.Name([]))
    builder = builder.add_extension(x509.SubjectAlternativeName(_general_names(names)), critical=False)
    if must_staple:
        # id-pe-tlsfeature (RFC 7633) with status_request: "must staple".
        must = x509.TLSFeature([x509.TLSFeatureType.status_request])
        builder = builder.add_extension(must, critical=False)
    csr = builder.sign(key, hashes.SHA256())
    return csr.public_bytes(serialization.Encoding.PEM)


def _names_from(san_owner: x509.Certificate | x509.CertificateSigningRequest) -> list[str]:
    from cryptography import x509
    from cryptography.x509.oid import ExtensionOID, NameOID

    names: list[str] = []
    try:
        ext = san_owner.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME)
        san = ext.value
        assert isinstance(san, x509.SubjectAlternativeName)
        names.extend(n.lower() for n in san.get_values_for_type(x509.DNSName))
        names.extend(ip.compressed for ip in san.get_values_for_type(x509.IPAddress))
    except x509.ExtensionNotFound:
        pass
    for attr in san_owner.subject.get_attributes_for_oid(NameOID.COMMON_NAME):
        value = str(attr.value).lower()
        if value not in names:
            names.insert(0, value)
    return names


def load_csr(data: bytes, source: str = "CSR") -> CsrInfo:
    """Load a CSR given as PEM or DER (``--csr``) and list its names."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    try:
        if b"-----BEGIN" in data:
            csr = x509.load_pem_x509_csr(data)
        else:
            csr = x509.load_der_x509_csr(data)
    except ValueError as exc:
        raise ValidationError(f"{source} is not a PEM or DER certificate signing request") from exc
    if not csr.is_signature_valid:
        raise ValidationError(f"{source} has an invalid signature")
    names = _names_from(csr)
    if not names:
        raise ValidationError(f"{source} names no domain (no subjectAltName and no CN)")
    return CsrInfo(
        pem=csr.public_bytes(serialization.Encoding.PEM),
        der=csr.public_bytes(serialization.Encoding.DER),
        names=names,
    )


def load_cert(pem: bytes, source: str = "certificate") -> x509.Certificate:
    from cryptography import x509

    try:
        return x509.load_pem_x509_certificate(pem)
    except ValueError as exc:
        raise ValidationError(f"{source} is not a readable PEM certificate") from exc


def _key_type_name(cert: x509.Certificate) -> str:
    from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa

    pub = cert.public_key()
    if isinstance(pub, rsa.RSAPublicKey):
        return f"RSA {pub.key_size}"
    if isinstance(pub, ec.EllipticCurvePublicKey):
        return f"ECDSA {pub.curve.name}"
    if isinstance(pub, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
        return "EdDSA"
    return type(pub).__name__


def cert_info(pem: bytes, source: str = "certificate") -> CertInfo:
    """Parse the first certificate of ``pem`` into a :class:`CertInfo`."""
    from cryptography import x509
    from cryptography.x509.oid import ExtensionOID

    cert = load_cert(pem, source)
    try:
        cert.extensions.get_extension_for_oid(ExtensionOID.TLS_FEATURE)
        staple = True
    except x509.ExtensionNotFound:
        staple = False
    return CertInfo(
        names=_names_from(cert),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        serial=cert.serial_number,
        issuer=cert.issuer.rfc4514_string(),
        subject=cert.subject.rfc4514_string(),
        key_type=_key_type_name(cert),
        must_staple=staple,
    )


def _public_der(public_key: object) -> bytes:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    assert isinstance(public_key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey)
    return public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def key_matches_cert(key_pem: bytes, cert_pem: bytes) -> bool:
    """True when the certificate's public key is the private key's."""
    try:
        key = load_key(key_pem)
        cert = load_cert(cert_pem)
        return _public_der(key.public_key()) == _public_der(cert.public_key())
    except (ValidationError, AssertionError):
        return False


def split_pem_chain(pem: bytes) -> list[bytes]:
    """Each certificate of a PEM bundle, as its own PEM block ending in newline."""
    return [m.group(0).replace(b"\r\n", b"\n") + b"\n" for m in _PEM_CERT.finditer(pem)]


def split_fullchain(fullchain_pem: bytes) -> tuple[bytes, bytes]:
    """``(cert, chain)`` from a fullchain PEM, as ACME returns it."""
    certs = split_pem_chain(fullchain_pem)
    if not certs:
        raise ValidationError("the CA returned no PEM certificate")
    return certs[0], b"".join(certs[1:])
