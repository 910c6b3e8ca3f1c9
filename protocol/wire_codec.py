"""The wire codec: typed dataclasses to and from the maps of the plugin protocol.

A :class:`Wire` subclass is a frozen dataclass whose fields, in order, are a
wire map's keys; this module turns one into the map to send and a received
map back into one, checking every value against the field's type hint. It
knows no protocol method: ``methods.py`` declares the messages and the
registry with it, and the generator (``scripts/gen-protocol.py``) renders the
types with :func:`describe`.

Receiving is lenient where the spec says so (§2: unknown fields are ignored,
so a newer peer may add one) and strict everywhere else: a missing required
field or a value of the wrong type is a :class:`WireError` naming the map and
the field. Sending is strict: a field not declared cannot be built (the
dataclass refuses it) and a value of the wrong type is refused before it
reaches the pipe.

This module imports nothing of the kernel: callers turn :class:`WireError`
into their own error (``InvalidParams`` when answering, ``ProtocolError``
when a result is malformed).
"""

from __future__ import annotations

import dataclasses
import sys
import types
import typing
from dataclasses import dataclass
from typing import Any, Literal, Self, Union

from certkernel.protocol.messages import Challenge, LineageInfo


class WireError(ValueError):
    """A map that does not match its declared shape; the text names the map and the field."""


class Wire:
    """Base of every params/result map and of the maps nested in them.

    Subclasses are frozen dataclasses; their fields, in order, are the map's
    keys. A field with a default is optional on the wire; an optional field
    whose value is None is left out when sending ("absent, not nil").
    """

    @classmethod
    def wire_fields(cls) -> list[WireField]:
        """The declared fields, with their wire types, in declaration order."""
        return fields_of(cls)

    def to_wire(self) -> dict[str, Any]:
        """The map to send; refuses values of the wrong type before they travel."""
        out: dict[str, Any] = {}
        for f in self.wire_fields():
            value = getattr(self, f.name)
            if value is None and not f.required:
                continue
            out[f.name] = _encode(value)
        _check_map(type(self).__name__, out, type(self), strict=True)
        return out

    @classmethod
    def from_wire(cls, data: object, where: str = "") -> Self:
        """Decode a received map; unknown keys are ignored, missing or mistyped ones refused."""
        label = where or cls.__name__
        if not isinstance(data, dict):
            raise WireError(f"{label}: params must be a map, got {_kind_of(data)}")
        return typing.cast(Self, _decode_dataclass(cls, data, label))


@dataclass(frozen=True, slots=True)
class WireField:
    """One key of a wire map as the registry declares it."""

    name: str
    type: Any
    required: bool
    default: Any

    def wire_type(self) -> str:
        """The type in PROTOCOL.md's notation: ``str``, ``[str]``, ``map str → str``..."""
        return describe(self.type, notation="doc")


# -- type handling -----------------------------------------------------------

_NESTED: dict[type, str] = {Challenge: "challenge", LineageInfo: "lineage"}


def _is_optional_type(tp: Any) -> bool:
    return _origin(tp) is Union and type(None) in typing.get_args(tp)


def _origin(tp: Any) -> Any:
    origin = typing.get_origin(tp)
    return Union if origin is types.UnionType else origin


def _strip_none(tp: Any) -> Any:
    if _is_optional_type(tp):
        rest = [a for a in typing.get_args(tp) if a is not type(None)]
        return rest[0] if len(rest) == 1 else Union[tuple(rest)]  # noqa: UP007
    return tp


def describe(tp: Any, notation: Literal["doc", "prose", "ts"] = "prose") -> str:
    """A type for people (``prose``), for PROTOCOL.md (``doc``) or for TypeScript (``ts``)."""
    tp = _strip_none(tp)
    origin = _origin(tp)
    if origin is list:
        (item,) = typing.get_args(tp)
        if notation == "doc":
            return f"[{describe(item, 'doc')}]"
        if notation == "ts":
            return f"{describe(item, 'ts')}[]"
        return f"a list of {_plural(item)}"
    if origin is dict:
        _, value = typing.get_args(tp)
        if notation == "doc":
            return "map" if value is Any else f"map str → {describe(value, 'doc')}"
        if notation == "ts":
            return f"{{ [key: string]: {describe(value, 'ts')} }}"
        return "a map"
    names = {
        str: ("str", "string", "a string"),
        int: ("int", "number", "an integer"),
        bool: ("bool", "boolean", "a boolean"),
        float: ("float", "number", "a number"),
    }
    if tp in names:
        doc, ts, prose = names[tp]
        return {"doc": doc, "ts": ts, "prose": prose}[notation]
    if tp in _NESTED:
        word = _NESTED[tp]
        if notation == "ts":
            return f"Wire{word.capitalize()}"
        return word if notation == "doc" else f"a {word} map"
    if tp is Any:
        return {"doc": "any", "ts": "unknown", "prose": "any value"}[notation]
    raise TypeError(f"the registry cannot describe type {tp!r}")


def _plural(tp: Any) -> str:
    if tp is str:
        return "strings"
    if tp is int:
        return "integers"
    if tp in _NESTED:
        return f"{_NESTED[tp]} maps"
    return "values"


def _kind_of(value: object) -> str:
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (bytes, bytearray)):
        return "binary"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a map"
    return type(value).__name__


def _conforms(tp: Any, value: object) -> bool:
    """Whether a received (decoded msgpack) value has the declared type."""
    if _is_optional_type(tp):
        return value is None or _conforms(_strip_none(tp), value)
    if tp is Any:
        return True
    origin = _origin(tp)
    if origin is list:
        (item,) = typing.get_args(tp)
        return isinstance(value, list) and all(_conforms(item, v) for v in value)
    if origin is dict:
        _, item = typing.get_args(tp)
        return isinstance(value, dict) and all(
            isinstance(k, str) and _conforms(item, v) for k, v in value.items())
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if tp is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if tp in _NESTED:
        return isinstance(value, dict)
    return isinstance(value, tp)


def _decode_value(tp: Any, value: Any, label: str) -> Any:
    """Turn nested maps into their dataclasses once the value is known to conform."""
    tp = _strip_none(tp)
    if value is None:
        return None
    if tp in _NESTED:
        return _decode_dataclass(tp, value, label)
    if _origin(tp) is list:
        (item,) = typing.get_args(tp)
        return [_decode_value(item, v, label) for v in value]
    return value


def _decode_dataclass(cls: type, data: dict[Any, Any], label: str) -> Any:
    _check_map(label, data, cls, strict=False)
    kwargs = {}
    for f in fields_of(cls):
        if f.name in data and not (data[f.name] is None and not f.required):
            kwargs[f.name] = _decode_value(f.type, data[f.name], f"{label}.{f.name}")
    return cls(**kwargs)


def _check_map(label: str, data: dict[Any, Any], cls: type, *, strict: bool) -> None:
    declared = {f.name: f for f in fields_of(cls)}
    if strict:
        unknown = sorted(str(k) for k in data if k not in declared)
        if unknown:
            raise WireError(f"{label}: unknown field {unknown[0]!r} "
                            f"(the registry declares {', '.join(declared) or 'none'})")
    for f in declared.values():
        if f.name not in data:
            if f.required:
                raise WireError(f"{label}: missing field {f.name!r} ({describe(f.type)})")
            continue
        value = data[f.name]
        if value is None and not f.required:
            continue  # an optional field sent as nil reads as absent
        if not _conforms(f.type, value):
            raise WireError(f"{label}: field {f.name!r} must be {describe(f.type)}, "
                            f"not {_kind_of(value)}")
        if f.type in _NESTED or _origin(_strip_none(f.type)) is list:
            inner = _strip_none(f.type)
            item = typing.get_args(inner)[0] if _origin(inner) is list else inner
            if item in _NESTED:
                values = value if isinstance(value, list) else [value]
                for v in values:
                    _check_map(f"{label}.{f.name}", v, item, strict=strict)


def _encode(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        # A nested map's optional field set to None is left out, as at the top level.
        return {f.name: _encode(getattr(value, f.name)) for f in fields_of(type(value))
                if f.required or getattr(value, f.name) is not None}
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    return value


_FIELD_CACHE: dict[type, list[WireField]] = {}


def fields_of(cls: type) -> list[WireField]:
    """The wire fields of any wire dataclass (params, results, Challenge, LineageInfo)."""
    cached = _FIELD_CACHE.get(cls)
    if cached is not None:
        return cached
    hints = typing.get_type_hints(cls, vars(sys.modules[cls.__module__]))
    found = []
    for f in dataclasses.fields(cls):
        has_default = (f.default is not dataclasses.MISSING
                       or f.default_factory is not dataclasses.MISSING)
        default = (f.default if f.default is not dataclasses.MISSING
                   else f.default_factory() if f.default_factory is not dataclasses.MISSING
                   else None)
        found.append(WireField(f.name, hints[f.name], not has_default, default))
    _FIELD_CACHE[cls] = found
    return found


def check_strict_map(label: str, data: object, cls: type) -> None:
    """Refuse anything but a map with exactly ``cls``'s declared fields, each of its type."""
    if not isinstance(data, dict):
        raise WireError(f"{label}: must be a map, got {_kind_of(data)}")
    _check_map(label, data, cls, strict=True)
