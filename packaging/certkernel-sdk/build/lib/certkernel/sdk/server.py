"""Serve a plugin on stdio (PROTOCOL.md §1-§4).

``serve`` protects the channel before the plugin's own code is imported,
refuses to run without the kernel's cookie, negotiates the version, and
dispatches calls to the plugin object. Exceptions are mapped to protocol
error types by class, so a ``MisconfigurationError`` raised here arrives in
the kernel as a ``MisconfigurationError``.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable
from typing import Any, NoReturn

from certkernel.protocol import errors
from certkernel.protocol.messages import (
    COOKIE_NAME,
    COOKIE_VALUE,
    PROTOCOL_VERSIONS,
    Challenge,
    LineageInfo,
)
from certkernel.protocol.rpc import Endpoint
from certkernel.sdk.kernel import Kernel
from certkernel.sdk.plugin import Authenticator, Installer, Plugin

_Method = Callable[[Plugin, dict[str, Any]], dict[str, Any]]


def protect_stdio() -> tuple[int, int]:
    """Keep private copies of fds 0/1 and point 1 at stderr, 0 at /dev/null.

    From here on a stray ``print`` or a child process writing to stdout ends
    up in the kernel's log instead of corrupting the protocol stream. The
    copies are non-inheritable, so children never see them.
    """
    rfd = os.dup(0)
    wfd = os.dup(1)
    sys.stdout.flush()
    os.dup2(2, 1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    return rfd, wfd


def _refuse_without_cookie(name: str) -> NoReturn:
    sys.stderr.write(
        f"This is a certkernel plugin ({name or 'unnamed'}). It speaks a binary protocol on "
        "stdin/stdout and is started by certkernel, not by hand.\n"
        "Run `certkernel plugins` to see it, or `certkernel plugin-check` to test it.\n"
    )
    sys.exit(2)


def _require(params: dict[str, Any], key: str, kind: type) -> Any:
    if key not in params:
        raise errors.InvalidParams(f"missing field {key!r}")
    value = params[key]
    if not isinstance(value, kind):
        raise errors.InvalidParams(f"field {key!r} must be {kind.__name__}")
    return value


def _challenges(params: dict[str, Any]) -> list[Challenge]:
    return [Challenge.from_wire(c) for c in _require(params, "challenges", list)]


def _lineage(params: dict[str, Any]) -> LineageInfo:
    return LineageInfo.from_wire(_require(params, "lineage", dict))


def _auth(plugin: Plugin) -> Authenticator:
    if not isinstance(plugin, Authenticator):
        raise errors.MethodNotFound(f"{plugin.name} is not an authenticator")
    return plugin


def _inst(plugin: Plugin) -> Installer:
    if not isinstance(plugin, Installer):
        raise errors.MethodNotFound(f"{plugin.name} is not an installer")
    return plugin


def _prepare(p: Plugin, a: dict[str, Any]) -> dict[str, Any]:
    p.prepare()
    return {}


def _perform(p: Plugin, a: dict[str, Any]) -> dict[str, Any]:
    _auth(p).perform(_challenges(a))
    return {}


def _cleanup(p: Plugin, a: dict[str, Any]) -> dict[str, Any]:
    _auth(p).cleanup(_challenges(a))
    return {}


def _deploy_cert(p: Plugin, a: dict[str, Any]) -> dict[str, Any]:
    _inst(p).deploy_cert(
        _require(a, "domain", str),
        _require(a, "cert_path", str),
        _require(a, "key_path", str),
        _require(a, "chain_path", str),
        _require(a, "fullchain_path", str),
    )
    return {}


def _enhance(p: Plugin, a: dict[str, Any]) -> dict[str, Any]:
    _inst(p).enhance(_require(a, "domain", str), _require(a, "enhancement", str), a.get("options"))
    return {}


def _save(p: Plugin, a: dict[str, Any]) -> dict[str, Any]:
    title = a.get("title")
    _inst(p).save(title if isinstance(title, str) else None, bool(a.get("temporary", False)))
    return {}


def _config_test(p: Plugin, a: dict[str, Any]) -> dict[str, Any]:
    _inst(p).config_test()
    return {}


def _restart(p: Plugin, a: dict[str, Any]) -> dict[str, Any]:
    _inst(p).restart()
    return {}


def _recovery_routine(p: Plugin, a: dict[str, Any]) -> dict[str, Any]:
    _inst(p).recovery_routine()
    return {}


def _renew_deploy(p: Plugin, a: dict[str, Any]) -> dict[str, Any]:
    _inst(p).renew_deploy(_lineage(a))
    return {}


def _update_autohsts(p: Plugin, a: dict[str, Any]) -> dict[str, Any]:
    _inst(p).update_autohsts(_require(a, "domain", str))
    return {}


def _deploy_autohsts(p: Plugin, a: dict[str, Any]) -> dict[str, Any]:
    _inst(p).deploy_autohsts(_lineage(a))
    return {}


def _enable_autohsts(p: Plugin, a: dict[str, Any]) -> dict[str, Any]:
    domains = [str(d) for d in _require(a, "domains", list)]
    _inst(p).enable_autohsts(_lineage(a), domains)
    return {}


METHODS: dict[str, _Method] = {
    "prepare": _prepare,
    "more_info": lambda p, _: {"text": p.more_info()},
    "get_chall_pref": lambda p, a: {
        "challenges": list(_auth(p).get_chall_pref(_require(a, "domain", str)))
    },
    "perform": _perform,
    "cleanup": _cleanup,
    "get_all_names": lambda p, _: {"names": sorted(set(_inst(p).get_all_names()))},
    "deploy_cert": _deploy_cert,
    "supported_enhancements": lambda p, _: {
        "enhancements": list(_inst(p).supported_enhancements())
    },
    "enhance": _enhance,
    "save": _save,
    "config_test": _config_test,
    "restart": _restart,
    "recovery_routine": _recovery_routine,
    "renew_deploy": _renew_deploy,
    "update_autohsts": _update_autohsts,
    "deploy_autohsts": _deploy_autohsts,
    "enable_autohsts": _enable_autohsts,
}


class _Session:
    """The state of one plugin process: before and after ``initialize``."""

    def __init__(self, factory: Callable[[], Plugin], name: str) -> None:
        self.factory = factory
        self.name = name
        self.plugin: Plugin | None = None
        self.endpoint: Endpoint | None = None

    def handle(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        if method == "initialize":
            return self._initialize(params)
        if self.plugin is None:
            raise errors.InvalidRequest(f"{method} before initialize")
        if method == "shutdown":
            self.plugin.shutdown()
            return {}
        implementation = METHODS.get(method)
        if implementation is None:
            raise errors.MethodNotFound(f"{self.name} does not implement {method!r}")
        try:
            return implementation(self.plugin, params)
        except NotImplementedError:
            raise errors.MethodNotFound(f"{self.name} does not implement {method!r}") from None

    def _initialize(self, params: dict[str, Any]) -> dict[str, Any]:
        if self.plugin is not None:
            raise errors.InvalidRequest("initialize sent twice")
        offered = [v for v in _require(params, "protocol_versions", list) if isinstance(v, int)]
        common = sorted(set(offered) & set(PROTOCOL_VERSIONS))
        if not common:
            raise errors.ProtocolError(
                f"{self.name} speaks protocol versions {list(PROTOCOL_VERSIONS)}; "
                f"the kernel offered {offered}"
            )
        assert self.endpoint is not None
        plugin = self.factory()
        plugin.options = dict(params.get("options") or {})
        plugin.secrets = {str(k): str(v) for k, v in (params.get("secrets") or {}).items()}
        plugin.settings = dict(params.get("settings") or {})
        plugin.state_dir = str(params.get("state_dir") or "")
        plugin.fds = {str(k): [int(fd) for fd in v] for k, v in (params.get("fds") or {}).items()}
        plugin.kernel = Kernel(self.endpoint)
        plugin._endpoint = self.endpoint
        self.plugin = plugin
        return {
            "protocol_version": common[-1],
            "name": plugin.name or self.name,
            "version": plugin.version,
            "capabilities": list(plugin.capabilities) + ["cancel"],
        }

    def notification(self, method: str, params: dict[str, Any]) -> None:
        if method == "exit":
            raise SystemExit(0)


def _load(target: str) -> Callable[[], Plugin]:
    module_name, _, attr = target.partition(":")
    module = importlib.import_module(module_name)
    factory: Callable[[], Plugin] = getattr(module, attr)
    return factory


def serve(target: type[Plugin] | str) -> NoReturn:
    """Run a plugin until the kernel closes the connection; never returns.

    ``target`` is the plugin class, or ``"module:Class"``: the string form
    imports the plugin only after stdout is protected, so nothing its
    imports print can reach the protocol stream.
    """
    name = os.environ.get("CERTKERNEL_PLUGIN_NAME", "")
    if isinstance(target, type):
        name = name or target.name
    if os.environ.get(COOKIE_NAME) != COOKIE_VALUE:
        _refuse_without_cookie(name or str(target))
    rfd, wfd = protect_stdio()
    factory = _load(target) if isinstance(target, str) else target
    session = _Session(factory, name)
    endpoint = Endpoint(
        rfd, wfd, session.handle, session.notification, peer="kernel", answer_malformed=True
    )
    session.endpoint = endpoint
    try:
        endpoint.serve_forever()
    except SystemExit:
        pass
    failure = endpoint.failure
    if failure is not None and not isinstance(failure, errors.PluginCrashed):
        sys.stderr.write(f"{name}: protocol error from the kernel: {failure}\n")
        sys.exit(3)
    sys.exit(0)
