"""Fixtures for nginx plugin tests: a private nginx, test certificates, the plugin process."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.infra.nginx import Nginx
from tests.infra.pebble import free_port


@dataclass
class CertFiles:
    fullchain: str
    key: str
    serial: int


def make_cert(directory: Path, names: list[str], stem: str) -> CertFiles:
    """A self-signed leaf for ``names`` (installer tests only need a served certificate)."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject).issuer_name(subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    chain = directory / f"{stem}-fullchain.pem"
    key_path = directory / f"{stem}-privkey.pem"
    chain.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_path.chmod(0o600)
    return CertFiles(str(chain), str(key_path), cert.serial_number)


@dataclass
class Site:
    nginx: Nginx
    root: Path
    http_port: int
    https_port: int


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    """A running private nginx with one plain port-80-style site (on free ports)."""
    root = tmp_path / "nginx"
    root.mkdir()
    (root / "sites").mkdir()
    http_port, https_port = free_port(), free_port()
    server = Nginx(root)
    server.write("    include sites/*.conf;\n")
    (root / "sites" / "example.conf").write_text(
        "# the example site\n"
        "server {\n"
        f"    listen 127.0.0.1:{http_port};\n"
        "    server_name example.test www.example.test;\n"
        "\n"
        "    location / {\n"
        '        return 200 "plain site\\n";\n'
        "    }\n"
        "}\n"
    )
    with server:
        yield Site(server, root, http_port, https_port)
