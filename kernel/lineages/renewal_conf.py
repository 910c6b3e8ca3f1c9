"""Renewal confs (``renewal/<name>.conf``) in Certbot's configobj format.

A renewal conf is what lets ``renew`` redo, months later and unattended,
what the user asked for once. Confs written by Certbot must load unchanged,
so this follows Certbot's layout exactly::

    # renew_before_expiry = 30 days
    version = 1.7.0
    archive_dir = /etc/letsencrypt/archive/example.com
    cert = /etc/letsencrypt/live/example.com/cert.pem
    privkey = /etc/letsencrypt/live/example.com/privkey.pem
    chain = /etc/letsencrypt/live/example.com/chain.pem
    fullchain = /etc/letsencrypt/live/example.com/fullchain.pem

    # Options used in the renewal process
    [renewalparams]
    authenticator = webroot
    webroot_path = /var/www/html,
    [[webroot_map]]
    example.com = /var/www/html

Certbot stores every scalar as a string (``True``, ``4096``, ``None``), a
list as comma-separated values (a one-item list keeps a trailing comma) and
a map as a ``[[subsection]]``; :class:`RenewalParams` gives typed getters
over that. Rewrites keep the old file's comments, unknown keys and mode, as
Certbot does, and are atomic. ``configobj`` is imported only when a conf is
actually read or written.
"""

from __future__ import annotations

import io
import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from certkernel import fsutil
from certkernel.errors import CertStorageError, LineageNotFound, StorageError, ValidationError
from certkernel.lineages.renewal_conf_plain import parse_plain

ALL_FOUR = ("cert", "privkey", "chain", "fullchain")
DEFAULT_RENEW_BEFORE_EXPIRY = "30 days"
_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}
_UNITS = {
    "s": 1, "sec": 1, "second": 1,
    "m": 60, "min": 60, "minute": 60,
    "h": 3600, "hr": 3600, "hour": 3600,
    "d": 86400, "day": 86400,
    "w": 604800, "wk": 604800, "week": 604800,
    "month": 30 * 86400, "mo": 30 * 86400,
    "y": 365 * 86400, "yr": 365 * 86400, "year": 365 * 86400,
}
_INTERVAL_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([a-z]+)")

ParamValue = str | list[str] | dict[str, Any]


def parse_interval(text: str) -> timedelta:
    """Parse Certbot's ``renew_before_expiry`` ("30 days", "2 weeks 3 days").

    A bare number means days. Raises :class:`ValidationError` for anything
    else rather than silently renewing too late.
    """
    value = text.strip().lower()
    if re.fullmatch(r"\d+", value):
        return timedelta(days=int(value))
    seconds = 0.0
    pos = 0
    for match in _INTERVAL_PART.finditer(value):
        if value[pos:match.start()].strip(" ,") not in ("", "and"):
            break
        unit = match.group(2)
        unit = unit[:-1] if unit.endswith("s") and unit[:-1] in _UNITS else unit
        if unit not in _UNITS:
            raise ValidationError(f"Unknown time unit {match.group(2)!r} in interval {text!r}")
        seconds += float(match.group(1)) * _UNITS[unit]
        pos = match.end()
    if pos == 0 or value[pos:].strip():
        raise ValidationError(f"Cannot read interval {text!r}: write it like '30 days'")
    return timedelta(seconds=seconds)


class RenewalParams(Mapping[str, ParamValue]):
    """The ``[renewalparams]`` section with typed getters over Certbot's strings."""

    def __init__(self, raw: Mapping[str, ParamValue], source: str = "renewal conf") -> None:
        self._raw = dict(raw)
        self._source = source

    def __getitem__(self, key: str) -> ParamValue:
        return self._raw[key]

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._raw)

    def __len__(self) -> int:
        return len(self._raw)

    def as_dict(self) -> dict[str, ParamValue]:
        return dict(self._raw)

    def _bad(self, key: str, want: str) -> StorageError:
        return StorageError(f"{self._source}: [renewalparams] {key} = {self._raw[key]!r} is not {want}")

    def get_str(self, key: str, default: str | None = None) -> str | None:
        """A string value; Certbot's literal ``None`` reads as ``None``."""
        value = self._raw.get(key)
        if value is None or value == "None":
            return default
        if isinstance(value, list):
            return ",".join(value)
        if isinstance(value, dict):
            raise self._bad(key, "a single value")
        return value

    def get_bool(self, key: str, default: bool | None = None) -> bool | None:
        value = self.get_str(key)
        if value is None:
            return default
        low = value.strip().lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        raise self._bad(key, "True or False")


@dataclass
class RenewalConf:
    """One parsed renewal conf; ``params`` is ``[renewalparams]``."""

    path: str
    archive_dir: str
    cert: str
    privkey: str
    chain: str
    fullchain: str
    params: RenewalParams
    version: str | None = None
    renew_before_expiry: str | None = None
    has_renewalparams: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The lineage name: the file name without ``.conf``."""
        base = os.path.basename(self.path)
        return base[: -len(".conf")] if base.endswith(".conf") else base

    def link(self, kind: str) -> str:
        return str(getattr(self, kind))

    def renew_before_expiry_interval(self) -> timedelta | None:
        """The parsed ``renew_before_expiry`` (top level, or Certbot's fallback in params)."""
        text = self.renew_before_expiry or self.params.get_str("renew_before_expiry")
        if text is None:
            return None
        try:
            return parse_interval(text)
        except ValidationError as exc:
            raise StorageError(f"{self.path}: {exc}") from None

    @property
    def autorenew(self) -> bool:
        """False when the user set ``autorenew = False`` (``--no-autorenew``)."""
        return bool(self.params.get_bool("autorenew", True))


def _configobj_from_bytes(data: bytes, path: str) -> Any:
    import configobj  # type: ignore[import-untyped]  # no types, no stub package exists

    try:
        return configobj.ConfigObj(
            io.BytesIO(data), encoding="utf-8", default_encoding="utf-8", interpolation=False
        )
    except (configobj.ConfigObjError, UnicodeDecodeError, SyntaxError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CertStorageError(f"renewal conf {path} is corrupt: {first}") from exc


def read(path: str) -> RenewalConf:
    """Load one renewal conf; a corrupt or incomplete file raises
    :class:`CertStorageError` naming it (``renew`` skips that lineage)."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        raise LineageNotFound(
            f"no certificate lineage has the renewal conf {path}; "
            "see 'certkernel certificates' for the names that exist") from None
    except OSError as exc:
        raise CertStorageError(f"cannot read renewal conf {path}: {exc.strerror}") from exc

    raw = parse_plain(data)
    if raw is None:  # anything beyond the plain subset: configobj decides
        raw = _configobj_from_bytes(data, path).dict()
    missing = [key for key in ("archive_dir", *ALL_FOUR) if not isinstance(raw.get(key), str)]
    if missing:
        raise CertStorageError(
            f"renewal conf {path} is incomplete: missing or invalid {', '.join(missing)}"
        )
    params_raw = raw.get("renewalparams")
    has_params = isinstance(params_raw, dict)
    known = {"version", "archive_dir", "renew_before_expiry", "renewalparams", *ALL_FOUR}
    rbe = raw.get("renew_before_expiry")
    return RenewalConf(
        path=path,
        archive_dir=raw["archive_dir"],
        cert=raw["cert"],
        privkey=raw["privkey"],
        chain=raw["chain"],
        fullchain=raw["fullchain"],
        params=RenewalParams(params_raw if isinstance(params_raw, dict) else {}, path),
        version=raw.get("version") if isinstance(raw.get("version"), str) else None,
        renew_before_expiry=rbe if isinstance(rbe, str) else None,
        has_renewalparams=has_params,
        extra={k: v for k, v in raw.items() if k not in known},
    )


def to_conf_value(value: Any) -> Any:
    """Turn a Python value into what Certbot would have stored."""
    if value is None:
        return "None"
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list | tuple):
        return [str(to_conf_value(v)) for v in value]
    if isinstance(value, Mapping):
        return {str(k): to_conf_value(v) for k, v in value.items()}
    return str(value)


def _round_trips(data: dict[str, Any]) -> bool:
    import configobj

    probe = configobj.ConfigObj(encoding="utf-8", default_encoding="utf-8", interpolation=False)
    probe.update(data)
    text = b"\n".join(line if isinstance(line, bytes) else line.encode() for line in probe.write())
    try:
        return bool(_configobj_from_bytes(text, "probe").dict() == data)
    except CertStorageError:
        return False


def _check_round_trip(text: bytes, expected: dict[str, Any], path: str) -> None:
    """Refuse to save a conf that would not read back the same.

    configobj writes some strings (a value starting with a non-ASCII space,
    mixed quotes) in a form it cannot parse again; saving that would turn a
    good lineage into one ``renew`` skips. The old file stays in place, and
    the message names the offending keys (found one by one, on this rare
    path only).
    """
    try:
        if _configobj_from_bytes(text, path).dict() == expected:
            return
    except CertStorageError:
        pass
    bad = [k for k, v in expected.items() if not isinstance(v, dict) and not _round_trips({k: v})]
    params = expected.get("renewalparams", {})
    bad += [k for k, v in params.items() if not _round_trips({"renewalparams": {k: v}})]
    raise ValidationError(
        f"cannot store a value in renewal conf {path}: {', '.join(bad) or 'a value'} "
        "would not read back unchanged (unusual quotes or spaces)"
    )


def write(
    path: str,
    archive_dir: str,
    links: Mapping[str, str],
    params: Mapping[str, Any],
    *,
    version: str,
    renew_before_expiry: str | None = None,
) -> RenewalConf:
    """Write (or rewrite) a renewal conf atomically.

    ``params`` replaces ``[renewalparams]`` wholesale (keys the user no longer
    sets are dropped, as Certbot does); the old file's comments, unknown
    top-level keys and mode are kept. ``renew_before_expiry`` is written only
    when given; otherwise an existing value stays.
    """
    import configobj

    old_mode: int | None = None
    config: Any
    if os.path.exists(path):
        with open(path, "rb") as handle:
            data = handle.read()
        old_mode = stat.S_IMODE(os.stat(path).st_mode)
        try:
            config = _configobj_from_bytes(data, path)
        except CertStorageError:
            config = None  # replace a corrupt conf rather than refuse to save
    else:
        config = None
    if config is None:
        config = configobj.ConfigObj(encoding="utf-8", default_encoding="utf-8", interpolation=False)
    config["version"] = version
    config["archive_dir"] = archive_dir
    for kind in ALL_FOUR:
        config[kind] = links[kind]
    if renew_before_expiry is not None:
        parse_interval(renew_before_expiry)
        config["renew_before_expiry"] = renew_before_expiry
    if "renewalparams" not in config:
        config["renewalparams"] = {}
        config.comments["renewalparams"] = ["", "# Options used in the renewal process"]
    section = config["renewalparams"]
    for key in list(section.keys()):
        if key not in params:
            del section[key]
    for key, value in params.items():
        section[key] = to_conf_value(value)
    if "renew_before_expiry" not in config and not config.initial_comment:
        config.initial_comment = [f"# renew_before_expiry = {DEFAULT_RENEW_BEFORE_EXPIRY}"]
    config.filename = None
    try:
        lines = config.write()
    except Exception as exc:  # configobj cannot quote some values
        raise ValidationError(f"cannot store a value in renewal conf {path}: {exc}") from exc
    text = b"\n".join(line if isinstance(line, bytes) else line.encode("utf-8") for line in lines)
    _check_round_trip(text, config.dict(), path)
    fsutil.atomic_write(path, text + b"\n", old_mode if old_mode is not None else 0o644)
    return read(path)
