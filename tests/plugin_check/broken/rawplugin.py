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
    stdout_invalid: bool = False        # write a byte that is never MessagePack (0xc1) after it
    ignore_shutdown: bool = False       # never exit after shutdown, exit or EOF
    error_shape: str = ""               # "string": error is a str; "no-code": map without code
    unsafe_save: bool = False           # change server-root files without checkpoint/add
    string_id: bool = False             # send response ids back as strings ("1"), as a Perl plugin did
    lenient_decoder: bool = False       # ignore messages it cannot use, exit 0 at any EOF (no exit 3)
    answer_bad_keys: bool = False       # answer InvalidRequest to a message with a non-string key
    more_info: str = "ok"               # "missing": MethodNotFound (allowed); "bad": {"txt": ...}
    refuse_path: bool = False           # initialize fails when the option path is set


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
        if faults.refuse_path and state["options"].get("path"):
            return _error(faults, -32000, "PluginError", f"{name} cannot start with a path"), None
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
        "get_chall_pref": {"challenges": ["http-01"]}, "perform": {}, "cleanup": {},
    }
    if faults.more_info == "missing":
        del results["more_info"]
    elif faults.more_info == "bad":
        results["more_info"] = {"txt": "the field is called text"}
    if faults.unsafe_save and method == "get_all_names":
        return None, {"names": ["broken.example.org"]}
    if faults.unsafe_save and method == "deploy_cert":
        _deploy(state, params)
    if method in results:
        return None, results[method]
    return _error(faults, -32601, "MethodNotFound", f"no method {method!r}"), None


def _bad_value(obj: Any) -> str | None:
    """A non-string map key or an extension value anywhere (§3.1 rules 4, 5)."""
    stack = [obj]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, value in item.items():
                if not isinstance(key, str):
                    return f"map key {key!r} is not a string"
                stack.append(value)
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, msgpack.ExtType | msgpack.Timestamp):
            return "extension type"
    return None


def _violation(name: str, reason: str, faults: Faults) -> None:
    """One stderr line and exit 3 (§3.1), unless the plugin is lenient on purpose."""
    if faults.lenient_decoder:
        return
    sys.stderr.write(f"{name}: protocol violation from the kernel: {reason}\n")
    sys.stderr.flush()
    os._exit(3)


def _has_id(obj: Any) -> bool:
    return (isinstance(obj, list) and len(obj) == 4 and obj[0] == 0 and type(obj[1]) is int
            and 0 <= obj[1] < 2**32)


def _handle(name: str, faults: Faults, obj: Any, state: dict[str, Any], proto_out: int) -> None:
    """Answer one received message the way ``faults`` says (or exit on the exit notification)."""
    bad = _bad_value(obj)
    if bad and not (faults.answer_bad_keys and _has_id(obj)):
        _violation(name, bad, faults)
        return
    if isinstance(obj, list) and len(obj) == 3 and obj[0] == 2:
        if obj[1] == "exit" and not faults.ignore_shutdown:
            sys.exit(0)
        return
    if not _has_id(obj):
        _violation(name, f"not a message it can answer: {obj!r:.60}", faults)
        return
    _, msgid, method, params = obj
    well_formed = (isinstance(method, str) and isinstance(params, list) and len(params) <= 1
                   and all(isinstance(p, dict) for p in params))
    if bad or not well_formed:
        error, result = _error(faults, -32600, "InvalidRequest", "malformed request"), None
    else:
        error, result = _answer(name, faults, method, params[0] if params else {}, state)
    reply_id = str(msgid) if faults.string_id else msgid
    os.write(proto_out, msgpack.packb([1, reply_id, error, result], use_bin_type=True))
    if method == "initialize" and faults.stdout_junk:
        os.write(proto_out, b"hello from a stray print\n")
    if method == "initialize" and faults.stdout_invalid:
        os.write(proto_out, b"\xc1\xc1")


def serve(name: str, faults: Faults) -> None:
    if os.environ.get(COOKIE[0]) != COOKIE[1]:
        sys.stderr.write(f"{name} is a certkernel plugin; certkernel starts it (see 'certkernel plugins').\n")
        sys.exit(2)
    proto_in, proto_out = os.dup(0), os.dup(1)
    os.dup2(2, 1)
    unpacker = msgpack.Unpacker(raw=False, strict_map_key=False)
    state: dict[str, Any] = {}
    fed = 0
    while True:
        chunk = os.read(proto_in, 65536)
        if not chunk:
            if fed != unpacker.tell():
                _violation(name, f"stream ended inside a message ({fed - unpacker.tell()} bytes)", faults)
            break
        fed += len(chunk)
        unpacker.feed(chunk)
        try:
            objs = list(unpacker)
        except Exception as exc:  # noqa: BLE001 - bad bytes are a violation
            _violation(name, f"invalid MessagePack ({type(exc).__name__})", faults)
            continue
        for obj in objs:
            _handle(name, faults, obj, state, proto_out)
    if faults.ignore_shutdown:
        time.sleep(60)
    sys.exit(0)
