"""RFC 8555 problem documents as one line a user can act on, and Retry-After parsing.

Why a module of its own: the message is the product when issuance fails.
Users need the CA's problem type and detail verbatim (to search for it),
the per-identifier subproblems (which name failed), and a hint for the
common causes. Kept free of ``acme`` imports: it reads attributes only.
"""

from __future__ import annotations

import datetime
from typing import Any

ERROR_PREFIX = "urn:ietf:params:acme:error:"

# Hints for problems met while the CA validates a challenge.
VALIDATION_HINTS: dict[str, str] = {
    "dns": "the CA could not resolve the name; check that its DNS records "
           "(A/AAAA, or the _acme-challenge TXT for dns-01) exist and have propagated",
    "connection": "the CA could not connect to your server; check that the name points "
                  "to this machine and that the port the CA validates on is reachable "
                  "from it (firewall, NAT)",
    "unauthorized": "the CA saw a different response than expected; check that this server "
                    "serves /.well-known/acme-challenge/ for the name (http-01) or that the "
                    "TXT record holds the value given (dns-01), and nothing else answers",
    "incorrectResponse": "the CA saw a different response than expected; check what the "
                         "name serves for the challenge",
    "tls": "the TLS handshake with your server failed during validation",
}

# Hints for problems answered to any other request (accounts, orders, revocation).
HINTS: dict[str, str] = {
    "unauthorized": "the CA refused this request for this account or key "
                    "(check EAB credentials, the account's status, or the key used)",
    "rateLimited": "the CA's rate limit was hit; wait before retrying and use --dry-run "
                   "or --staging while testing",
    "badCSR": "the CA rejected the CSR; check the key type and size and the requested names",
    "caa": "a CAA DNS record forbids this CA from issuing for the name",
    "rejectedIdentifier": "the CA will not issue for this name (policy); check its spelling",
    "externalAccountRequired": "this CA needs External Account Binding: pass --eab-kid and "
                               "--eab-hmac-key from your CA",
    "accountDoesNotExist": "the CA does not know this account; register again",
    "unsupportedIdentifier": "the CA does not issue for this kind of identifier",
    "badSignatureAlgorithm": "the CA does not accept this key type; try --key-type rsa",
    "alreadyRevoked": "the certificate was already revoked; nothing more to do",
}


def _code(problem: Any) -> str | None:
    typ = getattr(problem, "typ", None) or ""
    return typ[len(ERROR_PREFIX):] if typ.startswith(ERROR_PREFIX) else None


def _ident(problem: Any) -> str | None:
    ident = getattr(problem, "identifier", None)
    return getattr(ident, "value", None) if ident is not None else None


def _one(problem: Any) -> str:
    typ = getattr(problem, "typ", None) or "about:blank"
    text = (getattr(problem, "detail", None) or getattr(problem, "title", None)
            or getattr(problem, "description", None) or "no detail given")
    return f"{typ}: {text}"


def describe_problem(problem: Any, identifier: str | None = None,
                     validation: bool = False) -> str:
    """``type: detail [; name: subtype: subdetail ...] (hint: ...)`` on one line.

    ``validation`` selects the hints for a failed challenge (where, say,
    ``unauthorized`` means the served response was wrong).
    """
    table = {**HINTS, **VALIDATION_HINTS} if validation else HINTS
    parts = [f"{identifier}: {_one(problem)}" if identifier else _one(problem)]
    codes = [_code(problem)]
    for sub in getattr(problem, "subproblems", None) or ():
        name = _ident(sub) or "?"
        parts.append(f"{name}: {_one(sub)}")
        codes.append(_code(sub))
    hints = []
    for code in codes:
        hint = table.get(code or "")
        if hint and hint not in hints:
            hints.append(hint)
    text = "; ".join(parts)
    if hints:
        text += " (hint: " + "; ".join(hints) + ")"
    return text


def describe_failed_authorization(authzr: Any) -> str:
    """One line for an authorization that did not become valid, naming the challenge."""
    body = authzr.body
    name = body.identifier.value
    if getattr(body, "wildcard", False):
        name = "*." + name
    for challb in body.challenges:
        if challb.error is not None:
            return describe_problem(challb.error, identifier=f"{name} ({challb.chall.typ})",
                                    validation=True)
    return f"{name}: authorization is {body.status} without a reported error"


def retry_after_seconds(value: str, now: datetime.datetime | None = None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP-date); None if unparseable."""
    value = value.strip()
    if value.isdigit():
        return float(value)
    # email.utils costs ~15 ms to import (socket, random...): main imports this
    # module for every run, --help included, and an HTTP-date is rare.
    import email.utils

    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.UTC)
    now = now or datetime.datetime.now(datetime.UTC)
    return max((when - now).total_seconds(), 0.0)


def validation_failure_note(http01_port: int, http01_address: str,
                            message: str, log_path: str | None) -> str:
    """What to add under a failed validation: the ports this run used, and the log.

    A CA validates http-01 on port 80 and tls-alpn-01 on 443 (RFC 8555,
    RFC 8737); certkernel's own responder may listen elsewhere behind a
    proxy or NAT (``--http-01-port``), so name the one really used instead
    of assuming 80.
    """
    lines = []
    if "http-01" in message:
        if http01_port != 80 or http01_address:
            where = f"{http01_address}:{http01_port}" if http01_address \
                else f"port {http01_port}"
            lines.append(f"The http-01 challenge was answered on {where} on this machine; "
                         "the CA connects to port 80 of the name (unless it is set up "
                         "otherwise), which must reach it.")
        else:
            lines.append("For http-01 the CA connects to port 80 of the name.")
    if log_path:
        lines.append(f"See the logfile {log_path} or re-run with -v for more details.")
    return "\n".join(lines)
