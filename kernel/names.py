"""Validate and normalize the names a user asks a certificate for.

Every check here runs before any network call: a typo should cost the user
one clear line, not an ACME order, a failed challenge and a rate-limit hit.
The rules follow what Certbot enforces (lowercase, no trailing dot, no URL,
RFC 1035/2181 lengths, a wildcard only as a whole leading ``*.`` label, at
least two labels) plus IDNA: Unicode names are converted to punycode with
IDNA 2008/UTS 46 (the ``idna`` package, already a dependency of
``requests``), and ``xn--`` labels must decode. IP addresses are accepted as
identifiers of type ``ip``; whether the CA can issue for them is decided by
the ACME engine, which knows the CA.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass

from certkernel.errors import ValidationError

MAX_NAME_LENGTH = 253  # octets, without the trailing dot (RFC 1035 2.3.4)
MAX_LABEL_LENGTH = 63
_LDH = re.compile(r"^[a-z0-9-]+$")


@dataclass(frozen=True)
class Identifier:
    """One ACME identifier: ``type`` is ``dns`` or ``ip`` (RFC 8555, RFC 8738)."""

    value: str
    type: str = "dns"

    @property
    def wildcard(self) -> bool:
        """True for ``*.example.com`` (needs dns-01)."""
        return self.type == "dns" and self.value.startswith("*.")


def _bad(name: str, why: str) -> ValidationError:
    return ValidationError(f"Invalid name {name!r}: {why}")


def _to_ascii(name: str, shown: str) -> str:
    """Punycode a Unicode name with IDNA 2008 (UTS 46 mapping)."""
    import idna  # a dependency of requests; imported only for non-ASCII input

    try:
        return idna.encode(name, uts46=True).decode("ascii")
    except idna.IDNAError as exc:
        raise _bad(shown, f"not a valid internationalized domain name ({exc})") from None


def _check_label(label: str, shown: str) -> None:
    if not label:
        raise _bad(shown, "it contains an empty label")
    if len(label) > MAX_LABEL_LENGTH:
        raise _bad(shown, f"label {label!r} is longer than {MAX_LABEL_LENGTH} characters")
    if not _LDH.match(label):
        raise _bad(shown, f"label {label!r} has a character other than a-z, 0-9 and '-'")
    if label.startswith("-") or label.endswith("-"):
        raise _bad(shown, f"label {label!r} starts or ends with '-'")
    if label.startswith("xn--"):
        import idna

        try:
            idna.decode(label)
        except (idna.IDNAError, UnicodeError) as exc:
            raise _bad(shown, f"label {label!r} is not valid punycode ({exc})") from None


def _as_ip(name: str, shown: str | None = None) -> str | None:
    """The canonical form of an IP literal, or None when ``name`` is not one.

    An IPv6 scope id (``fe80::1%eth0``) is refused: it names an interface of
    this machine, means nothing to a CA or in a certificate, and Python's
    ``ipaddress`` accepts any text after the ``%`` (spaces, newlines,
    ``$(id)``), which would then travel into logs, hooks and file names.
    """
    candidate = name[1:-1] if name.startswith("[") and name.endswith("]") else name
    address, percent, _scope = candidate.partition("%")
    if percent and ":" in address:
        try:
            ipaddress.IPv6Address(address)
        except ValueError:
            pass
        else:
            raise _bad(name if shown is None else shown,
                       "IPv6 scope ids ('%' and what follows) are not allowed; "
                       "give the address without one")
    try:
        return ipaddress.ip_address(candidate).compressed
    except ValueError:
        return None


def normalize_name(raw: str) -> Identifier:
    """Return the canonical identifier for one user-given name, or raise.

    Raises :class:`ValidationError` with one line that quotes the name and
    says what is wrong with it.
    """
    shown = raw
    name = raw.strip()
    if not name:
        raise ValidationError("Invalid name '': a domain name cannot be empty")
    for scheme in ("http://", "https://"):
        if name.lower().startswith(scheme):
            raise _bad(shown, f"it looks like a URL; give the bare name without {scheme!r}")
    ip = _as_ip(name, shown)
    if ip is not None:
        return Identifier(ip, "ip")
    return Identifier(_dns_name(name, shown), "dns")


def _dns_name(name: str, shown: str) -> str:
    """The canonical form of a name that is not an IP address (IDNA, lower case, no
    trailing dot), checked label by label; ``shown`` is what the user typed."""
    if "/" in name or ":" in name:
        raise _bad(shown, "'/' and ':' are not allowed in a domain name")
    if any(ord(ch) > 127 for ch in name):
        wildcard = name.startswith("*.")
        body = _to_ascii(name[2:] if wildcard else name, shown)
        name = ("*." + body) if wildcard else body
    name = name.lower()
    if name.endswith("."):
        name = name[:-1]
    wildcard = name.startswith("*.")
    body = name[2:] if wildcard else name
    if "*" in body:
        raise _bad(shown, "a wildcard is allowed only as the whole first label, as in '*.example.com'")
    if len(name) > MAX_NAME_LENGTH:
        raise _bad(shown, f"it is longer than {MAX_NAME_LENGTH} characters")
    labels = body.split(".")
    for label in labels:
        _check_label(label, shown)
    if len(labels) < 2:
        raise _bad(shown, "a domain name needs at least two labels, as in 'example.com'")
    if labels[-1].isdigit():
        raise _bad(shown, "the last label cannot be all digits (is it a mistyped IP address?)")
    return name


def normalize_names(raw_names: Iterable[str]) -> list[Identifier]:
    """Normalize many names, dropping duplicates and keeping the first order."""
    seen: set[Identifier] = set()
    result: list[Identifier] = []
    for raw in raw_names:
        ident = normalize_name(raw)
        if ident not in seen:
            seen.add(ident)
            result.append(ident)
    return result


def split_domain_args(values: Iterable[str]) -> list[str]:
    """Flatten repeated ``-d a,b -d c`` values into ``[a, b, c]``.

    Whitespace around items and empty items (``-d a,,b``, a trailing comma)
    are dropped; normalization and de-duplication happen in
    :func:`parse_domain_args`.
    """
    out: list[str] = []
    for value in values:
        for item in value.split(","):
            item = item.strip()
            if item:
                out.append(item)
    return out


def parse_domain_args(values: Iterable[str]) -> list[str]:
    """``-d`` values to the list of canonical names, deduped, order kept."""
    return [ident.value for ident in normalize_names(split_domain_args(values))]


def lineage_name_for(names: list[str], cert_name: str | None = None) -> str:
    """The lineage name Certbot would pick: ``--cert-name`` or the first name.

    As in Certbot, a leading ``*.`` is dropped so no file or directory name
    starts with ``*`` (``*.example.com`` -> ``example.com``).
    """
    if cert_name:
        return validate_cert_name(cert_name)
    if not names:
        raise ValidationError("No names given: use -d/--domains to name the certificate")
    first = names[0]
    return first[2:] if first.startswith("*.") else first


def validate_cert_name(name: str) -> str:
    """Check a ``--cert-name``: it becomes a file and directory name."""
    if not name or name in (".", "..") or name.startswith("."):
        raise ValidationError(f"Invalid certificate name {name!r}: it cannot be empty or start with '.'")
    if "/" in name or "\0" in name or "\\" in name:
        raise ValidationError(f"Invalid certificate name {name!r}: '/', '\\' and NUL are not allowed")
    if name.endswith(".conf"):
        raise ValidationError(f"Invalid certificate name {name!r}: give the name without '.conf'")
    if len(name.encode("utf-8")) > 200:
        raise ValidationError(f"Invalid certificate name {name!r}: longer than 200 bytes")
    return name


def identifier_type(name: str) -> str:
    """``ip`` for an IP literal, else ``dns`` (for already-normalized names)."""
    return "ip" if _as_ip(name) is not None else "dns"
