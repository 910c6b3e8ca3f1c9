"""Which certificate chain to keep, and how a PEM bundle splits.

Kept apart from the ACME session: these work on what the CA already sent,
and ``--preferred-chain`` follows Certbot's rule (the issuer CN of the
topmost certificate of each offered chain).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from certkernel import errors

logger = logging.getLogger(__name__)


def select_chain(fullchains: Sequence[str], preferred_issuer: str | None) -> str:
    """Certbot's --preferred-chain: the first chain whose topmost cert's issuer CN matches.

    Falls back to the CA's default (the first) when nothing matches.
    """
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    if not preferred_issuer or len(fullchains) < 2:
        return fullchains[0]
    for fullchain in fullchains:
        top = x509.load_pem_x509_certificates(fullchain.encode())[-1]
        names = top.issuer.get_attributes_for_oid(NameOID.COMMON_NAME)
        if any(n.value == preferred_issuer for n in names):
            return fullchain
    logger.info("No chain with issuer %r; using the default chain", preferred_issuer)
    return fullchains[0]


def split_fullchain(fullchain_pem: str) -> tuple[str, str]:
    """(cert_pem, chain_pem) from a PEM bundle whose first block is the leaf."""
    marker = "-----END CERTIFICATE-----"
    end = fullchain_pem.find(marker)
    if end < 0:
        raise errors.IssuanceError("the CA returned no PEM certificate")
    end += len(marker)
    cert = fullchain_pem[:end].strip() + "\n"
    chain = fullchain_pem[end:].strip()
    return cert, (chain + "\n") if chain else ""
