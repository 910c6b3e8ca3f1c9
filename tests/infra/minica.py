"""A throwaway CA for storage and renewal tests: real keys, real signed certificates.

Storage and renewal-cache tests need genuine certificate sets (a leaf whose key matches, a
chain, a fullchain) without a running CA; the issuance tests use Pebble.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from certkernel import crypto
from tests.infra.sans import general_names


@dataclass
class CertSet:
    cert: bytes
    chain: bytes
    fullchain: bytes
    key: bytes


class MiniCA:
    """Signs leaf certificates for given names with an intermediate."""

    def __init__(self) -> None:
        self.root_key = ec.generate_private_key(ec.SECP256R1())
        self.int_key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        root_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "storage test root")])
        self.int_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "storage test int")])
        self.intermediate = (
            x509.CertificateBuilder()
            .subject_name(self.int_name)
            .issuer_name(root_name)
            .public_key(self.int_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .sign(self.root_key, hashes.SHA256())
        )
        self.chain_pem = self.intermediate.public_bytes(serialization.Encoding.PEM)

    def issue(
        self,
        names: list[str],
        key: bytes | None = None,
        days: int = 90,
        start: datetime.datetime | None = None,
    ) -> CertSet:
        key = key or crypto.make_key()
        private = crypto.load_key(key)
        start = start or datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=1)
        sans = general_names(names)
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([]))
            .issuer_name(self.int_name)
            .public_key(private.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(start + datetime.timedelta(days=days))
            .add_extension(x509.SubjectAlternativeName(sans), critical=True)
            .sign(self.int_key, hashes.SHA256())
        )
        cert_pem = cert.public_bytes(serialization.Encoding.PEM)
        return CertSet(cert_pem, self.chain_pem, cert_pem + self.chain_pem, key)
