"""Remember which certificates of a lineage we revoked.

Certbot learns revocation from OCSP; many private CAs (and Pebble) have no
OCSP responder, and Let's Encrypt is retiring its own. A revoked lineage that
is kept (``--no-delete-after-revoke``) is recorded in
``archive/<name>/revocations.json`` (serial in hex -> reason and time), a file
Certbot ignores and that goes away with the archive on ``delete``.
"""

from __future__ import annotations

import datetime
import json
import logging
import os

from certkernel import fsutil

logger = logging.getLogger(__name__)

FILE_NAME = "revocations.json"


def _path(archive_dir: str) -> str:
    return os.path.join(archive_dir, FILE_NAME)


def load(archive_dir: str) -> dict[str, dict[str, str]]:
    """The records of one archive dir; a damaged file counts as empty (logged)."""
    try:
        with open(_path(archive_dir), encoding="utf-8") as handle:
            data = json.load(handle)
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        logger.warning("Ignoring unreadable %s: %s", _path(archive_dir), exc)
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(k): v for k, v in data.items() if isinstance(v, dict)}


def is_revoked(archive_dir: str, serial: int) -> bool:
    return format(serial, "x") in load(archive_dir)


def record(archive_dir: str, serial: int, reason: str) -> None:
    """Add one revoked serial (atomic rewrite of the whole file)."""
    data = load(archive_dir)
    stamp = datetime.datetime.now(datetime.UTC).replace(microsecond=0).isoformat()
    data[format(serial, "x")] = {"reason": reason, "revoked_at": stamp}
    fsutil.atomic_write(_path(archive_dir), json.dumps(data, indent=2, sort_keys=True) + "\n",
                        0o644)
