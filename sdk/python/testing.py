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
from typing import Any

from certkernel.protocol import errors
from certkernel.protocol.messages import PROTOCOL_VERSIONS, Challenge, LineageInfo
from certkernel.protocol.rpc import Endpoint
from certkernel.sdk.plugin import Plugin
from certkernel.sdk.server import _Session

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


def _text(params: dict[str, Any], key: str) -> str:
    value = params.get(key)
    if not isinstance(value, str):
        raise errors.InvalidParams(f"field {key!r} must be a string")
    return value


def _opt_text(params: dict[str, Any], key: str) -> str | None:
    value = params.get(key)
    if value is not None and not isinstance(value, str):
        raise errors.InvalidParams(f"field {key!r} must be a string")
    return value


def _strings(params: dict[str, Any], key: str) -> list[str]:
    value = params.get(key)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise errors.InvalidParams(f"field {key!r} must be a list of strings")
    return value


class KernelPeer:
    """The kernel's side of the conversation: answers what a plugin may call.

    Prompts go to ``display`` (None: no terminal, every prompt fails with
    ``MissingCommandlineFlag``), storage to ``storage``; checkpoint calls are
    recorded in ``checkpoints`` (the files are not copied: a unit test
    checks what the plugin asked for). ``$/log`` lines land in ``logs``,
    ``$/progress`` in ``progress``.
    """

    def __init__(self, plugin: str = "plugin", display: ScriptedDisplay | None = None,
                 storage: MemoryStorage | None = None) -> None:
        self.plugin = plugin
        self.display = display
        self.storage = storage if storage is not None else MemoryStorage()
        self.logs: list[tuple[str, str]] = []
        self.progress: list[dict[str, Any]] = []
        self.checkpoints: list[tuple[str, dict[str, Any]]] = []

    def handle(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """Answer one request from the plugin, as the kernel's services do."""
        if method.startswith("display/"):
            return self._display(method.removeprefix("display/"), params)
        if method == "storage/get":
            found, value = self.storage.get(self.plugin, _text(params, "key"))
            return {"found": found, "value": value}
        if method == "storage/put":
            self.storage.put(self.plugin, _text(params, "key"), params.get("value"))
            return {}
        if method == "storage/delete":
            self.storage.delete(self.plugin, _text(params, "key"))
            return {}
        if method in ("checkpoint/add", "checkpoint/register_new"):
            _strings(params, "files")
            self.checkpoints.append((method, dict(params)))
            return {}
        if method in ("checkpoint/finalize", "checkpoint/revert_temporary",
                      "checkpoint/rollback"):
            self.checkpoints.append((method, dict(params)))
            return {}
        raise errors.MethodNotFound(f"the kernel has no method {method!r}")

    def _display(self, kind: str, p: dict[str, Any]) -> dict[str, Any]:
        message = _text(p, "message")
        flag = _opt_text(p, "cli_flag")
        ui = self.display
        if ui is None:
            raise _missing_flag(message, flag)
        if kind == "notification":
            ui.notification(message, bool(p.get("pause", False)))
            return {}
        if kind == "input":
            ok, value = ui.input(message, _opt_text(p, "default"), flag)
            return {"ok": ok, "value": value}
        if kind == "directory_select":
            ok, value = ui.directory_select(message, _opt_text(p, "default"), flag)
            return {"ok": ok, "value": value}
        if kind == "yesno":
            default = p.get("default")
            return {"value": ui.yesno(message, _opt_text(p, "yes_label") or "Yes",
                                      _opt_text(p, "no_label") or "No",
                                      default if isinstance(default, bool) else None, flag)}
        if kind == "menu":
            default = p.get("default")
            ok, index = ui.menu(message, _strings(p, "choices"),
                                default if isinstance(default, int) else None, flag)
            return {"ok": ok, "index": index}
        if kind == "checklist":
            default = p.get("default")
            ok, values = ui.checklist(message, _strings(p, "tags"),
                                      default if isinstance(default, list) else None, flag)
            return {"ok": ok, "values": values}
        raise errors.MethodNotFound(f"the kernel has no method 'display/{kind}'")

    def notification(self, method: str, params: dict[str, Any]) -> None:
        if method == "$/log":
            self.logs.append((str(params.get("level", "info")), str(params.get("message", ""))))
        elif method == "$/progress":
            self.progress.append(dict(params))


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
        self._params = {
            "protocol_versions": list(PROTOCOL_VERSIONS),
            "options": dict(options or {}),
            "secrets": dict(secrets or {}),
            "settings": dict(settings or {}),
        }
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
            self.info = self.call("initialize", {**self._params, "state_dir": self._state_dir})
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        kernel, self._kernel = self._kernel, None
        if kernel is not None and kernel.failure is None:
            try:
                kernel.call("shutdown", {}, self.timeout)
                kernel.notify("exit", {})
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

    def prepare(self) -> None:
        self.call("prepare")

    def more_info(self) -> str:
        return str(self.call("more_info").get("text", ""))

    def get_chall_pref(self, domain: str) -> list[str]:
        return [str(c) for c in self.call("get_chall_pref", {"domain": domain})["challenges"]]

    def perform(self, challenges: Iterable[Challenge]) -> None:
        self.call("perform", {"challenges": [c.to_wire() for c in challenges]})

    def cleanup(self, challenges: Iterable[Challenge]) -> None:
        self.call("cleanup", {"challenges": [c.to_wire() for c in challenges]})

    def get_all_names(self) -> list[str]:
        return [str(n) for n in self.call("get_all_names")["names"]]

    def deploy_cert(self, domain: str, cert_path: str, key_path: str, chain_path: str,
                    fullchain_path: str) -> None:
        self.call("deploy_cert", {"domain": domain, "cert_path": cert_path,
                                  "key_path": key_path, "chain_path": chain_path,
                                  "fullchain_path": fullchain_path})

    def supported_enhancements(self) -> list[str]:
        return [str(e) for e in self.call("supported_enhancements")["enhancements"]]

    def enhance(self, domain: str, enhancement: str, options: Any = None) -> None:
        params: dict[str, Any] = {"domain": domain, "enhancement": enhancement}
        if options is not None:
            params["options"] = options
        self.call("enhance", params)

    def save(self, title: str | None = None, temporary: bool = False) -> None:
        params: dict[str, Any] = {"temporary": temporary}
        if title is not None:
            params["title"] = title
        self.call("save", params)

    def config_test(self) -> None:
        self.call("config_test")

    def restart(self) -> None:
        self.call("restart")

    def recovery_routine(self) -> None:
        self.call("recovery_routine")

    def renew_deploy(self, lineage: LineageInfo) -> None:
        self.call("renew_deploy", {"lineage": lineage.to_wire()})


def _serve(endpoint: Endpoint) -> None:
    try:
        endpoint.serve_forever()
    except SystemExit:
        pass  # ``exit`` from the kernel side ends the plugin's loop
