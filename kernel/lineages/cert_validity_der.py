"""Read a certificate's validity period with the standard library alone.

Deciding that nothing is due on a host with a thousand lineages needs only
each certificate's notBefore and notAfter. Importing ``cryptography`` and
building full certificate objects costs more than everything else ``renew``
does on that path, so this walks just far enough into the DER (RFC 5280
4.1: Certificate -> tbsCertificate -> validity). Anything unexpected
returns ``None`` and the caller uses :mod:`certkernel.crypto` instead.
"""

from __future__ import annotations

import binascii
import datetime

_BEGIN = b"-----BEGIN CERTIFICATE-----"
_END = b"-----END CERTIFICATE-----"


def _header(der: bytes, pos: int) -> tuple[int, int, int]:
    """(tag, start of contents, length) of the DER element at ``pos``."""
    tag = der[pos]
    first = der[pos + 1]
    pos += 2
    if first < 0x80:
        return tag, pos, first
    count = first & 0x7F
    if count == 0 or count > 4:
        raise ValueError("unsupported DER length")
    length = int.from_bytes(der[pos:pos + count], "big")
    return tag, pos + count, length


def _time(tag: int, raw: bytes) -> datetime.datetime:
    text = raw.decode("ascii")
    if tag == 0x17:  # UTCTime YYMMDDHHMMSSZ; RFC 5280: YY >= 50 is 19YY
        year = int(text[:2])
        text = f"{1900 + year if year >= 50 else 2000 + year}{text[2:]}"
    elif tag != 0x18:
        raise ValueError("not a time")
    if not text.endswith("Z") or len(text) != 15:
        raise ValueError("unsupported time form")
    return datetime.datetime.strptime(text, "%Y%m%d%H%M%SZ").replace(tzinfo=datetime.UTC)


def pem_validity(pem: bytes) -> tuple[datetime.datetime, datetime.datetime] | None:
    """``(not_before, not_after)`` of the first certificate in ``pem``, or None."""
    start = pem.find(_BEGIN)
    end = pem.find(_END, start + 1)
    if start < 0 or end < 0:
        return None
    try:
        der = binascii.a2b_base64(pem[start + len(_BEGIN):end])
        tag, pos, _ = _header(der, 0)  # Certificate
        tag2, pos, _ = _header(der, pos)  # tbsCertificate
        if tag != 0x30 or tag2 != 0x30:
            return None
        if der[pos] == 0xA0:  # [0] version
            _, inner, length = _header(der, pos)
            pos = inner + length
        for _skip in range(3):  # serialNumber, signature, issuer
            _, inner, length = _header(der, pos)
            pos = inner + length
        tag, pos, _ = _header(der, pos)  # validity
        if tag != 0x30:
            return None
        tag_a, inner, length = _header(der, pos)
        not_before = _time(tag_a, der[inner:inner + length])
        tag_b, inner2, length2 = _header(der, inner + length)
        not_after = _time(tag_b, der[inner2:inner2 + length2])
    except (ValueError, IndexError, binascii.Error, UnicodeDecodeError):
        return None
    return not_before, not_after
