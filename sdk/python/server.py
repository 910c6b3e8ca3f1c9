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
import typing
from collections.abc import Callable
from typing import Any, NoReturn

from certkernel.protocol import errors
from certkernel.protocol import methods as wire
from certkernel.protocol.messages import COOKIE_NAME, COOKIE_VALUE, PROTOCOL_VERSIONS
from certkernel.protocol.rpc import Endpoint
from certkernel.protocol.wire_codec import Wire, WireError
from certkernel.sdk.kernel import Kernel
from certkernel.sdk.plugin import Authenticator, Installer, Plugin

_Method = Callable[[Plugin, Any], Wire]


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


def _auth(plugin: Plugin) -> Authenticator:
    if not isinstance(plugin, Authenticator):
        raise errors.MethodNotFound(f"{plugin.name} is not an authenticator")
    return plugin


def _inst(plugin: Plugin) -> Installer:
    if not isinstance(plugin, Installer):
        raise errors.MethodNotFound(f"{plugin.name} is not an installer")
    return plugin


def _done(call: Callable[[], object]) -> wire.Empty:
    call()
    return wire.Empty()


# Every kernel → plugin request but the two the session answers itself
# (initialize, shutdown); tests/protocol/test_registry.py checks this table
# against the registry. Each handler gets its params already decoded.
METHODS: dict[str, _Method] = {
    "prepare": lambda p, a: _done(p.prepare),
    "more_info": lambda p, a: wire.MoreInfoResult(text=p.more_info()),
    "get_chall_pref": lambda p, a: wire.ChallPrefResult(
        challenges=list(_auth(p).get_chall_pref(a.domain))),
    "perform": lambda p, a: _done(lambda: _auth(p).perform(a.challenges)),
    "cleanup": lambda p, a: _done(lambda: _auth(p).cleanup(a.challenges)),
    "get_all_names": lambda p, a: wire.NamesResult(names=sorted(set(_inst(p).get_all_names()))),
    "deploy_cert": lambda p, a: _done(lambda: _inst(p).deploy_cert(
        a.domain, a.cert_path, a.key_path, a.chain_path, a.fullchain_path)),
    "supported_enhancements": lambda p, a: wire.EnhancementsResult(
        enhancements=list(_inst(p).supported_enhancements())),
    "enhance": lambda p, a: _done(lambda: _inst(p).enhance(a.domain, a.enhancement, a.options)),
    "save": lambda p, a: _done(lambda: _inst(p).save(a.title, a.temporary)),
    "config_test": lambda p, a: _done(_inst(p).config_test),
    "restart": lambda p, a: _done(_inst(p).restart),
    "recovery_routine": lambda p, a: _done(_inst(p).recovery_routine),
    "renew_deploy": lambda p, a: _done(lambda: _inst(p).renew_deploy(a.lineage)),
    "update_autohsts": lambda p, a: _done(lambda: _inst(p).update_autohsts(a.domain)),
    "deploy_autohsts": lambda p, a: _done(lambda: _inst(p).deploy_autohsts(a.lineage)),
    "enable_autohsts": lambda p, a: _done(
        lambda: _inst(p).enable_autohsts(a.lineage, list(a.domains))),
}


def _decode(method: str, params: dict[str, Any]) -> Any:
    """The params of ``method`` checked against the registry; InvalidParams names what is wrong."""
    try:
        return wire.decode_params(method, params)
    except WireError as exc:
        raise errors.InvalidParams(str(exc)) from None


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
            _decode(method, params)
            self.plugin.shutdown()
            return wire.encode_result(method, wire.Empty())
        implementation = METHODS.get(method)
        if implementation is None:
            raise errors.MethodNotFound(f"{self.name} does not implement {method!r}")
        try:
            return wire.encode_result(method, implementation(self.plugin, _decode(method, params)))
        except NotImplementedError:
            raise errors.MethodNotFound(f"{self.name} does not implement {method!r}") from None
        except MemoryError:
            _die_out_of_memory()

    def _initialize(self, params: dict[str, Any]) -> dict[str, Any]:
        if self.plugin is not None:
            raise errors.InvalidRequest("initialize sent twice")
        init = typing.cast(wire.InitializeParams, _decode("initialize", params))
        offered = init.protocol_versions
        common = sorted(set(offered) & set(PROTOCOL_VERSIONS))
        if not common:
            raise errors.ProtocolError(
                f"{self.name} speaks protocol versions {list(PROTOCOL_VERSIONS)}; "
                f"the kernel offered {offered}"
            )
        assert self.endpoint is not None
        plugin = self.factory()
        plugin.options = dict(init.options)
        plugin.secrets = dict(init.secrets)
        plugin.settings = dict(init.settings)
        plugin.state_dir = init.state_dir
        plugin.kernel_version = init.kernel_version
        plugin.fds = {k: list(v) for k, v in init.fds.items()}
        plugin.kernel = Kernel(self.endpoint)
        plugin._endpoint = self.endpoint
        self.plugin = plugin
        return wire.encode_result("initialize", wire.InitializeResult(
            protocol_version=common[-1],
            name=plugin.name or self.name,
            version=plugin.version,
            capabilities=list(plugin.capabilities) + ["cancel"],
        ))

    def notification(self, method: str, params: dict[str, Any]) -> None:
        if method == "exit":
            raise SystemExit(0)


def _die_out_of_memory() -> NoReturn:
    """End the process the way the kernel's OOM killer would: SIGKILL.

    A plugin at its memory limit is in an unknown state (half-built objects,
    a failed write), so it must not go on answering. Dying by SIGKILL lets
    the kernel tell a memory-limit death from its exit status, as it does
    when a cgroup's OOM killer ends a plugin, without reading error text.
    """
    import signal

    os.kill(os.getpid(), signal.SIGKILL)
    os._exit(137)  # not reached: SIGKILL cannot be caught


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
