"""Subject Alternative Name entries for test certificates and CSRs.

Test CAs and CSR builders accept names as users type them: an IP address
becomes an iPAddress entry, anything else a dNSName (as RFC 8738 and RFC 8555
identifiers distinguish them). Built here independently of certkernel.crypto
so fixtures do not inherit a bug of the code under test.
"""

from __future__ import annotations

import ipaddress

from cryptography import x509


def general_names(names: list[str]) -> list[x509.GeneralName]:
    """One SAN entry per name, in order."""
    sans: list[x509.GeneralName] = []
    for name in names:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            sans.append(x509.DNSName(name))
    return sans
