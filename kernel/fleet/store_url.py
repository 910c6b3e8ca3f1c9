"""Passwords a ``--store`` URL carries, found with the standard library only.

Its own module because the logging setup redacts them from the first line it
writes, before (and without) importing the store's connection code.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit


def url_passwords(url: str) -> list[str]:
    """Every password a URL carries: ``user:PASSWORD@`` and ``?password=PASSWORD``."""
    try:
        parts = urlsplit(url)
        found = [parts.password or ""]
    except ValueError:
        return []
    found += parse_qs(parts.query).get("password", [])
    return [p for p in found if p]
