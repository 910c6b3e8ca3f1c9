"""Option values: the declared types and turning text into them.

One converter for every place a value arrives as text (argv, cli.ini,
renewal confs), so the three cannot disagree about what ``a, b,`` or
``yes`` means; and the check that a manifest's TOML default fits its type.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from certkernel.errors import ConfigurationError

OPTION_TYPES = frozenset({"str", "int", "bool", "path", "list", "map", "secret-file",
                          "secret-text"})
_TRUE = frozenset({"true", "yes", "on", "1"})
_FALSE = frozenset({"false", "no", "off", "0"})


def convert_value(kind: str, text: str, what: str = "value", origin: str = "") -> Any:
    """Convert ``text`` to the declared ``kind``; ConfigurationError on mismatch.

    Lists accept Certbot's renewal-conf spelling (``a, b,``) as well as a
    JSON array; maps are JSON objects (``webroot-map = {...}`` on one line).
    """
    where = f" ({origin})" if origin else ""
    raw = text.strip()
    if kind in ("str", "path", "secret-file", "secret-text"):
        return raw
    converter = _CONVERTERS.get(kind)
    if converter is None:
        raise ConfigurationError(f"{what}: unknown option type {kind!r}{where}")
    return converter(raw, what, where)


def _int(raw: str, what: str, where: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise ConfigurationError(f"{what} expects an integer, got {raw!r}{where}") from None


def _bool(raw: str, what: str, where: str) -> bool:
    low = raw.lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise ConfigurationError(f"{what} expects true or false, got {raw!r}{where}")


def _list(raw: str, what: str, where: str) -> list[str]:
    if not raw.startswith("["):
        return [item.strip() for item in raw.split(",") if item.strip()]
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ConfigurationError(f"{what}: bad JSON list {raw!r}: {exc.msg}{where}") from None
    if not isinstance(value, list):
        raise ConfigurationError(f"{what} expects a list{where}")
    return [str(v) for v in value]


def _map(raw: str, what: str, where: str) -> dict[str, str]:
    try:
        value = json.loads(raw) if raw else {}
    except json.JSONDecodeError as exc:
        raise ConfigurationError(
            f"{what} expects a JSON object on one line, got {raw!r}: {exc.msg}{where}"
        ) from None
    if not isinstance(value, dict):
        raise ConfigurationError(f"{what} expects a JSON object{where}")
    return {str(k): str(v) for k, v in value.items()}


_CONVERTERS: dict[str, Callable[[str, str, str], Any]] = {
    "int": _int, "bool": _bool, "list": _list, "map": _map,
}


def check_default(kind: str, value: Any) -> bool:
    """Whether a TOML default fits the declared option type."""
    if value is None:
        return True
    if kind in ("str", "path", "secret-file", "secret-text"):
        return isinstance(value, str)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "list":
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    if kind == "map":
        return isinstance(value, dict)
    return False
