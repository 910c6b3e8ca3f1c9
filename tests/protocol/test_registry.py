"""The method registry (protocol/methods.py) against every other place the wire is written.

How a field added in one place and not the others fails here:
- added to the registry only: the generated blocks go stale
  (``test_generated_blocks_are_fresh``), the spec's prose lacks it
  (``test_spec_prose_names_the_registry_fields``), the SDKs' signatures lack
  it (``test_python_*_signatures``, ``test_node_declarations_*``), and the
  case runs find a required field nobody checks or sends
  (``test_sdk_servers_follow_the_registry``, ``test_kernel_handles_send_every_field``);
- added to PROTOCOL.md's prose or to index.d.ts by hand only: the same
  comparisons fail from the other side;
- added to a vector only: ``test_vectors_match_the_registry`` (strict: every
  field of a vector must be declared);
- added to the kernel's services, the Python SDK or the Node SDK's dispatch,
  initialize or kernel handle only: the case runs above and
  ``test_kernel_services_follow_the_registry`` (a field one side requires and
  the registry does not declare makes the registry-shaped call fail).
"""

from __future__ import annotations

import ast
import inspect
import json
import re
import shutil
import subprocess
import sys
import typing
from pathlib import Path
from typing import Any

import pytest

from certkernel.plugin_host import proxies, services
from certkernel.protocol import methods as wire
from certkernel.protocol.messages import Challenge, LineageInfo
from certkernel.protocol.wire_codec import WireError, _strip_none, fields_of
from certkernel.sdk import kernel as sdk_kernel
from certkernel.sdk import plugin as sdk_plugin
from certkernel.sdk import server as sdk_server

REPO = Path(__file__).resolve().parents[2]
SPEC = REPO / "protocol" / "PROTOCOL.md"
INDEX_D_TS = REPO / "sdk" / "node" / "lib" / "index.d.ts"
NODE_LIB = REPO / "sdk" / "node" / "lib"

K2P_REQUESTS = [m for m in wire.METHODS.values()
                if m.kind == "request" and m.direction == wire.KERNEL_TO_PLUGIN]
P2K_REQUESTS = [m for m in wire.METHODS.values()
                if m.kind == "request" and m.direction == wire.PLUGIN_TO_KERNEL]


def names(cls: type | None) -> list[str]:
    return [f.name for f in fields_of(cls)] if cls is not None else []


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


# -- the registry's own rules ---------------------------------------------------------


def test_deadlines_come_from_the_registry() -> None:
    from certkernel.plugin_host import process

    assert process.DEFAULT_TIMEOUTS["perform"] == wire.METHODS["perform"].deadline == 300.0
    assert wire.deadline("storage/get") == process.DEFAULT_TIMEOUT == 60.0


# -- the generated blocks ------------------------------------------------------


def test_generated_blocks_are_fresh() -> None:
    """PROTOCOL.md §5's tables and index.d.ts's wire types are what the registry renders."""
    proc = subprocess.run([sys.executable, str(REPO / "scripts" / "gen-protocol.py"), "--check"],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr


def test_generated_index_lists_every_method_and_field() -> None:
    """The §5.6 index has one row per registry method, naming each field."""
    text = SPEC.read_text(encoding="utf-8")
    block = text.split("<!-- BEGIN GENERATED method-index", 1)[1].split("<!-- END", 1)[0]
    rows = {m.group(1): m.group(0) for m in re.finditer(r"^\| `([^`]+)` \|.*$", block, re.M)}
    assert list(rows) == list(wire.METHODS)
    for m in wire.METHODS.values():
        for field in names(m.params) + names(m.result):
            assert re.search(rf"[{{ ]{re.escape(field)}\??:", rows[m.name]), (m.name, field)


# -- the spec's hand-written prose -------------------------------------------------

# `method` (request, kernel → plugin) `{a, b?}` → `{c}`; either map may be missing.
_SIGNATURE = re.compile(
    r"`(?P<method>[$\w/]+)`(?: \((?P<paren>[^)]*)\))?"
    r"(?: `(?P<params>\{[^`]*\})`)?(?:[^`\n]{0,3}→ `(?P<result>\{[^`]*\})`)?")


def _split_fields(sig: str) -> list[str]:
    """``{a, b?: [x, ...], c}`` -> ``["a", "b", "c"]`` (top-level names only)."""
    inner, depth, parts, current = sig.strip()[1:-1], 0, [], ""
    for char in inner:
        if char in "[{(":
            depth += 1
        elif char in "]})":
            depth -= 1
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    found = []
    for part in parts:
        match = re.match(r"\s*(\w+)", part)
        if match:
            found.append(match.group(1))
    return found


def _prose() -> str:
    """§4-§5 of the spec without the generated blocks, paragraphs joined into lines."""
    text = SPEC.read_text(encoding="utf-8")
    text = text[text.index("## 4. Lifecycle"):text.index("## 6. Errors")]
    text = re.sub(r"<!-- BEGIN GENERATED.*?<!-- END GENERATED[^\n]*\n", "", text, flags=re.S)
    return re.sub(r"\n(?=[ \t]+\S)", " ", text).replace("  ", " ")


def _table_after(text: str, anchor: str) -> dict[str, str]:
    """``{name: type}`` of the first ``| `name` | type | ...`` table after ``anchor``."""
    start = text.index(anchor)
    rows: dict[str, str] = {}
    for line in text[start:].splitlines()[1:]:
        match = re.match(r"\| `(\w+)` \| ([^|]+) \|", line)
        if match:
            rows[match.group(1)] = match.group(2).strip()
        elif rows and not line.startswith("|"):
            break
    return rows


Signature = tuple[list[str] | None, list[str] | None, str | None]


def _prose_signatures() -> dict[str, list[Signature]]:
    found: dict[str, list[Signature]] = {}
    for match in _SIGNATURE.finditer(_prose()):
        name = match.group("method")
        if name not in wire.METHODS or not (match.group("params") or match.group("result")
                                           or match.group("paren")):
            continue
        params = match.group("params")
        result = match.group("result")
        found.setdefault(name, []).append(
            (_split_fields(params) if params else None, _split_fields(result) if result else None,
             match.group("paren")))
    return found


_GENERATED_SECTIONS = {"5.3", "5.4"}
_TABLE_DOCUMENTED = {"initialize"}


@pytest.mark.parametrize("method", [
    m for m in wire.METHODS.values()
    if m.section not in _GENERATED_SECTIONS and m.name not in _TABLE_DOCUMENTED
], ids=lambda m: m.name)
def test_spec_prose_names_the_registry_fields(method: wire.Method) -> None:
    """Every method outside the generated tables is written in the prose with the same fields."""
    seen = _prose_signatures().get(method.name)
    assert seen, f"PROTOCOL.md §4-§5 never gives the signature of {method.name}"
    for params, result, paren in seen:
        if paren:  # "(request, kernel → plugin)": the kind, then the direction if given
            kind, _, direction = paren.partition(", ")
            assert kind == method.kind, f"{method.name} is a {method.kind} in the registry"
            assert direction in ("", method.direction), f"{method.name} is sent {method.direction}"
        if params is not None:
            assert params == names(method.params), f"{method.name} params in PROTOCOL.md"
        if result is not None:
            assert result == names(method.result), f"{method.name} result in PROTOCOL.md"


def test_spec_initialize_tables_match_the_registry() -> None:
    prose = _prose()
    section = prose[prose.index("### `initialize`"):prose.index("### `prepare`")]
    assert list(_table_after(section, "| param |")) == names(wire.InitializeParams)
    assert list(_table_after(section, "Result:")) == names(wire.InitializeResult)


def test_spec_challenge_and_lineage_maps_match_the_registry() -> None:
    prose = _prose()
    challenge = _table_after(prose, "A **challenge** is a map")
    assert sorted(challenge) == sorted(names(Challenge))
    for field in fields_of(Challenge):
        assert challenge[field.name] == field.wire_type(), field.name
    lineage = re.search(r"A \*\*lineage\*\* is a map `(\{[^`]*\})`", prose)
    assert lineage is not None
    assert _split_fields(lineage.group(1)) == names(LineageInfo)


# -- the vectors ---------------------------------------------------------------------

_VECTORS = json.loads((REPO / "protocol" / "vectors" / "vectors.json").read_text())["vectors"]
_REQUESTS = {v["name"]: v["decoded"][2] for v in _VECTORS
             if v.get("valid") and v.get("kind") == "request"}


def _vector_calls() -> list[tuple[str, str, Any, bool]]:
    """(vector, method, map, is_result) for every valid vector that carries a method's map."""
    calls = []
    for v in _VECTORS:
        if not v.get("valid"):
            continue
        decoded = v["decoded"]
        if v["kind"] == "request" and decoded[2] in wire.METHODS:
            calls.append((v["name"], decoded[2], decoded[3][0] if decoded[3] else {}, False))
        elif v["kind"] == "notification" and decoded[1] in wire.METHODS:
            calls.append((v["name"], decoded[1], decoded[2][0] if decoded[2] else {}, False))
        elif v["kind"] == "response" and decoded[2] is None and v["name"].endswith("-result"):
            base = v["name"].removesuffix("-result")
            name = _REQUESTS.get(base) or base.replace("-", "_").replace("display_", "display/")
            if name in wire.METHODS:
                calls.append((v["name"], name, decoded[3], True))
    return calls


def test_vectors_cover_each_kind_of_map() -> None:
    """The comparison below is not vacuous: requests, notifications and results are all seen."""
    calls = _vector_calls()
    assert {c[1] for c in calls if not c[3]} >= {"initialize", "perform", "$/log", "$/cancel",
                                                 "display/menu", "checkpoint/add", "save"}
    assert {c[1] for c in calls if c[3]} >= {"initialize", "get_chall_pref", "display/input"}


@pytest.mark.parametrize("vector,method,data,is_result", _vector_calls(),
                         ids=[c[0] for c in _vector_calls()])
def test_vectors_match_the_registry(vector: str, method: str, data: Any, is_result: bool) -> None:
    """Every field of every vector is declared, every required field present, every type right."""
    if vector == "unknown-fields-ignored":  # the one vector about a field nobody declares
        wire.decode_params(method, data)
        with pytest.raises(WireError, match="unknown field 'future_field'"):
            wire.check_strict(method, data)
        return
    wire.check_strict(method, data, result=is_result)


# -- the Python kernel and SDK ---------------------------------------------------------------


def _params_of(func: Any) -> list[str]:
    return [p for p in inspect.signature(func).parameters if p not in ("self", "ctx")]


def test_python_sdk_server_and_proxies_cover_every_kernel_request() -> None:
    served = set(sdk_server.METHODS) | {"initialize", "shutdown"}
    assert served == {m.name for m in K2P_REQUESTS}
    proxied = {name for cls in (proxies.RemoteAuthenticator, proxies.RemoteInstaller)
               for name in vars(cls) | vars(proxies.RemotePlugin) if not name.startswith("_")}
    expected = {m.name for m in K2P_REQUESTS} - {"initialize", "shutdown"} | {"ping"}
    assert proxied - {"capabilities", "close"} == expected


def test_kernel_services_answer_every_plugin_request() -> None:
    handled = set(services.KernelServices("p")._methods)
    assert handled == {m.name for m in P2K_REQUESTS}


@pytest.mark.parametrize("method", [m for m in K2P_REQUESTS
                                    if m.params is not wire.Empty and m.name != "initialize"],
                         ids=lambda m: m.name)
def test_python_signatures_match_the_registry(method: wire.Method) -> None:
    """The proxy the kernel calls and the SDK method a plugin writes take the registry's fields."""
    expected = names(method.params)
    proxy = next(getattr(c, method.name) for c in (proxies.RemoteAuthenticator,
                                                     proxies.RemoteInstaller)
                 if hasattr(c, method.name))
    assert _params_of(proxy) == expected
    sdk = next(getattr(c, method.name) for c in (sdk_plugin.Authenticator, sdk_plugin.Installer)
               if hasattr(c, method.name))
    assert _params_of(sdk) == expected


# What initialize carries for the session, not for the plugin's code.
_SESSION_ONLY = {"protocol_versions", "name"}


def test_every_initialize_field_reaches_the_plugin_object() -> None:
    """A field added to initialize is handed to plugin code by both SDKs."""
    wanted = [n for n in names(wire.InitializeParams) if n not in _SESSION_ONLY]
    python_attrs = sdk_plugin.Plugin.__annotations__
    assert [n for n in wanted if n not in python_attrs] == []
    match = re.search(r"export class Plugin \{(.*?)\n\}", _d_ts(), re.S)
    assert match is not None
    node_attrs = re.findall(r"^\s+(\w+)\??:", match.group(1), re.M)
    assert [camel(n) for n in wanted if camel(n) not in node_attrs] == []


def _kernel_method(name: str) -> str:
    """The SDK kernel handle's Python method for a plugin → kernel method."""
    special = {"display/notification": "show_message", "$/log": "log", "$/progress": "progress"}
    if name in special:
        return special[name]
    group, _, rest = name.partition("/")
    return rest if group == "display" else f"{group}_{rest}"


_P2K_SENT = [m for m in wire.METHODS.values() if m.direction == wire.PLUGIN_TO_KERNEL]


@pytest.mark.parametrize("method", _P2K_SENT, ids=lambda m: m.name)
def test_python_kernel_handle_signatures_match_the_registry(method: wire.Method) -> None:
    func = getattr(sdk_kernel.Kernel, _kernel_method(method.name))
    assert sorted(_params_of(func)) == sorted(names(method.params))
    if method.name.startswith("display/"):
        display = getattr(services.Display, method.name.removeprefix("display/"))
        assert sorted(_params_of(display)) == sorted(names(method.params))


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
    for method in _P2K_SENT:
        func = getattr(handle, _kernel_method(method.name))
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


# -- the Node SDK's declarations ----------------------------------------------------------------


def _d_ts() -> str:
    text = INDEX_D_TS.read_text(encoding="utf-8")
    return text.split("// BEGIN GENERATED", 1)[0]


def _interface(name: str) -> list[str]:
    match = re.search(rf"export interface {name} \{{(.*?)\n\}}", _d_ts(), re.S)
    assert match is not None, f"index.d.ts has no interface {name}"
    body = re.sub(r"/\*\*.*?\*/", "", match.group(1), flags=re.S)
    return re.findall(r"^\s+(\w+)\??:", body, re.M)


def test_node_declarations_of_the_maps_match_the_registry() -> None:
    """The camelCase objects of index.d.ts carry the registry's fields and nothing else."""
    assert sorted(_interface("Challenge")) == sorted(
        [camel(n) for n in names(Challenge)] + ["raw"])
    assert sorted(_interface("Lineage")) == sorted(
        [camel(n) for n in names(LineageInfo)] + ["raw"])
    assert sorted(_interface("DeployTarget")) == sorted(
        camel(n) for n in names(wire.DeployCertParams))


def _ts_methods() -> dict[str, list[str]]:
    """Every method declared in index.d.ts: name -> parameter and option names (snake_case)."""
    found: dict[str, list[str]] = {}
    for match in re.finditer(r"^\s+(\w+)\??\((.*)\): Promise<", _d_ts(), re.M):
        params: list[str] = []
        for part in re.finditer(r"(\w+)\??: (\{[^}]*\}|[^,]+)", match.group(2)):
            if part.group(1) == "ctx":
                continue
            if part.group(1) == "opts":
                params += re.findall(r"(\w+)\?:", part.group(2))
            elif part.group(2).strip() == "DeployTarget":
                params += [camel(n) for n in names(wire.DeployCertParams)]
            else:
                params.append(part.group(1))
        snake = [re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), p) for p in params]
        found.setdefault(match.group(1), snake)
    return found


def _node_name(method: str) -> str:
    special = {"display/notification": "showMessage", "$/ping": "ping"}
    if method in special:
        return special[method]
    group, _, rest = method.partition("/")
    return camel(rest) if group == "display" else camel(f"{group}_{rest}")


@pytest.mark.parametrize("method", [
    m for m in wire.METHODS.values()
    if m.kind == "request" and m.name not in ("initialize", "$/ping")
], ids=lambda m: m.name)
def test_node_declarations_of_the_methods_match_the_registry(method: wire.Method) -> None:
    """Each method a Node plugin writes or calls is declared with the registry's fields."""
    declared = _ts_methods()
    name = _node_name(method.name) if method.direction == wire.PLUGIN_TO_KERNEL \
        else camel(method.name)
    assert name in declared, f"index.d.ts declares no {name}() for {method.name}"
    assert sorted(declared[name]) == sorted(names(method.params)), method.name


# -- no protocol maps written by hand ------------------------------------------------------------

# plugin-check (kernel/conformance) speaks the raw wire on purpose: it sends
# malformed and unknown-field maps to test plugins. The registry is the one
# other place allowed to spell a method's map.
_SCANNED = ["kernel", "plugin-host", "sdk/python", "plugins", "protocol"]
_EXEMPT = {"kernel/conformance", "protocol/methods.py", "protocol/vectors"}


def test_no_protocol_map_is_written_outside_the_registry() -> None:
    found = []
    for top in _SCANNED:
        for path in sorted((REPO / top).rglob("*.py")):
            rel = path.relative_to(REPO).as_posix()
            if any(rel == e or rel.startswith(e + "/") for e in _EXEMPT):
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                        and node.func.attr in ("call", "notify") and node.args
                        and isinstance(node.args[0], ast.Constant)
                        and node.args[0].value in wire.METHODS):
                    continue
                params = node.args[1] if len(node.args) > 1 else None
                if params is None or isinstance(params, ast.Dict):
                    found.append(f"{rel}:{node.lineno}: {node.args[0].value}")
    assert not found, "params not built by protocol/methods.py:\n" + "\n".join(found)
