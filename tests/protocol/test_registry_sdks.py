"""The Python kernel, the Python SDK and the Node SDK's declarations against the method
registry (protocol/methods.py): every request served, every signature and field the same."""

from __future__ import annotations

import ast
import inspect
import re
from typing import Any

import pytest

from certkernel.plugin_host import proxies, services
from certkernel.protocol import methods as wire
from certkernel.protocol.messages import Challenge, LineageInfo
from certkernel.sdk import kernel as sdk_kernel
from certkernel.sdk import plugin as sdk_plugin
from certkernel.sdk import server as sdk_server
from tests.protocol.registry_common import (
    INDEX_D_TS,
    K2P_REQUESTS,
    P2K_REQUESTS,
    P2K_SENT,
    REPO,
    camel,
    kernel_method,
    names,
)

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


@pytest.mark.parametrize("method", P2K_SENT, ids=lambda m: m.name)
def test_python_kernel_handle_signatures_match_the_registry(method: wire.Method) -> None:
    func = getattr(sdk_kernel.Kernel, kernel_method(method.name))
    assert sorted(_params_of(func)) == sorted(names(method.params))
    if method.name.startswith("display/"):
        display = getattr(services.Display, method.name.removeprefix("display/"))
        assert sorted(_params_of(display)) == sorted(names(method.params))


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
