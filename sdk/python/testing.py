"""Unit-test a plugin without a kernel: an in-process kernel peer.

A plugin author's tests need the other end of the protocol: something that
sends ``initialize`` and the calls, and answers the plugin's prompts,
storage and checkpoint requests. :class:`PluginHarness` runs the plugin
class in this process, behind the SDK's own server, connected by real pipes
to a :class:`KernelPeer` -- so every call crosses the same codec, dispatch
and error mapping as under certkernel, and a test sees exactly the
exceptions the kernel would (a ``MisconfigurationError`` raised by the plugin
arrives as one)::

    from certkernel.sdk.testing import PluginHarness, ScriptedDisplay

    def test_asks_for_the_token():
        display = ScriptedDisplay(["s3cret"])
        with PluginHarness(MyDns, options={"zone": "example.org"}, display=display) as h:
            h.prepare()
            assert h.get_chall_pref("example.org") == ["dns-01"]
        assert display.asked == [("input", "API token?", "--mydns-token")]

:class:`ScriptedDisplay` and :class:`MemoryStorage` have the shape of the
kernel's own display and plugin storage, so certkernel's tests also hand
them to the real kernel services.

Only the standard library and the SDK are used here: it ships in
``certkernel-sdk``.
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from certkernel.protocol import errors
from certkernel.protocol import methods as wire
from certkernel.protocol.messages import PROTOCOL_VERSIONS, Challenge, LineageInfo
from certkernel.protocol.rpc import Endpoint
from certkernel.protocol.wire_codec import Wire, WireError
from certkernel.sdk import __version__
from certkernel.sdk.plugin import Plugin
from certkernel.sdk.server import _Session

R = TypeVar("R", bound=Wire)

CANCEL = object()
"""Put in a :class:`ScriptedDisplay`'s answers: the user cancels that prompt."""

CALL_TIMEOUT = 60.0


def _missing_flag(message: str, cli_flag: str | None) -> errors.MissingCommandlineFlag:
    first = message.strip().splitlines()[0] if message.strip() else "a value is needed"
    hint = f"use {cli_flag}" if cli_flag else "no flag answers it; run interactively"
    return errors.MissingCommandlineFlag(
        f"Missing command line flag or config entry for this setting: {first} ({hint})",
        data={"flag": cli_flag} if cli_flag else None,
    )


@dataclass
class ScriptedDisplay:
    """A terminal that answers prompts from a script and records every question.

    ``answers`` are used in order, one per prompt: a string for ``input`` and
    ``directory_select``, an index for ``menu``, a bool for ``yesno``, a list
    for ``checklist``, or :data:`CANCEL`. With ``interactive=False`` every
    prompt fails as the kernel's does in a non-interactive run: a
    ``MissingCommandlineFlag`` naming the prompt's flag.
    """

    answers: list[Any] = field(default_factory=list)
    interactive: bool = True
    notes: list[tuple[str, bool]] = field(default_factory=list)
    asked: list[tuple[str, str, str | None]] = field(default_factory=list)

    def _answer(self, kind: str, message: str, cli_flag: str | None) -> Any:
        self.asked.append((kind, message, cli_flag))
        if not self.interactive:
            raise _missing_flag(message, cli_flag)
        if not self.answers:
            raise AssertionError(f"ScriptedDisplay has no answer left for {kind} {message!r}")
        return self.answers.pop(0)

    def notification(self, message: str, pause: bool = False) -> None:
        self.notes.append((message, pause))

    def input(self, message: str, default: str | None = None,
              cli_flag: str | None = None) -> tuple[bool, str]:
        answer = self._answer("input", message, cli_flag)
        return (False, "") if answer is CANCEL else (True, str(answer))

    def directory_select(self, message: str, default: str | None = None,
                         cli_flag: str | None = None) -> tuple[bool, str]:
        answer = self._answer("directory_select", message, cli_flag)
        return (False, "") if answer is CANCEL else (True, str(answer))

    def yesno(self, message: str, yes_label: str = "Yes", no_label: str = "No",
              default: bool | None = None, cli_flag: str | None = None) -> bool:
        answer = self._answer("yesno", message, cli_flag)
        return False if answer is CANCEL else bool(answer)

    def menu(self, message: str, choices: Sequence[str], default: int | None = None,
             cli_flag: str | None = None) -> tuple[bool, int]:
        answer = self._answer("menu", message, cli_flag)
        return (False, -1) if answer is CANCEL else (True, int(answer))

    def checklist(self, message: str, tags: Sequence[str],
                  default: Sequence[str] | None = None,
                  cli_flag: str | None = None) -> tuple[bool, list[str]]:
        answer = self._answer("checklist", message, cli_flag)
        return (False, []) if answer is CANCEL else (True, [str(t) for t in answer])


class MemoryStorage:
    """The kernel's per-plugin key-value storage, in memory."""

    def __init__(self) -> None:
        self.data: dict[tuple[str, str], Any] = {}

    def get(self, plugin: str, key: str) -> tuple[bool, Any]:
        return (plugin, key) in self.data, self.data.get((plugin, key))

    def put(self, plugin: str, key: str, value: Any) -> None:
        self.data[(plugin, key)] = value

    def delete(self, plugin: str, key: str) -> None:
        self.data.pop((plugin, key), None)


class KernelPeer:
    """The kernel's side of the conversation: answers what a plugin may call.

    Prompts go to ``display`` (None: no terminal, every prompt fails with
    ``MissingCommandlineFlag``), storage to ``storage``; checkpoint calls are
    recorded in ``checkpoints`` (the files are not copied: a unit test
    checks what the plugin asked for). ``challenge/publish`` puts the key
    authorization in ``board`` (token -> key authorization) and
    ``challenge/withdraw`` takes it out; unlike the kernel, the peer does
    not check that the token was handed to the plugin. ``$/log`` lines land
    in ``logs``, ``$/progress`` in ``progress``.
    """

    def __init__(self, plugin: str = "plugin", display: ScriptedDisplay | None = None,
                 storage: MemoryStorage | None = None) -> None:
        self.plugin = plugin
        self.display = display
        self.storage = storage if storage is not None else MemoryStorage()
        self.logs: list[tuple[str, str]] = []
        self.progress: list[dict[str, Any]] = []
        self.checkpoints: list[tuple[str, dict[str, Any]]] = []
        self.board: dict[str, str] = {}

    def handle(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """Answer one request from the plugin, as the kernel's services do.

        Params are decoded and results encoded by the registry
        (``certkernel.protocol.methods``), as in the kernel.
        """
        entry = wire.METHODS.get(method)
        if entry is None or entry.direction != wire.PLUGIN_TO_KERNEL or entry.kind != "request":
            raise errors.MethodNotFound(f"the kernel has no method {method!r}")
        try:
            decoded = wire.decode_params(method, params)
        except WireError as exc:
            raise errors.InvalidParams(str(exc)) from None
        return wire.encode_result(method, self._answer(method, decoded, params))

    def _answer(self, method: str, p: Any, raw: dict[str, Any]) -> Wire:
        if method.startswith("display/"):
            return self._display(method.removeprefix("display/"), p)
        if isinstance(p, wire.KeyParams) and method == "storage/get":
            found, value = self.storage.get(self.plugin, p.key)
            return wire.StorageGetResult(found=found, value=value)
        if isinstance(p, wire.ChallengePublishParams):
            self.board[p.token] = p.key_authorization
        elif isinstance(p, wire.TokenParams):
            self.board.pop(p.token, None)
        elif isinstance(p, wire.StoragePutParams):
            self.storage.put(self.plugin, p.key, p.value)
        elif isinstance(p, wire.KeyParams):
            self.storage.delete(self.plugin, p.key)
        else:  # checkpoint/*: recorded as sent
            self.checkpoints.append((method, dict(raw)))
        return wire.Empty()

    def _display(self, kind: str, p: Any) -> Wire:
        flag: str | None = getattr(p, "cli_flag", None)
        ui = self.display
        if ui is None:
            raise _missing_flag(p.message, flag)
        if isinstance(p, wire.NotificationParams):
            ui.notification(p.message, p.pause)
            return wire.Empty()
        if isinstance(p, wire.InputParams):
            prompt = ui.input if kind == "input" else ui.directory_select
            ok, value = prompt(p.message, p.default, flag)
            return wire.TextChoiceResult(ok=ok, value=value)
        if isinstance(p, wire.YesNoParams):
            return wire.YesNoResult(value=ui.yesno(
                p.message, p.yes_label or "Yes", p.no_label or "No", p.default, flag))
        if isinstance(p, wire.MenuParams):
            ok, index = ui.menu(p.message, p.choices, p.default, flag)
            return wire.MenuResult(ok=ok, index=index)
        assert isinstance(p, wire.ChecklistParams)
        ok, values = ui.checklist(p.message, p.tags, p.default, flag)
        return wire.ChecklistResult(ok=ok, values=values)

    def notification(self, method: str, params: dict[str, Any]) -> None:
        try:
            decoded = wire.decode_params(method, params) if method in wire.METHODS else None
        except WireError:
            return  # a notification has no answer; the kernel only logs it
        if isinstance(decoded, wire.LogParams):
            self.logs.append((decoded.level, decoded.message))
        elif isinstance(decoded, wire.ProgressParams):
            self.progress.append(decoded.to_wire())


class PluginHarness:
    """Run a plugin in this process behind the SDK's server, talking to a :class:`KernelPeer`.

    Use it as a context manager: entering sends ``initialize`` (with the
    options, secrets, settings and a state folder -- a fresh temporary one
    unless ``state_dir`` is given), leaving sends ``shutdown`` and ``exit``.
    Every plugin method has a typed call below; :meth:`call` sends any
    method with wire-shaped params.
    """

    def __init__(
        self,
        plugin: type[Plugin] | Callable[[], Plugin],
        *,
        options: dict[str, Any] | None = None,
        secrets: dict[str, str] | None = None,
        settings: dict[str, Any] | None = None,
        state_dir: str | None = None,
        display: ScriptedDisplay | None = None,
        storage: MemoryStorage | None = None,
        timeout: float = CALL_TIMEOUT,
    ) -> None:
        name = getattr(plugin, "name", "") or "plugin"
        self.name = str(name)
        self.peer = KernelPeer(self.name, display, storage)
        self.timeout = timeout
        self.info: dict[str, Any] = {}
        self._factory = plugin
        self._options = dict(options or {})
        self._secrets = dict(secrets or {})
        self._settings = dict(settings or {})
        self._state_dir = state_dir
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._fds: list[int] = []
        self._thread: threading.Thread | None = None
        self._kernel: Endpoint | None = None

    # -- lifetime --------------------------------------------------------------

    def __enter__(self) -> PluginHarness:
        if self._state_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix=f"{self.name}-state-")
            self._state_dir = self._tmp.name
        to_plugin_r, to_plugin_w = os.pipe()
        to_kernel_r, to_kernel_w = os.pipe()
        self._fds = [to_plugin_r, to_plugin_w, to_kernel_r, to_kernel_w]
        session = _Session(self._factory, self.name)
        server = Endpoint(to_plugin_r, to_kernel_w, session.handle, session.notification,
                          peer="kernel", answer_malformed=True)
        session.endpoint = server
        self._thread = threading.Thread(target=_serve, args=(server,), daemon=True,
                                        name=f"plugin-{self.name}")
        self._thread.start()
        self._kernel = Endpoint(to_kernel_r, to_plugin_w, self.peer.handle,
                                self.peer.notification, peer=self.name)
        try:
            init = wire.InitializeParams(
                protocol_versions=list(PROTOCOL_VERSIONS), kernel_version=f"sdk-testing-{__version__}",
                name=self.name, options=self._options, secrets=self._secrets,
                settings=self._settings, state_dir=self._state_dir)
            self.info = self.call("initialize", wire.encode("initialize", init))
            wire.decode_result("initialize", self.info, wire.InitializeResult)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        kernel, self._kernel = self._kernel, None
        if kernel is not None and kernel.failure is None:
            try:
                kernel.call("shutdown", wire.encode("shutdown", wire.Empty()), self.timeout)
                kernel.notify("exit", wire.encode("exit", wire.Empty()))
            except errors.CallError:
                pass
        if self._fds:
            os.close(self._fds[1])  # EOF for the plugin, should exit not have ended it
        if self._thread is not None:
            self._thread.join(self.timeout)
        for fd in self._fds[0:1] + self._fds[2:]:
            os.close(fd)
        self._fds = []
        if self._tmp is not None:
            self._tmp.cleanup()

    @property
    def state_dir(self) -> str:
        """The folder the plugin was given as its ``state_dir``."""
        assert self._state_dir is not None
        return self._state_dir

    # -- calls -------------------------------------------------------------------

    def call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Send one request, as the kernel would; the plugin's errors are raised here."""
        if self._kernel is None:
            raise RuntimeError("PluginHarness is not running: use it in a with block")
        return self._kernel.call(method, params or {}, self.timeout)

    def _request(self, method: str, params: Wire, result: type[R]) -> R:
        """One call built and its answer checked by the registry, as the kernel's proxies do."""
        reply = self.call(method, wire.encode(method, params))
        try:
            return wire.decode_result(method, reply, result)
        except WireError as exc:
            raise errors.ProtocolError(f"plugin {self.name}: {exc}") from None

    def prepare(self) -> None:
        self._request("prepare", wire.Empty(), wire.Empty)

    def more_info(self) -> str:
        return self._request("more_info", wire.Empty(), wire.MoreInfoResult).text

    def get_chall_pref(self, domain: str) -> list[str]:
        return self._request("get_chall_pref", wire.DomainParams(domain),
                             wire.ChallPrefResult).challenges

    def perform(self, challenges: Iterable[Challenge]) -> None:
        self._request("perform", wire.ChallengesParams(list(challenges)), wire.Empty)

    def cleanup(self, challenges: Iterable[Challenge]) -> None:
        self._request("cleanup", wire.ChallengesParams(list(challenges)), wire.Empty)

    def get_all_names(self) -> list[str]:
        return self._request("get_all_names", wire.Empty(), wire.NamesResult).names

    def deploy_cert(self, domain: str, cert_path: str, key_path: str, chain_path: str,
                    fullchain_path: str) -> None:
        params = wire.DeployCertParams(domain, cert_path, key_path, chain_path, fullchain_path)
        self._request("deploy_cert", params, wire.Empty)

    def supported_enhancements(self) -> list[str]:
        return self._request("supported_enhancements", wire.Empty(),
                             wire.EnhancementsResult).enhancements

    def enhance(self, domain: str, enhancement: str, options: Any = None) -> None:
        self._request("enhance", wire.EnhanceParams(domain, enhancement, options), wire.Empty)

    def save(self, title: str | None = None, temporary: bool = False) -> None:
        self._request("save", wire.SaveParams(title, temporary), wire.Empty)

    def config_test(self) -> None:
        self._request("config_test", wire.Empty(), wire.Empty)

    def restart(self) -> None:
        self._request("restart", wire.Empty(), wire.Empty)

    def recovery_routine(self) -> None:
        self._request("recovery_routine", wire.Empty(), wire.Empty)

    def renew_deploy(self, lineage: LineageInfo) -> None:
        self._request("renew_deploy", wire.LineageParams(lineage), wire.Empty)


def _serve(endpoint: Endpoint) -> None:
    try:
        endpoint.serve_forever()
    except SystemExit:
        pass  # ``exit`` from the kernel side ends the plugin's loop
