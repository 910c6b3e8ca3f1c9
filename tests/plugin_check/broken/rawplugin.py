"""A tiny plugin speaking the protocol with raw msgpack, with switchable faults.

The broken test plugins of plugin-check each start this with one fault
turned on, so every report can be compared with a plugin that is otherwise
correct. It does not use the SDK on purpose: the SDK would protect stdout
and shape errors correctly, which is what these plugins must get wrong.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from typing import Any

import msgpack

COOKIE = ("CERTKERNEL_PLUGIN_COOKIE", "7f3b2a9c-certkernel-plugin")


@dataclass(frozen=True)
class Faults:
    """Which rule to break."""

    chosen_version: int | None = None   # answer initialize with this version, whatever is offered
    stdout_junk: bool = False           # write text to the protocol stdout after the handshake
    ignore_shutdown: bool = False       # never exit after shutdown, exit or EOF
    error_shape: str = ""               # "string": error is a str; "no-code": map without code
    unsafe_save: bool = False           # change server-root files without checkpoint/add


def _error(faults: Faults, code: int, kind: str, message: str) -> Any:
    if faults.error_shape == "string":
        return message
    if faults.error_shape == "no-code":
        return {"type": kind, "message": message}
    return {"code": code, "type": kind, "message": message}


def _deploy(state: dict[str, Any], params: dict[str, Any]) -> None:
    """Write the certificate into <server-root>/site.conf, never telling the kernel."""
    root = state.get("options", {}).get("server-root", "")
    with open(os.path.join(root, "site.conf"), "a", encoding="utf-8") as fh:
        fh.write(f"ssl_certificate {params.get('fullchain_path')};\n")


def _answer(name: str, faults: Faults, method: str, params: dict[str, Any],
            state: dict[str, Any]) -> tuple[Any, Any]:
    if method == "initialize":
        state["options"] = params.get("options", {})
        offered = params.get("protocol_versions", [])
        if faults.chosen_version is not None:
            return None, {"protocol_version": faults.chosen_version, "name": name, "version": "0.1"}
        if 1 not in offered:
            return _error(faults, -32000, "ProtocolError", f"{name} speaks [1]; offered {offered}"), None
        return None, {"protocol_version": 1, "name": name, "version": "0.1", "capabilities": []}
    results: dict[str, Any] = {
        "$/ping": {}, "prepare": {}, "shutdown": {}, "more_info": {"text": f"{name}: a test plugin"},
        "get_all_names": {"names": []}, "supported_enhancements": {"enhancements": []},
        "deploy_cert": {}, "save": {}, "recovery_routine": {}, "config_test": {}, "restart": {},
    }
    if faults.unsafe_save and method == "get_all_names":
        return None, {"names": ["broken.example.org"]}
    if faults.unsafe_save and method == "deploy_cert":
        _deploy(state, params)
    if method in results:
        return None, results[method]
    return _error(faults, -32601, "MethodNotFound", f"no method {method!r}"), None


def serve(name: str, faults: Faults) -> None:
    if os.environ.get(COOKIE[0]) != COOKIE[1]:
        sys.stderr.write(f"{name} is a certkernel plugin; certkernel starts it (see 'certkernel plugins').\n")
        sys.exit(2)
    proto_in, proto_out = os.dup(0), os.dup(1)
    os.dup2(2, 1)
    unpacker = msgpack.Unpacker(raw=False, strict_map_key=False)
    state: dict[str, Any] = {}
    while True:
        chunk = os.read(proto_in, 65536)
        if not chunk:
            break
        unpacker.feed(chunk)
        for obj in unpacker:
            if obj[0] == 2 and obj[1] == "exit" and not faults.ignore_shutdown:
                sys.exit(0)
            if obj[0] != 0:
                continue
            _, msgid, method, params = obj
            if not isinstance(method, str) or not isinstance(params, list):
                error, result = _error(faults, -32600, "InvalidRequest", "malformed request"), None
            else:
                error, result = _answer(name, faults, method, params[0] if params else {}, state)
            os.write(proto_out, msgpack.packb([1, msgid, error, result], use_bin_type=True))
            if method == "initialize" and faults.stdout_junk:
                os.write(proto_out, b"hello from a stray print\n")
    if faults.ignore_shutdown:
        time.sleep(60)
    sys.exit(0)
