"""A fresh key and a CSR for a list of names, for tests that talk to Pebble directly."""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.infra.sans import general_names


def make_key_and_csr(names: list[str]) -> tuple[bytes, bytes]:
    """(key_pem, csr_pem) for ``names`` (DNS names or IP addresses), ECDSA P-256 key."""
    key = ec.generate_private_key(ec.SECP256R1())
    sans = general_names(names)
    csr = (
        x509.CertificateSigningRequestBuilder()
        # An IP in the CN would be read as a DNS identifier: leave the subject empty then.
        .subject_name(x509.Name([] if isinstance(sans[0], x509.IPAddress) else
                                [x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return key_pem, csr.public_bytes(serialization.Encoding.PEM)
