"""``certkernel certificates``: list lineages in Certbot's format, or as JSON.

Listing reads only the config dir: certificates are parsed with
``cryptography`` and the ACME stack is never imported. A lineage that does not
load is listed apart with the reason, and never stops the listing.
Revocation is known from what ``revoke`` recorded (see
:mod:`certkernel.ca.revocations`), since there is no OCSP check here.
"""

from __future__ import annotations

import datetime
import json
import sys
from dataclasses import asdict, dataclass
from enum import StrEnum

from certkernel import errors, metrics
from certkernel.ca import revocations
from certkernel.config import Config
from certkernel.display import say
from certkernel.lineages.lineage_find import scan
from certkernel.lineages.storage import Lineage
from certkernel.names import parse_domain_args

SEPARATOR = "- " * 39 + "-"


class Invalid(StrEnum):
    """Why a certificate shows as ``INVALID`` (Certbot's words, listed in this order)."""

    TEST_CERT = "TEST_CERT"
    EXPIRED = "EXPIRED"
    REVOKED = "REVOKED"


@dataclass
class CertSummary:
    """One lineage as ``certificates`` shows it; the JSON output uses these names."""

    name: str
    serial: str
    key_type: str
    domains: list[str]
    expiry: str
    status: str
    valid: bool
    days_left: int
    cert_path: str
    key_path: str
    fullchain_path: str
    chain_path: str
    renewal_conf: str


def _is_test_cert(lineage: Lineage) -> bool:
    server = lineage.renewalparams.get_str("server") or ""
    return "staging" in server


def status_text(lineage: Lineage, serial: int, now: datetime.datetime) -> tuple[str, bool]:
    """Certbot's ``VALID: N days`` / ``INVALID: EXPIRED, ...`` and whether it is valid."""
    not_after = lineage.not_after
    reasons: list[Invalid] = []
    if _is_test_cert(lineage):
        reasons.append(Invalid.TEST_CERT)
    if not_after <= now:
        reasons.append(Invalid.EXPIRED)
    elif revocations.is_revoked(lineage.archive_dir, serial):
        reasons.append(Invalid.REVOKED)
    if reasons:
        return "INVALID: " + ", ".join(reasons), False
    left = not_after - now
    if left.days == 1:
        return "VALID: 1 day", True
    if left.days < 1:
        return f"VALID: {left.seconds // 3600} hour(s)", True
    return f"VALID: {left.days} days", True


def summarize(lineage: Lineage, now: datetime.datetime) -> CertSummary:
    info = lineage.cert_info()
    status, valid = status_text(lineage, info.serial, now)
    return CertSummary(
        name=lineage.name, serial=format(info.serial, "x"),
        key_type="RSA" if info.key_type.startswith("RSA") else info.key_type.split(" ")[0],
        domains=list(info.names), expiry=str(info.not_after.astimezone(datetime.UTC)),
        status=status, valid=valid, days_left=(info.not_after - now).days,
        cert_path=lineage.cert_path, key_path=lineage.key_path,
        fullchain_path=lineage.fullchain_path, chain_path=lineage.chain_path,
        renewal_conf=lineage.renewal_conf_path,
    )


def _wanted(config: Config, summary: CertSummary) -> bool:
    if config.certname and summary.name != config.certname:
        return False
    if config.domains:
        return set(parse_domain_args(config.domains)) <= set(summary.domains)
    return True


def collect(config: Config) -> tuple[list[CertSummary], list[tuple[str, str]]]:
    """Summaries of the lineages that load, and ``(conf, reason)`` for the others."""
    found = scan(config.config_dir, repair=False)
    broken = [(path, str(exc)) for path, exc in found.errors]
    now = datetime.datetime.now(datetime.UTC)
    shown = []
    for lineage in found.lineages:
        try:
            summary = summarize(lineage, now)
        except errors.Error as exc:
            broken.append((lineage.renewal_conf_path, str(exc)))
            continue
        if _wanted(config, summary):
            shown.append(summary)
    return shown, broken


def _human(summary: CertSummary) -> str:
    return (f"  Certificate Name: {summary.name}\n"
            f"    Serial Number: {summary.serial}\n"
            f"    Key Type: {summary.key_type}\n"
            f"    Identifiers: {' '.join(summary.domains)}\n"
            f"    Expiry Date: {summary.expiry} ({summary.status})\n"
            f"    Certificate Path: {summary.fullchain_path}\n"
            f"    Private Key Path: {summary.key_path}")


def run(config: Config) -> int:
    shown, broken = collect(config)
    metrics.write(config.metrics_file, config.work_dir, config.config_dir)
    if config.json:
        sys.stdout.write(json.dumps({
            "schema": "certkernel.certificates/1",
            "certificates": [asdict(s) for s in shown],
            "invalid": [{"renewal_conf": p, "reason": r} for p, r in broken],
        }, indent=2) + "\n")
        return 0
    filtered = bool(config.certname or config.domains)
    lines = [SEPARATOR]
    if not shown and not broken:
        lines.append("No matching certificates found." if filtered else "No certificates found.")
    if shown:
        lines.append(f"Found the following {'matching ' if filtered else ''}certs:")
        lines += [_human(s) for s in shown]
    if broken:
        if shown:
            lines.append("")
        lines.append("The following renewal configurations were invalid:")
        lines += [f"  {path} (skipped: {reason})" for path, reason in broken]
    lines.append(SEPARATOR)
    say(config, "\n".join(lines))
    return 0
