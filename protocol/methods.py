"""The registry of protocol methods: the one place the wire's shapes are written.

Every method of PROTOCOL.md §4-§5 is declared here once: its name, who sends
it, whether it is a request or a notification, its default deadline, and a
typed ``Params``/``Result`` dataclass whose fields are the wire map's keys.
Everything else derives from or is checked against this module:

- the kernel's plugin proxies and services, and the Python SDK's server and
  kernel handle, build what they send with these classes and decode what
  they receive with :meth:`Wire.from_wire`;
- ``scripts/gen-protocol.py`` writes PROTOCOL.md's §5 method tables and the
  wire types of ``sdk/node/lib/index.d.ts`` from :data:`METHODS`;
- ``tests/protocol/test_registry.py`` compares every method and field here
  with the spec's prose, the vectors and both SDKs.

How a map is encoded, decoded and checked against its class (lenient
receiving, strict sending, :class:`WireError`) is the codec's job:
``wire_codec.py``. This module imports nothing of the kernel.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final, Literal, TypeVar

from certkernel.protocol.messages import Challenge, LineageInfo
from certkernel.protocol.wire_codec import Wire, WireError, check_strict_map

KERNEL_TO_PLUGIN: Final = "kernel → plugin"
PLUGIN_TO_KERNEL: Final = "plugin → kernel"
EITHER: Final = "either direction"
Direction = Literal["kernel → plugin", "plugin → kernel", "either direction"]
Kind = Literal["request", "notification"]

DEFAULT_DEADLINE = 60.0
"""Seconds a request may take when neither the registry nor the manifest says otherwise."""

# -- the methods -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Empty(Wire):
    """``{}``: the params or result of a method that carries nothing."""


# §4 lifecycle

@dataclass(frozen=True, slots=True)
class InitializeParams(Wire):
    protocol_versions: list[int]
    kernel_version: str
    name: str
    options: dict[str, Any] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    state_dir: str = ""
    fds: dict[str, list[int]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class InitializeResult(Wire):
    protocol_version: int
    name: str
    version: str
    capabilities: list[str] = field(default_factory=list)


# §5.1 common

@dataclass(frozen=True, slots=True)
class CancelParams(Wire):
    id: int


@dataclass(frozen=True, slots=True)
class LogParams(Wire):
    level: str
    message: str


@dataclass(frozen=True, slots=True)
class ProgressParams(Wire):
    message: str
    done: int | None = None
    total: int | None = None


@dataclass(frozen=True, slots=True)
class MoreInfoResult(Wire):
    text: str


# §5.2 authenticator

@dataclass(frozen=True, slots=True)
class DomainParams(Wire):
    domain: str


@dataclass(frozen=True, slots=True)
class ChallPrefResult(Wire):
    challenges: list[str]


@dataclass(frozen=True, slots=True)
class ChallengesParams(Wire):
    challenges: list[Challenge]


@dataclass(frozen=True, slots=True)
class ChallengePublishParams(Wire):
    token: str
    key_authorization: str


@dataclass(frozen=True, slots=True)
class TokenParams(Wire):
    token: str


# §5.3 installer

@dataclass(frozen=True, slots=True)
class NamesResult(Wire):
    names: list[str]


@dataclass(frozen=True, slots=True)
class DeployCertParams(Wire):
    domain: str
    cert_path: str
    key_path: str
    chain_path: str
    fullchain_path: str


@dataclass(frozen=True, slots=True)
class EnhancementsResult(Wire):
    enhancements: list[str]


@dataclass(frozen=True, slots=True)
class EnhanceParams(Wire):
    domain: str
    enhancement: str
    options: Any = None


@dataclass(frozen=True, slots=True)
class SaveParams(Wire):
    title: str | None = None
    temporary: bool = False


@dataclass(frozen=True, slots=True)
class LineageParams(Wire):
    lineage: LineageInfo


@dataclass(frozen=True, slots=True)
class EnableAutohstsParams(Wire):
    lineage: LineageInfo
    domains: list[str]


# §5.4 display

@dataclass(frozen=True, slots=True)
class NotificationParams(Wire):
    message: str
    pause: bool = False


@dataclass(frozen=True, slots=True)
class InputParams(Wire):
    message: str
    default: str | None = None
    cli_flag: str | None = None


@dataclass(frozen=True, slots=True)
class TextChoiceResult(Wire):
    """``{ok, value}``: ok is false when the user cancelled."""

    ok: bool
    value: str


@dataclass(frozen=True, slots=True)
class YesNoParams(Wire):
    message: str
    yes_label: str | None = None
    no_label: str | None = None
    default: bool | None = None
    cli_flag: str | None = None


@dataclass(frozen=True, slots=True)
class YesNoResult(Wire):
    value: bool


@dataclass(frozen=True, slots=True)
class MenuParams(Wire):
    message: str
    choices: list[str]
    default: int | None = None
    cli_flag: str | None = None


@dataclass(frozen=True, slots=True)
class MenuResult(Wire):
    ok: bool
    index: int


@dataclass(frozen=True, slots=True)
class ChecklistParams(Wire):
    message: str
    tags: list[str]
    default: list[str] | None = None
    cli_flag: str | None = None


@dataclass(frozen=True, slots=True)
class ChecklistResult(Wire):
    ok: bool
    values: list[str]


# §5.5 storage and checkpoints

@dataclass(frozen=True, slots=True)
class KeyParams(Wire):
    key: str


@dataclass(frozen=True, slots=True)
class StorageGetResult(Wire):
    found: bool
    value: Any = None


@dataclass(frozen=True, slots=True)
class StoragePutParams(Wire):
    key: str
    value: Any


@dataclass(frozen=True, slots=True)
class FilesParams(Wire):
    files: list[str]
    temporary: bool = False


@dataclass(frozen=True, slots=True)
class TitleParams(Wire):
    title: str


@dataclass(frozen=True, slots=True)
class RollbackParams(Wire):
    count: int = 1


@dataclass(frozen=True, slots=True)
class Method:
    """One protocol method: who sends it, its shapes, its deadline and what it is for."""

    name: str
    kind: Kind
    direction: Direction
    params: type[Wire]
    result: type[Wire] | None  # None for a notification
    section: str
    doc: str = ""
    deadline: float | None = None  # requests only; None means DEFAULT_DEADLINE
    capability: str = ""

    @property
    def default_deadline(self) -> float | None:
        if self.kind != "request":
            return None
        return self.deadline if self.deadline is not None else DEFAULT_DEADLINE


def _req(name: str, direction: Direction, params: type[Wire], result: type[Wire], section: str,
         doc: str = "", deadline: float | None = None, capability: str = "") -> Method:
    return Method(name, "request", direction, params, result, section, doc, deadline, capability)


def _note(name: str, direction: Direction, params: type[Wire], section: str,
          doc: str = "") -> Method:
    return Method(name, "notification", direction, params, None, section, doc)


_K2P: Final = KERNEL_TO_PLUGIN
_P2K: Final = PLUGIN_TO_KERNEL

METHODS: dict[str, Method] = {m.name: m for m in (
    _req("initialize", _K2P, InitializeParams, InitializeResult, "4",
         "the handshake; the first message", deadline=15.0),
    _req("prepare", _K2P, Empty, Empty, "4", "check the environment and the options"),
    _req("shutdown", _K2P, Empty, Empty, "4", "release resources", deadline=15.0),
    _note("exit", _K2P, Empty, "4", "exit with status 0"),
    _req("$/ping", EITHER, Empty, Empty, "5.1", "are you alive", deadline=15.0),
    _note("$/cancel", EITHER, CancelParams, "5.1", "the sender no longer wants the answer to `id`"),
    _note("$/log", _P2K, LogParams, "5.1", "a line for the kernel's log"),
    _note("$/progress", _P2K, ProgressParams, "5.1", "what the plugin is waiting for"),
    _req("more_info", _K2P, Empty, MoreInfoResult, "5.1", "a paragraph for `certkernel plugins`"),
    _req("get_chall_pref", _K2P, DomainParams, ChallPrefResult, "5.2",
         "the challenge types usable for `domain`, best first"),
    _req("perform", _K2P, ChallengesParams, Empty, "5.2",
         "publish every challenge; return when the CA may validate", deadline=300.0),
    _req("cleanup", _K2P, ChallengesParams, Empty, "5.2",
         "remove what `perform` published", deadline=300.0),
    _req("challenge/publish", _P2K, ChallengePublishParams, Empty, "5.2",
         "serve `key_authorization` for `token` from the kernel's challenge board"),
    _req("challenge/withdraw", _P2K, TokenParams, Empty, "5.2",
         "stop serving `token`"),
    _req("get_all_names", _K2P, Empty, NamesResult, "5.3", "the names the server is configured for"),
    _req("deploy_cert", _K2P, DeployCertParams, Empty, "5.3",
         "point the server's configuration for `domain` at the certificate"),
    _req("supported_enhancements", _K2P, Empty, EnhancementsResult, "5.3",
         "`redirect`, `ensure-http-header`, `ocsp-stapling`, `staple-ocsp`, …"),
    _req("enhance", _K2P, EnhanceParams, Empty, "5.3", "apply one enhancement for `domain`"),
    _req("save", _K2P, SaveParams, Empty, "5.3",
         "write the changed files (after registering them as checkpoints, 5.5)"),
    _req("config_test", _K2P, Empty, Empty, "5.3",
         "`MisconfigurationError` with the tool's output when it fails", deadline=120.0),
    _req("restart", _K2P, Empty, Empty, "5.3",
         "reload the server and return when the new config serves", deadline=120.0),
    _req("recovery_routine", _K2P, Empty, Empty, "5.3",
         "forget unsaved in-memory changes (the kernel restores files)"),
    _req("update_autohsts", _K2P, DomainParams, Empty, "5.3", capability="autohsts"),
    _req("deploy_autohsts", _K2P, LineageParams, Empty, "5.3", capability="autohsts"),
    _req("enable_autohsts", _K2P, EnableAutohstsParams, Empty, "5.3", capability="autohsts"),
    _req("renew_deploy", _K2P, LineageParams, Empty, "5.3", "install a renewed lineage",
         capability="renew_deploy"),
    _req("display/notification", _P2K, NotificationParams, Empty, "5.4"),
    _req("display/input", _P2K, InputParams, TextChoiceResult, "5.4"),
    _req("display/yesno", _P2K, YesNoParams, YesNoResult, "5.4"),
    _req("display/menu", _P2K, MenuParams, MenuResult, "5.4"),
    _req("display/checklist", _P2K, ChecklistParams, ChecklistResult, "5.4"),
    _req("display/directory_select", _P2K, InputParams, TextChoiceResult, "5.4"),
    _req("storage/get", _P2K, KeyParams, StorageGetResult, "5.5"),
    _req("storage/put", _P2K, StoragePutParams, Empty, "5.5"),
    _req("storage/delete", _P2K, KeyParams, Empty, "5.5"),
    _req("checkpoint/add", _P2K, FilesParams, Empty, "5.5"),
    _req("checkpoint/register_new", _P2K, FilesParams, Empty, "5.5"),
    _req("checkpoint/finalize", _P2K, TitleParams, Empty, "5.5"),
    _req("checkpoint/revert_temporary", _P2K, Empty, Empty, "5.5"),
    _req("checkpoint/rollback", _P2K, RollbackParams, Empty, "5.5"),
)}


def method(name: str) -> Method:
    """The registry entry for ``name``; a KeyError names the unknown method."""
    try:
        return METHODS[name]
    except KeyError:
        raise KeyError(f"{name!r} is not a protocol method") from None


def deadline(name: str) -> float:
    """The default deadline of a request (any name not declared gets DEFAULT_DEADLINE)."""
    entry = METHODS.get(name)
    value = entry.default_deadline if entry is not None else None
    return value if value is not None else DEFAULT_DEADLINE


P = TypeVar("P", bound=Wire)


def encode(name: str, params: Wire) -> dict[str, Any]:
    """The params map for ``name``, refusing a params class that is not that method's."""
    entry = method(name)
    if type(params) is not entry.params:
        raise WireError(f"{name}: params must be {entry.params.__name__}, "
                        f"not {type(params).__name__}")
    return params.to_wire()


def decode_params(name: str, data: object) -> Wire:
    """The received params of ``name`` as its ``Params`` class."""
    return method(name).params.from_wire(data, name)


def decode_result(name: str, data: object, cls: type[P]) -> P:
    """The received result of ``name``, checked against the registry's result class."""
    entry = method(name)
    if entry.result is not cls:
        raise WireError(f"{name}: its result is {entry.result}, not {cls.__name__}")
    return cls.from_wire(data, f"{name} result")


def encode_result(name: str, result: Wire) -> dict[str, Any]:
    """The result map to answer ``name`` with, refusing a result of another method's shape."""
    entry = method(name)
    if type(result) is not entry.result:
        expected = entry.result.__name__ if entry.result is not None else "no result"
        raise WireError(f"{name}: its result is {expected}, not {type(result).__name__}")
    return result.to_wire()


def check_strict(name: str, data: object, *, result: bool = False) -> None:
    """Refuse a map with any field the registry does not declare (senders, vectors, tests).

    Receivers stay lenient (``from_wire``); this is for what we write ourselves.
    """
    entry = method(name)
    cls = entry.result if result else entry.params
    label = f"{name} result" if result else name
    if cls is None:
        raise WireError(f"{name} is a notification; it has no result")
    check_strict_map(label, data, cls)
