"""A fast reader for the plain subset of configobj that renewal confs use.

``renew`` on a host with thousands of lineages reads every renewal conf to
decide that nothing is due; configobj costs about a quarter of a
millisecond per file plus its import. Confs written by Certbot or certkernel
are almost always plain ``key = value`` lines, ``[section]`` and
``[[subsection]]`` headers and ``#`` comments, which this module reads in a
fraction of that time. Anything outside that subset (quotes, inline
comments, a BOM, deeper nesting, duplicates, a line configobj would reject)
makes :func:`parse_plain` return ``None`` and the caller falls back to
configobj, so results never differ (a differential test holds both to the
same answers).
"""

from __future__ import annotations

from typing import Any


def _special(text: str) -> bool:
    """Quotes and ``#`` change configobj's reading; three scans beat a char loop."""
    return "'" in text or '"' in text or "#" in text


def _value(raw: str) -> str | list[str] | None:
    """configobj's reading of an unquoted value, or None when not plain."""
    value = raw.strip()
    if _special(value):
        return None
    if "," not in value:
        return value
    if value == ",":
        return []
    items = [item.strip() for item in value.split(",")]
    if items[-1] == "":
        items.pop()
    if any(item == "" for item in items):
        return None
    return items


def parse_plain(data: bytes) -> dict[str, Any] | None:
    """Parse ``data`` like ``configobj.ConfigObj(...).dict()`` would, or return None."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if text.startswith("\ufeff"):
        return None
    top: dict[str, Any] = {}
    level1: dict[str, Any] | None = None
    current = top
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith("["):
            depth = len(stripped) - len(stripped.lstrip("["))
            if depth > 2 or not stripped.endswith("]" * depth) or stripped.endswith("]" * (depth + 1)):
                return None
            name = stripped[depth:-depth].strip()
            if not name or _special(name) or "[" in name or "]" in name:
                return None
            parent = top if depth == 1 else level1
            if parent is None or name in parent:
                return None
            section: dict[str, Any] = {}
            parent[name] = section
            current = section
            if depth == 1:
                level1 = section
            continue
        key, sep, raw = stripped.partition("=")
        key = key.strip()
        if not sep or not key or _special(key) or "[" in key or key in current:
            return None
        value = _value(raw)
        if value is None:
            return None
        current[key] = value
    return top
