"""ACME Renewal Information (RFC 9773): the cached window and the offline decision.

Why a cache: ``renew`` runs twice a day over possibly thousands of lineages
and "nothing is due" must not need the network. So the CA's answer — the
``suggestedWindow``, its ``explanationURL`` and the time before which not
to ask again (Retry-After) — is kept per lineage, and the due decision is
made from that file alone while it is fresh.

Where: ``archive/<name>/ari.json``. Not a key in the renewal conf, because
that file is the user's and Certbot's (Certbot rewrites it on renewal and
would drop or trip over our keys, and writing it on every ARI fetch would
race with the conf writers); not the work dir, because the state belongs to
the lineage: ``delete`` removes it with the archive, and Certbot ignores
files in the archive whose names are not ``<kind><n>.pem``. The file is
tied to the current certificate by the SHA-256 of its PEM file, so a cert
renewed by anyone (Certbot included) invalidates it at once.

The file also keeps the server's ``renewalInfo`` URL (or that the server
has none), so a stale entry is refreshed with one GET and no directory fetch.

This module uses only the standard library: the offline decision must not
import ``acme``, ``cryptography`` or ``requests``.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import logging
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from certkernel import fsutil
from certkernel.ca.acme_problems import retry_after_seconds

if TYPE_CHECKING:
    from certkernel.lineages.storage import Lineage

logger = logging.getLogger(__name__)

FILE_NAME = "ari.json"
FORMAT_VERSION = 1
# RFC 9773 §4.3.3: without Retry-After, ask again after six hours.
DEFAULT_RETRY = datetime.timedelta(hours=6)
# Bounds for a CA's Retry-After: never hammer the CA, never trust a window for long.
MIN_RETRY = datetime.timedelta(minutes=1)
MAX_RETRY = datetime.timedelta(days=2)
# A server without renewalInfo is asked again (one directory fetch) after a day.
NO_ARI_RETRY = datetime.timedelta(days=1)
# After a failed lookup, the next attempt waits this long (the cached window stays).
FAILED_RETRY = datetime.timedelta(hours=1)
# renew runs at least daily (Certbot's timer: twice a day). A window that ends
# before the next run could come is acted on now rather than missed.
NEXT_RUN = datetime.timedelta(days=1)


def _iso(when: datetime.datetime) -> str:
    return when.astimezone(datetime.UTC).isoformat()


def parse_time(text: str) -> datetime.datetime:
    """An RFC 3339 time (``Z`` or an offset) as an aware UTC datetime."""
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    when = datetime.datetime.fromisoformat(value)
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.UTC)
    return when.astimezone(datetime.UTC)


def cert_digest(cert_pem: bytes) -> str:
    return hashlib.sha256(cert_pem).hexdigest()


@dataclass(frozen=True)
class Window:
    """The CA's suggested renewal window."""

    start: datetime.datetime
    end: datetime.datetime

    def chosen_time(self, seed: str) -> datetime.datetime:
        """A uniformly spread point in the window (RFC 9773 §4.2), stable per seed.

        A hash rather than ``random`` so every run for the same certificate
        picks the same point: the decision does not flip between runs, and
        the spread across lineages is still uniform.
        """
        span = max((self.end - self.start).total_seconds(), 0.0)
        fraction = int(hashlib.sha256(seed.encode()).hexdigest()[:12], 16) / float(16 ** 12)
        return self.start + datetime.timedelta(seconds=span * fraction)


@dataclass(frozen=True)
class AriState:
    """What ``archive/<name>/ari.json`` holds for one certificate."""

    cert_sha256: str
    server: str
    renewal_info_url: str | None  # None: the server offers no ARI
    fetched: datetime.datetime
    next_check: datetime.datetime  # Retry-After: do not ask again before
    cert_id: str | None = None
    window: Window | None = None
    explanation_url: str | None = None

    def fresh(self, now: datetime.datetime) -> bool:
        return now < self.next_check

    def renew_at(self) -> datetime.datetime | None:
        if self.window is None:
            return None
        return self.window.chosen_time(self.cert_id or self.cert_sha256)

    def due(self, now: datetime.datetime) -> bool:
        """Due at the chosen time, or now if the window would end before the next run."""
        if self.window is None:
            return False
        renew_at = self.renew_at()
        assert renew_at is not None
        if now >= renew_at:
            return True
        return now >= self.window.start and now >= self.window.end - NEXT_RUN

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "version": FORMAT_VERSION,
            "cert_sha256": self.cert_sha256,
            "cert_id": self.cert_id,
            "server": self.server,
            "renewal_info_url": self.renewal_info_url,
            "fetched": _iso(self.fetched),
            "next_check": _iso(self.next_check),
            "window": None,
            "explanation_url": self.explanation_url,
            "renew_at": None,
        }
        if self.window is not None:
            data["window"] = {"start": _iso(self.window.start), "end": _iso(self.window.end)}
            renew_at = self.renew_at()
            data["renew_at"] = _iso(renew_at) if renew_at else None
        return data

    @classmethod
    def from_json(cls, data: Any) -> AriState:
        """Parse a stored state; raises ValueError/KeyError/TypeError on junk."""
        if not isinstance(data, dict) or data.get("version") != FORMAT_VERSION:
            raise ValueError("unknown ari.json format")
        window = None
        if data.get("window"):
            window = Window(parse_time(data["window"]["start"]), parse_time(data["window"]["end"]))
        url = data.get("renewal_info_url")
        return cls(
            cert_sha256=str(data["cert_sha256"]), server=str(data["server"]),
            renewal_info_url=str(url) if url else None,
            fetched=parse_time(data["fetched"]), next_check=parse_time(data["next_check"]),
            cert_id=data.get("cert_id") or None, window=window,
            explanation_url=data.get("explanation_url") or None,
        )


def state_path(lineage: Lineage) -> str:
    return os.path.join(lineage.archive_dir, FILE_NAME)


def load(lineage: Lineage) -> AriState | None:
    """The cached state for the lineage's current cert; None if absent, junk or outdated."""
    path = state_path(lineage)
    try:
        with open(path, encoding="utf-8") as handle:
            state = AriState.from_json(json.load(handle))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        logger.info("Ignoring unreadable renewal information %s: %s", path, exc)
        return None
    if state.cert_sha256 != cert_digest(lineage.read("cert")):
        logger.debug("%s describes an older certificate of %s", path, lineage.name)
        return None
    return state


def save(lineage: Lineage, state: AriState) -> None:
    """Write the state atomically; a failure is logged, never fatal (it is a cache)."""
    path = state_path(lineage)
    try:
        fsutil.atomic_write(path, json.dumps(state.to_json(), indent=1) + "\n", 0o644)
    except OSError as exc:
        logger.warning("Could not save renewal information to %s: %s", path, exc)


@dataclass(frozen=True)
class Decision:
    """The offline verdict of the ARI cache for one lineage."""

    state: AriState | None

    def stale(self, now: datetime.datetime) -> bool:
        """No state for the current cert, or its Retry-After has passed."""
        return self.state is None or not self.state.fresh(now)

    @property
    def has_window(self) -> bool:
        return self.state is not None and self.state.window is not None

    def due(self, now: datetime.datetime) -> bool:
        return self.state is not None and self.state.due(now)

    def reason(self) -> str:
        state = self.state
        if state is None or state.window is None:
            return "due for renewal"
        text = (f"due per the CA's renewal information (window {_iso(state.window.start)} "
                f"to {_iso(state.window.end)})")
        if state.explanation_url:
            text += f"; see {state.explanation_url}"
        return text


def decide(lineage: Lineage) -> Decision:
    """Read the cache only: the basis for a decision that needs no network."""
    return Decision(load(lineage))


def retry_after(header: str | None, now: datetime.datetime) -> datetime.datetime:
    """When to ask again, from the Retry-After header, clamped to sane bounds."""
    seconds = retry_after_seconds(header, now) if header else None
    delay = DEFAULT_RETRY if seconds is None else datetime.timedelta(seconds=seconds)
    return now + min(max(delay, MIN_RETRY), MAX_RETRY)


def failed_state(cert_pem: bytes, server: str, cached: AriState | None,
                 now: datetime.datetime | None = None) -> AriState:
    """What to remember after a failed lookup: the old window (if any), retry later.

    The window is kept even if the conf now names another server: it is the
    issuing CA's word about this very certificate.
    """
    import dataclasses

    now = now or datetime.datetime.now(datetime.UTC)
    if cached is not None:
        return dataclasses.replace(cached, next_check=now + FAILED_RETRY)
    return AriState(cert_digest(cert_pem), server, None, now, now + FAILED_RETRY)
