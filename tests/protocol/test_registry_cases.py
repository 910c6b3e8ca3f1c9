"""Cases derived from the method registry (protocol/methods.py), run through the real
code: both SDKs' servers, the kernel handles of both SDKs and the kernel's services accept
what the registry declares and refuse what it does not."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import typing
from pathlib import Path
from typing import Any

import pytest

from certkernel.plugin_host import services
from certkernel.protocol import methods as wire
from certkernel.protocol.messages import Challenge, LineageInfo
from certkernel.protocol.wire_codec import WireError, _strip_none, fields_of
from certkernel.sdk import kernel as sdk_kernel
from certkernel.sdk import plugin as sdk_plugin
from certkernel.sdk import server as sdk_server
from tests.protocol.registry_common import (
    K2P_REQUESTS,
    NODE_LIB,
    P2K_REQUESTS,
    P2K_SENT,
    kernel_method,
    names,
)

# -- cases derived from the registry, run through the real code -----------------------------

ROOT = "/srv/registry-test"


def example(tp: Any, field: str = "") -> Any:
    """A valid value of a registry type."""
    if field == "files":
        return [f"{ROOT}/site.conf"]
    if field == "protocol_versions":
        return [1]
    tp = _strip_none(tp)
    origin = typing.get_origin(tp)
    if origin is list:
        return [example(typing.get_args(tp)[0])]
    if origin is dict:
        return {"k": example(typing.get_args(tp)[1])}
    if tp in (Challenge, LineageInfo):
        return {f.name: example(f.type, f.name) for f in fields_of(tp)}
    return {str: "example.org", int: 1, bool: True, float: 1.0}.get(tp, {"any": "value"})


def wrong(tp: Any) -> Any:
    """A value of another type, or None where any value is accepted."""
    tp = _strip_none(tp)
    if tp is Any:
        return None
    if tp is str:
        return 7
    return "not-this-type"


def cases(method: wire.Method) -> list[tuple[str, dict[str, Any], str | None]]:
    """(label, params, field the refusal must name or None when the call must succeed)."""
    full = {f.name: example(f.type, f.name) for f in fields_of(method.params)}
    out: list[tuple[str, dict[str, Any], str | None]] = [("full", full, None)]
    for f in fields_of(method.params):
        if f.required:
            out.append((f"without {f.name}", {k: v for k, v in full.items() if k != f.name},
                        f.name))
        bad = wrong(f.type)
        if bad is not None:
            out.append((f"{f.name} mistyped", {**full, f.name: bad}, f.name))
        nested = _strip_none(f.type)
        item = typing.get_args(nested)[0] if typing.get_origin(nested) is list else nested
        if item in (Challenge, LineageInfo):
            for inner in fields_of(item):
                if inner.required:
                    value = {k: v for k, v in example(item).items() if k != inner.name}
                    out.append((f"{f.name} without {inner.name}",
                                {**full, f.name: [value] if item is not nested else value},
                                inner.name))
    return out


class _EveryMethod(sdk_plugin.Authenticator, sdk_plugin.Installer):
    name = "registry-probe"

    def get_chall_pref(self, domain: str) -> list[str]:
        return ["http-01"]

    def perform(self, challenges: list[Challenge]) -> None: ...
    def cleanup(self, challenges: list[Challenge]) -> None: ...
    def get_all_names(self) -> list[str]:
        return ["example.org"]

    def deploy_cert(self, domain: str, cert_path: str, key_path: str, chain_path: str,
                    fullchain_path: str) -> None: ...
    def supported_enhancements(self) -> list[str]:
        return ["redirect"]

    def enhance(self, domain: str, enhancement: str, options: Any = None) -> None: ...
    def save(self, title: str | None = None, temporary: bool = False) -> None: ...
    def config_test(self) -> None: ...
    def restart(self) -> None: ...
    def recovery_routine(self) -> None: ...
    def renew_deploy(self, lineage: LineageInfo) -> None: ...
    def update_autohsts(self, domain: str) -> None: ...
    def deploy_autohsts(self, lineage: LineageInfo) -> None: ...
    def enable_autohsts(self, lineage: LineageInfo, domains: list[str]) -> None: ...


_CASES = [(m, *c) for m in K2P_REQUESTS for c in cases(m)]


def _python_sdk(method: str, params: dict[str, Any]) -> dict[str, Any]:
    session = sdk_server._Session(_EveryMethod, "registry-probe")
    session.endpoint = typing.cast(Any, object())  # only stored in the kernel handle
    if method != "initialize":
        session.plugin = _EveryMethod()
    return session.handle(method, params)


@pytest.fixture(scope="module")
def node_run() -> dict[str, Any]:
    node = shutil.which("node")
    assert node is not None, "node is needed for the Node SDK's checks (setup.sh installs it)"
    payload = {"dispatch": [{"method": m.name, "params": p} for m, _, p, _ in _CASES]}
    proc = subprocess.run([node, str(Path(__file__).with_name("node_registry_probe.js")),
                           str(NODE_LIB)], input=json.dumps(payload), capture_output=True,
                          text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    return typing.cast(dict[str, Any], json.loads(proc.stdout))


@pytest.mark.parametrize("sdk", ["python", "node"])
def test_sdk_servers_follow_the_registry(sdk: str, node_run: dict[str, Any]) -> None:
    """Both SDKs accept every registry-shaped call, refuse each missing or mistyped field
    by name, and answer with exactly the registry's result fields."""
    wrong_answers = []
    for index, (method, label, params, refused) in enumerate(_CASES):
        if sdk == "python":
            try:
                outcome = {"ok": True, "result": _python_sdk(method.name, params)}
            except Exception as exc:  # noqa: BLE001 - every failure is reported below
                outcome = {"ok": False, "type": type(exc).__name__, "message": str(exc)}
        else:
            outcome = node_run["dispatch"][index]
        if refused is None:
            if not outcome["ok"]:
                wrong_answers.append(f"{method.name} ({label}): refused: {outcome['message']}")
                continue
            try:
                wire.check_strict(method.name, outcome["result"], result=True)
            except WireError as exc:
                wrong_answers.append(f"{method.name} ({label}): answered {exc}")
        elif outcome["ok"] or outcome["type"] != "InvalidParams" \
                or refused not in outcome["message"]:
            wrong_answers.append(f"{method.name} ({label}): expected InvalidParams naming "
                                 f"{refused!r}, got {outcome}")
    assert not wrong_answers, "\n".join(wrong_answers)


class _Recorder:
    """An endpoint that records what a kernel handle sends and answers like the kernel."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def call(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        self.sent.append((method, params))
        result = wire.METHODS[method].result
        assert result is not None
        return {f.name: example(f.type, f.name) for f in fields_of(result)}

    def notify(self, method: str, params: dict[str, Any]) -> None:
        self.sent.append((method, params))


def _python_kernel_calls() -> list[tuple[str, dict[str, Any]]]:
    recorder = _Recorder()
    handle = sdk_kernel.Kernel(typing.cast(Any, recorder))
    for method in P2K_SENT:
        func = getattr(handle, kernel_method(method.name))
        args = {f.name: example(f.type, f.name) for f in fields_of(method.params)}
        func(**args)
    return recorder.sent


@pytest.mark.parametrize("sdk", ["python", "node"])
def test_kernel_handles_send_every_field(sdk: str, node_run: dict[str, Any]) -> None:
    """Each SDK's kernel handle, given every argument, sends every registry field and no other."""
    sent = _python_kernel_calls() if sdk == "python" else [tuple(c) for c in node_run["kernel"]]
    expected = {m.name for m in wire.METHODS.values()
                if m.direction == wire.PLUGIN_TO_KERNEL} | ({"$/ping"} if sdk == "node" else set())
    assert {name for name, _ in sent} == expected
    for name, params in sent:
        wire.check_strict(name, params)
        assert sorted(params) == sorted(names(wire.METHODS[name].params)), name


class _Display:
    def notification(self, message: str, pause: bool = False) -> None: ...
    def input(self, *a: Any) -> tuple[bool, str]:
        return True, "v"

    def yesno(self, *a: Any) -> bool:
        return True

    def menu(self, *a: Any) -> tuple[bool, int]:
        return True, 0

    def checklist(self, *a: Any) -> tuple[bool, list[str]]:
        return True, ["a"]

    def directory_select(self, *a: Any) -> tuple[bool, str]:
        return True, "/d"


class _Storage:
    def get(self, plugin: str, key: str) -> tuple[bool, Any]:
        return True, 1

    def put(self, plugin: str, key: str, value: Any) -> None: ...
    def delete(self, plugin: str, key: str) -> None: ...


class _Challenges:
    def publish(self, token: str, key_authorization: str) -> None: ...
    def withdraw(self, token: str) -> None: ...


class _Checkpoints:
    def add(self, *a: Any, **k: Any) -> None: ...
    def register_new(self, *a: Any, **k: Any) -> None: ...
    def finalize(self, title: str) -> None: ...
    def revert_temporary(self) -> None: ...
    def rollback(self, count: int) -> None: ...


@pytest.mark.parametrize("method,label,params,refused",
                         [(m, *c) for m in P2K_REQUESTS for c in cases(m)],
                         ids=lambda x: x.name if isinstance(x, wire.Method) else str(x)[:40])
def test_kernel_services_follow_the_registry(method: wire.Method, label: str,
                                             params: dict[str, Any], refused: str | None) -> None:
    from certkernel import errors
    from certkernel.sdk.testing import KernelPeer, ScriptedDisplay

    kernel = services.KernelServices("probe", _Display(), _Storage(), _Checkpoints(),
                                     roots=[ROOT], challenges=_Challenges())
    # The SDK's in-process kernel for plugin unit tests answers the same way.
    answers = {"input": "v", "directory_select": "/d", "yesno": True, "menu": 0,
               "checklist": ["a"]}
    peer = KernelPeer("probe", ScriptedDisplay([answers.get(method.name.partition("/")[2])]))
    for side in (kernel, peer):
        if refused is None:
            wire.check_strict(method.name, side.handle(method.name, params), result=True)
        else:
            with pytest.raises(errors.InvalidParams, match=re.escape(refused)):
                side.handle(method.name, params)
