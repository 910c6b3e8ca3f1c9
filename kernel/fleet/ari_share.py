"""Renewal information (ACME ARI) shared by the fleet: one question to the CA per certificate.

Why: each host decides offline with ``archive/<name>/ari.json``
(:mod:`certkernel.ca.ari`), and asks the CA only when that answer is missing
or past its Retry-After. Alone, every host of a fleet would ask about every
certificate, including the ones it never ordered. Shared, the host that asked
(after an issuance, or on a stale answer) offers the answer to the store's
``ari_state`` (:func:`push`), and the others copy it while converging
(:func:`pull`), so they have nothing to ask.

A row is copied only when it is the store's current version of the lineage,
describes this host's copy of that certificate (the digest in it matches
``cert<N>.pem``), parses, and was fetched later than the local answer.
Anything else is left, and this host asks the CA itself, as without a
fleet: a row someone altered can delay or advance nothing but its own
certificate's next question, never a renewal of another certificate.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from typing import Any

from certkernel import fsutil
from certkernel.ca import ari
from certkernel.fleet.connect import jsonb
from certkernel.fleet.materialize import local_layout

logger = logging.getLogger(__name__)

_CURRENT = """
SELECT l.name, l.current_version, a.state, a.fetched_at
FROM lineages l LEFT JOIN ari_state a ON a.lineage = l.name AND a.version = l.current_version
WHERE l.current_version IS NOT NULL AND (%(only)s::text IS NULL OR l.name = %(only)s)
"""
_UPSERT = """
INSERT INTO ari_state (lineage, version, cert_id, window_start, window_end, retry_after,
                       explanation_url, fetched_at, state)
VALUES (%(lineage)s, %(version)s, %(cert_id)s, %(window_start)s, %(window_end)s,
        %(retry_after)s, %(explanation_url)s, %(fetched_at)s, %(state)s)
ON CONFLICT (lineage, version) DO UPDATE SET
    cert_id = EXCLUDED.cert_id, window_start = EXCLUDED.window_start,
    window_end = EXCLUDED.window_end, retry_after = EXCLUDED.retry_after,
    explanation_url = EXCLUDED.explanation_url, fetched_at = EXCLUDED.fetched_at,
    state = EXCLUDED.state
WHERE ari_state.fetched_at < EXCLUDED.fetched_at OR ari_state.state IS NULL
"""


@dataclass(frozen=True)
class _Local:
    """This host's copy of one lineage's version: where its answer lives, the
    certificate's digest (None: unreadable), and its usable answer (None: none)."""

    path: str
    digest: str | None
    state: ari.AriState | None


def _local(config_dir: str, name: str, version: int) -> _Local:
    layout = local_layout(config_dir, name)
    path = os.path.join(layout.archive_dir, ari.FILE_NAME)
    try:
        with open(layout.archive_path("cert", version), "rb") as cert:
            digest: str | None = ari.cert_digest(cert.read())
    except OSError:
        return _Local(path, None, None)
    try:
        with open(path, encoding="utf-8") as handle:
            state: ari.AriState | None = ari.AriState.from_json(json.load(handle))
    except (OSError, ValueError, KeyError, TypeError):
        state = None
    if state is not None and state.cert_sha256 != digest:
        state = None  # it describes an older certificate
    return _Local(path, digest, state)


def pull(conn: Any, config_dir: str) -> list[str]:
    """Copy the store's newer answers into this host's ``ari.json`` files; the names copied."""
    copied = []
    for name, version, raw, _fetched_at in conn.execute(_CURRENT, {"only": None}).fetchall():
        if raw is None:
            continue
        try:
            offered = ari.AriState.from_json(raw)
        except (ValueError, KeyError, TypeError):
            logger.info("Ignoring the fleet's unreadable renewal information for %s", name)
            continue
        local = _local(config_dir, name, int(version))
        if local.state is not None and local.state.fetched >= offered.fetched:
            continue
        if offered.cert_sha256 != local.digest:
            logger.info("Ignoring the fleet's renewal information for %s: it describes "
                        "another certificate than this host's copy", name)
            continue
        try:
            fsutil.atomic_write(local.path, json.dumps(offered.to_json(), indent=1) + "\n",
                                0o644)
        except OSError as exc:
            logger.warning("Could not copy the fleet's renewal information for %s: %s",
                           name, exc)
            continue
        copied.append(name)
    return copied


def push(conn: Any, config_dir: str, only: str | None = None) -> list[str]:
    """Offer this host's newer answers (for lineage ``only``, or all) to the store."""
    offered = []
    for name, version, _raw, fetched_at in conn.execute(_CURRENT, {"only": only}).fetchall():
        local = _local(config_dir, name, int(version))
        state = local.state
        if state is None or (fetched_at is not None and state.fetched <= fetched_at):
            continue
        window = state.window
        conn.execute(_UPSERT, {
            "lineage": name, "version": int(version), "cert_id": state.cert_id,
            "window_start": window.start if window else None,
            "window_end": window.end if window else None,
            "retry_after": state.next_check, "explanation_url": state.explanation_url,
            "fetched_at": state.fetched, "state": jsonb(state.to_json())})
        offered.append(name)
    return offered
