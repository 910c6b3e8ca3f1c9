"""Typed payloads that travel inside protocol messages (PROTOCOL.md §5, §6).

Each class maps to one map on the wire. ``from_wire`` ignores fields it does
not know, because fields are only ever added within a protocol version.
"""

from __future__ import annotations

import traceback
from dataclasses import asdict, dataclass, field
from typing import Any

from certkernel.protocol import errors

PROTOCOL_VERSIONS = (1,)
COOKIE_NAME = "CERTKERNEL_PLUGIN_COOKIE"
COOKIE_VALUE = "7f3b2a9c-certkernel-plugin"
VERSIONS_ENV = "CERTKERNEL_PROTOCOL_VERSIONS"
NAME_ENV = "CERTKERNEL_PLUGIN_NAME"

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
CANCELLED = -32800
PLUGIN_ERROR = -32000

# Protocol-fault types and the exception the kernel raises for each.
_FAULT_TYPES: dict[str, type[errors.TransportError]] = {
    "ParseError": errors.ProtocolError,
    "InvalidRequest": errors.InvalidRequest,
    "MethodNotFound": errors.MethodNotFound,
    "InvalidParams": errors.InvalidParams,
    "InternalError": errors.RemoteInternalError,
    "Cancelled": errors.CallCancelled,
    "ProtocolError": errors.ProtocolError,
}
_FAULT_CODES = {
    "ParseError": PARSE_ERROR,
    "InvalidRequest": INVALID_REQUEST,
    "MethodNotFound": METHOD_NOT_FOUND,
    "InvalidParams": INVALID_PARAMS,
    "InternalError": INTERNAL_ERROR,
    "Cancelled": CANCELLED,
}
_CLASS_TO_TYPE = {cls: name for name, cls in _FAULT_TYPES.items()}
_CLASS_TO_TYPE[errors.ProtocolError] = "ProtocolError"


@dataclass(frozen=True, slots=True)
class Challenge:
    """One challenge to publish, with every value already computed by the kernel."""

    identifier: str
    type: str
    token: str
    key_authorization: str
    validation: str
    identifier_type: str = "dns"
    wildcard: bool = False
    validation_domain_name: str = ""
    uri_path: str = ""
    # PROTOCOL.md §8 "Per-domain options": for each map option a per-domain
    # option of the plugin fills, the value for this identifier in this order.
    # None (absent on the wire) for plugins that declare no per-domain option.
    per_domain: dict[str, str] | None = None

    def to_wire(self) -> dict[str, Any]:
        data = asdict(self)
        if self.per_domain is None:
            del data["per_domain"]  # absent, not nil
        return data

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> Challenge:
        try:
            return cls(
                identifier=str(data["identifier"]),
                type=str(data["type"]),
                token=str(data["token"]),
                key_authorization=str(data["key_authorization"]),
                validation=str(data["validation"]),
                identifier_type=str(data.get("identifier_type", "dns")),
                wildcard=bool(data.get("wildcard", False)),
                validation_domain_name=str(data.get("validation_domain_name", "")),
                uri_path=str(data.get("uri_path", "")),
                per_domain=_str_map(data.get("per_domain")),
            )
        except (KeyError, TypeError) as exc:
            raise errors.InvalidParams(f"challenge is missing field {exc}") from None


def _str_map(value: object) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise errors.InvalidParams("challenge field 'per_domain' must be a map")
    return {str(k): str(v) for k, v in value.items()}


@dataclass(frozen=True, slots=True)
class LineageInfo:
    """What an installer may know of a lineage: names and link paths, no key bytes."""

    name: str
    cert_path: str
    key_path: str
    chain_path: str
    fullchain_path: str
    domains: list[str] = field(default_factory=list)

    def to_wire(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> LineageInfo:
        try:
            return cls(
                name=str(data["name"]),
                cert_path=str(data["cert_path"]),
                key_path=str(data["key_path"]),
                chain_path=str(data["chain_path"]),
                fullchain_path=str(data["fullchain_path"]),
                domains=[str(d) for d in data.get("domains", [])],
            )
        except (KeyError, TypeError) as exc:
            raise errors.InvalidParams(f"lineage is missing field {exc}") from None


def error_to_wire(exc: BaseException) -> dict[str, Any]:
    """Map an exception raised while handling a call to an error map."""
    cls = type(exc)
    fault = _CLASS_TO_TYPE.get(cls) if issubclass(cls, errors.TransportError) else None
    if fault is not None:
        code = _FAULT_CODES.get(fault, PLUGIN_ERROR)
        return {"code": code, "type": fault, "message": str(exc)}
    if isinstance(exc, errors.TransportError):
        # A failure of a conversation further down (the handler's own call to
        # its peer timed out or crashed) has no fault type of its own here:
        # the handler failed, and says so with the broadest plugin type.
        return {"code": PLUGIN_ERROR, "type": "PluginError", "message": str(exc)}
    if isinstance(exc, errors.PluginError):
        # The most precise known ancestor names the type.
        for klass in cls.__mro__:
            if klass.__name__ in errors.PLUGIN_ERROR_TYPES:
                wire: dict[str, Any] = {
                    "code": PLUGIN_ERROR,
                    "type": klass.__name__,
                    "message": str(exc),
                }
                data = getattr(exc, "data", None)
                if data is not None:
                    wire["data"] = data
                return wire
    text = "".join(traceback.format_exception(exc))
    return {
        "code": INTERNAL_ERROR,
        "type": "InternalError",
        "message": f"{cls.__name__}: {exc}",
        "data": {"traceback": text},
    }


def error_from_wire(error: dict[str, Any], plugin: str = "") -> errors.CallError:
    """Turn an error map into the matching exception of certkernel.errors."""
    type_name = error.get("type")
    message = error.get("message")
    text = message if isinstance(message, str) and message else "no message given"
    cls: type[errors.CallError]
    if isinstance(type_name, str) and type_name in errors.PLUGIN_ERROR_TYPES:
        cls = errors.PLUGIN_ERROR_TYPES[type_name]
    elif isinstance(type_name, str) and type_name in _FAULT_TYPES:
        cls = _FAULT_TYPES[type_name]
    else:
        cls = errors.PluginError
    code = error.get("code")
    return cls(
        f"{plugin}: {text}" if plugin else text,
        data=error.get("data"),
        code=code if isinstance(code, int) else None,
    )
