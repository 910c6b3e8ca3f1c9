"""See which certificate a real server presents, the way a browser would.

Installer tests (nginx, apache) must prove that the server *serves* the new
certificate, not merely that a file changed; a TLS handshake with SNI is the
user's own check. Verification is off on purpose: test CAs are throwaway.
"""

from __future__ import annotations

import socket
import ssl

from cryptography import x509


def served_certificate(
    host: str, port: int, server_name: str | None, timeout: float = 5.0
) -> x509.Certificate:
    """Handshake with ``host:port`` sending SNI ``server_name``; return the leaf it shows."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with socket.create_connection((host, port), timeout=timeout) as raw:
        with context.wrap_socket(raw, server_hostname=server_name) as tls:
            der = tls.getpeercert(binary_form=True)
    if der is None:
        raise ConnectionError(f"{host}:{port} presented no certificate")
    return x509.load_der_x509_certificate(der)
