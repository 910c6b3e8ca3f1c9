"""The protocol-level checks every plugin must pass, whatever its roles.

Fresh processes are used where a check may leave the plugin unusable (no
cookie, a version it does not speak, EOF without shutdown); everything else
runs in one session, in the order the kernel would talk, ending with
``shutdown``. A session that breaks stops the checks after it with SKIP and
the reason, so the first FAIL is the one to fix.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgpack

import certkernel.protocol
from certkernel import errors
from certkernel.conformance.context import (
    CONFIG_ERRORS,
    Context,
    describe_error,
    error_problem,
    handshake,
    handshake_problem,
)
from certkernel.conformance.wire import CheckTimeout, RawPlugin, show

EXIT_GRACE = 2.0

def _vectors() -> Path:
    """protocol/vectors/vectors.json, found through the package so a wheel install finds it too."""
    return Path(certkernel.protocol.__file__).resolve().parent / "vectors" / "vectors.json"


VECTORS = _vectors()


def _trouble(plugin: RawPlugin, exc: BaseException) -> str:
    return f"{exc}; stderr: {plugin.stderr_text()}"


def check_no_cookie(ctx: Context) -> None:
    """Run by hand (no cookie): exit 2 with a message, no stdout bytes (§2)."""
    name = "no-cookie"
    with ctx.spawn(cookie=False) as plugin:
        status = plugin.wait_exit(5.0)
        plugin.drain_rest()
        if status is None:
            ctx.report.fail(name, "started without CERTKERNEL_PLUGIN_COOKIE it kept running for 5 s "
                            "(waiting for protocol input?); it must print a line to stderr and exit 2", "§2")
            return
        plugin.kill()
        if plugin.stdout_bytes:
            ctx.report.fail(name, f"started without the cookie it wrote {len(plugin.stdout_bytes)} byte(s) "
                            f"to stdout ({bytes(plugin.stdout_bytes[:32])!r}); stdout must stay empty", "§2")
        elif status != 2:
            ctx.report.fail(name, f"started without the cookie it exited {status}, not 2; "
                            f"stderr: {plugin.stderr_text()}", "§2")
        elif not any(line.strip() for line in plugin.stderr_lines):
            ctx.report.fail(name, "exited 2 without the cookie but printed nothing to stderr; "
                            "say it is a certkernel plugin and mention 'certkernel plugins'", "§2")
        else:
            ctx.report.ok(name, f"exit 2 without the cookie: {plugin.stderr_text(1)}")


def check_version_negotiation(ctx: Context) -> None:
    """Offer only version 99: a ProtocolError answer, not a crash or a choice (§4)."""
    name = "version-negotiation"
    with ctx.spawn(versions=(99,)) as plugin:
        try:
            reply = handshake(ctx, plugin, versions=(99,))
        except errors.Error as exc:
            ctx.report.fail(name, f"sent initialize offering protocol_versions [99]: {_trouble(plugin, exc)}; "
                            "expected an error of type ProtocolError", "§4")
            return
        if reply.error is None:
            chosen = reply.result.get("protocol_version") if isinstance(reply.result, dict) else reply.result
            ctx.report.fail(name, f"offered [99] only, it answered with a result choosing {show(chosen, 40)}; "
                            "it must answer an error of type ProtocolError naming both version lists", "§4")
        elif error_problem(reply.error) or reply.error.get("type") != "ProtocolError":
            ctx.report.fail(name, f"offered [99] only, it answered {describe_error(reply.error)}; "
                            "expected type ProtocolError (code -32000)", "§4, §6")
        else:
            ctx.report.ok(name, f"offered [99] -> ProtocolError: {reply.error.get('message')}")


def check_eof_exit(ctx: Context) -> None:
    """After a handshake, EOF alone (no shutdown) must end the plugin with status 0 (§1)."""
    name = "exit-on-eof"
    with ctx.spawn() as plugin:
        try:
            problem = handshake_problem(ctx, handshake(ctx, plugin))
        except errors.Error as exc:
            problem = _trouble(plugin, exc)
        if problem:
            ctx.report.fail(name, f"initialize (to test EOF) failed: {problem}", "§4")
            return
        plugin.close_stdin()
        status = plugin.wait_exit(EXIT_GRACE)
        if status is None:
            ctx.report.fail(name, f"stdin closed after initialize (no shutdown); still running "
                            f"{EXIT_GRACE:g} s later; a plugin must exit 0 on EOF", "§1")
        elif status != 0:
            ctx.report.fail(name, f"exited {status} on EOF, not 0; stderr: {plugin.stderr_text()}", "§1")
        else:
            ctx.report.ok(name, "exit 0 on stdin EOF without shutdown")


# -- the main session ----------------------------------------------------------


def _ping(ctx: Context, plugin: RawPlugin, params: dict[str, Any] | None = None) -> str | None:
    reply = plugin.call("$/ping", params or {}, ctx.timeout)
    ctx.record("$/ping", reply)
    if reply.problem:
        return f"$/ping: malformed response: {reply.problem}"
    if reply.error is not None:
        return f"$/ping answered an error: {describe_error(reply.error)}"
    if reply.result != {}:
        return f"$/ping answered {show(reply.result, 40)}, expected {{}}"
    return None


def ping(ctx: Context, plugin: RawPlugin) -> None:
    why = _ping(ctx, plugin)
    if why:
        ctx.report.fail("ping", why, "§5.1")
    else:
        ctx.report.ok("ping", "$/ping {} -> {}")


def unknown_fields(ctx: Context, plugin: RawPlugin) -> None:
    """Unknown map fields are ignored; prepare runs here with one added (§3)."""
    name = "unknown-fields"
    why = _ping(ctx, plugin, {"x_conformance_unknown": 1})
    if why:
        ctx.report.fail(name, f"sent $/ping with an unknown field: {why}; unknown fields must be ignored", "§3")
        return
    reply = plugin.call("prepare", {"x_conformance_unknown": "ignore me"}, max(ctx.timeout, 60.0))
    ctx.record("prepare", reply)
    error = reply.error
    if reply.problem:
        ctx.report.fail(name, f"prepare: malformed response: {reply.problem}", "§3")
        ctx.report.skip("prepare", "malformed answer (see unknown-fields)")
        return
    if isinstance(error, dict) and error.get("type") == "InvalidParams":
        ctx.report.fail(name, f"sent prepare with an unknown field x_conformance_unknown, it answered "
                        f"{describe_error(error)}; unknown fields must be ignored", "§3")
        return
    ctx.report.ok(name, "$/ping and prepare with an unknown field were accepted")
    if error is None:
        ctx.report.ok("prepare", "prepare -> {}")
    elif isinstance(error, dict) and (error.get("type") in CONFIG_ERRORS or error.get("code") == -32000):
        ctx.report.skip("prepare", f"needs configuration: {error.get('type')}: {error.get('message')} "
                        f"(pass the plugin's options, e.g. --{ctx.name}-<option>)")
    else:
        ctx.report.fail("prepare", f"prepare answered {describe_error(error)}; expected {{}} or a "
                        f"job error such as {', '.join(sorted(CONFIG_ERRORS))}", "§4, §6")


def unknown_method(ctx: Context, plugin: RawPlugin) -> None:
    name = "unknown-method"
    reply = plugin.call("conformance/no_such_method", {}, ctx.timeout)
    ctx.record("conformance/no_such_method", reply)
    error = reply.error
    if reply.problem:
        ctx.report.fail(name, f"sent conformance/no_such_method, got a malformed response: {reply.problem}", "§3, §6")
    elif not isinstance(error, dict) or error.get("code") != -32601 or error.get("type") != "MethodNotFound":
        got = describe_error(error) if error is not None else f"result {show(reply.result, 40)}"
        ctx.report.fail(name, f"sent conformance/no_such_method, got {got}; expected code -32601 "
                        "type MethodNotFound", "§6")
    else:
        why = _ping(ctx, plugin)
        if why:
            ctx.report.fail(name, f"after MethodNotFound the connection did not go on: {why}", "§6")
        else:
            ctx.report.ok(name, "MethodNotFound (-32601), then $/ping still answered")


def _vectors_with(reaction: str) -> list[tuple[str, bytes]]:
    data = json.loads(VECTORS.read_text(encoding="utf-8"))
    found = [(v["name"], bytes.fromhex(v["hex"])) for v in data["vectors"]
             if v.get("reaction") == reaction]
    if not found:
        raise errors.ConfigurationError(f"{VECTORS}: no {reaction} vector")
    return found


def invalid_request(ctx: Context, plugin: RawPlugin) -> None:
    """Every invalid-request vector gets InvalidRequest for its id, and the session goes on (§3.1)."""
    name = "invalid-request"
    for vector, data in _vectors_with("invalid-request"):
        obj = msgpack.unpackb(data, raw=False)
        msgid = plugin.new_id()
        obj[1] = msgid
        raw = msgpack.packb(obj, use_bin_type=True)
        plugin.send_bytes(raw)
        sent = f"sent vector {vector} ({raw.hex()}, id {msgid})"
        reply = plugin.wait_reply(msgid, ctx.timeout)
        ctx.record(vector, reply)
        error = reply.error
        if not isinstance(error, dict) or error.get("code") != -32600 or error.get("type") != "InvalidRequest":
            got = describe_error(error) if error is not None else f"result {show(reply.result, 40)}"
            ctx.report.fail(name, f"{sent}, got {got}; expected code -32600 type InvalidRequest", "§3.1")
            return
        why = _ping(ctx, plugin)
        if why:
            ctx.report.fail(name, f"{sent}: answered InvalidRequest but then {why}", "§3.1")
            return
    ctx.report.ok(name, f"{len(_vectors_with('invalid-request'))} malformed requests with an id -> "
                  "InvalidRequest (-32600), connection goes on")


def _violation_reaction(ctx: Context, vector: str, data: bytes, close: bool) -> tuple[str, str]:
    """Send one violation after a handshake; expect one stderr line and exit 3, nothing answered.

    Returns (FAIL reason or "", what was seen).
    """
    with ctx.spawn() as plugin:
        try:
            problem = handshake_problem(ctx, handshake(ctx, plugin))
        except errors.Error as exc:
            problem = _trouble(plugin, exc)
        if problem:
            return f"initialize (before sending vector {vector}) failed: {problem}", ""
        seen, lines = len(plugin.seen), len(plugin.stderr_lines)
        plugin.send_bytes(data)
        sent = f"sent vector {vector} ({data.hex()})" + (" and closed stdin" if close else "")
        if close:
            plugin.close_stdin()
        status = plugin.wait_exit(EXIT_GRACE + 3.0)
        plugin.drain_rest()
        plugin._stderr_thread.join(1.0)  # noqa: SLF001 - stderr ends with the process
        said = [line for line in plugin.stderr_lines[lines:] if line.strip()]
        answered = [s for s in plugin.seen[seen:] if s.kind == 1]
        if answered:
            return (f"{sent}; it answered {show(answered[0].obj, 60)} instead of exiting 3 "
                    "(only a message free of encoding faults, with 4 elements [0, id, ...], "
                    "carries an id to answer)"), ""
        if status is None:
            return (f"{sent}; still running {EXIT_GRACE + 3.0:g} s later; a plugin that receives a "
                    "violation writes one line to stderr and exits 3"), ""
        if status != 3:
            return f"{sent}; it exited {status}, not 3; stderr: {plugin.stderr_text()}", ""
        if not said:
            return f"{sent}; it exited 3 without a line on stderr saying what was wrong", ""
        return "", said[-1][:100]


def _violation_check(ctx: Context, name: str, vectors: list[str], reaction: str) -> None:
    known = dict(_vectors_with(reaction))
    shown = []
    for vector in vectors:
        why, said = _violation_reaction(ctx, vector, known[vector], reaction == "violation-at-eof")
        if why:
            ctx.report.fail(name, why, "§3.1")
            return
        shown.append(f"{vector} -> exit 3")
    ctx.report.ok(name, f"{', '.join(shown)}: {said}")


def check_violation_exit(ctx: Context) -> None:
    """Violations without an answerable id end the plugin: one stderr line, exit 3 (§3.1)."""
    _violation_check(ctx, "violation-exit", ["request-too-short", "non-string-key"], "violation")


def check_truncation_exit(ctx: Context) -> None:
    """EOF inside a message is truncation, a violation: exit 3, not 0 (§1, §3.1)."""
    _violation_check(ctx, "truncation-exit", ["truncated"], "violation-at-eof")


def cancel(ctx: Context, plugin: RawPlugin) -> None:
    """$/cancel for an idle id is harmless; a cancelled call is still answered (§5.1)."""
    name = "cancel"
    plugin.notify("$/cancel", {"id": 4242})
    why = _ping(ctx, plugin)
    if why:
        ctx.report.fail(name, f"after $/cancel {{id: 4242}} (no such call): {why}", "§5.1")
        return
    msgid = plugin.request("$/ping", {})
    plugin.notify("$/cancel", {"id": msgid})
    try:
        reply = plugin.wait_reply(msgid, ctx.timeout)
    except CheckTimeout:
        ctx.report.fail(name, f"sent $/ping (id {msgid}) then $/cancel for it; no answer within "
                        f"{ctx.timeout:g} s; a cancelled request must still be answered", "§5.1")
        return
    ctx.record("$/ping", reply)
    if reply.error is not None and (not isinstance(reply.error, dict) or reply.error.get("type") != "Cancelled"):
        ctx.report.fail(name, f"cancelled $/ping answered {describe_error(reply.error)}; "
                        "expected its result or a Cancelled error", "§5.1")
        return
    how = "its result" if reply.error is None else "Cancelled"
    ctx.report.ok(name, f"idle $/cancel ignored; cancelled $/ping still answered ({how})")


def more_info(ctx: Context, plugin: RawPlugin) -> None:
    """``more_info`` is optional (§5.1): MethodNotFound passes, a wrong answer fails."""
    reply = plugin.call("more_info", {}, ctx.timeout)
    ctx.record("more_info", reply)
    result, error = reply.result, reply.error
    if isinstance(error, dict) and error.get("type") == "MethodNotFound" and error.get("code") == -32601:
        ctx.report.ok("more-info", "not implemented (optional): 'certkernel plugins --init' shows "
                      "no 'More info' for it")
    elif error is not None:
        ctx.report.fail("more-info", f"more_info answered {describe_error(error)}; expected {{text: str}} "
                        "or, when not implemented, MethodNotFound (-32601)", "§5.1")
    elif not isinstance(result, dict) or not isinstance(result.get("text"), str):
        ctx.report.fail("more-info", f"more_info returned {show(result, 60)}; expected {{text: str}}", "§5.1")
    else:
        ctx.report.ok("more-info", f"text of {len(result['text'])} chars")


def shutdown(ctx: Context, plugin: RawPlugin) -> None:
    name = "shutdown"
    reply = plugin.call("shutdown", {}, ctx.timeout)
    ctx.record("shutdown", reply)
    if reply.error is not None or reply.result != {}:
        got = describe_error(reply.error) if reply.error is not None else show(reply.result, 40)
        ctx.report.fail(name, f"shutdown answered {got}; expected {{}}", "§4")
        return
    plugin.notify("exit", {})
    plugin.close_stdin()
    status = plugin.wait_exit(EXIT_GRACE)
    plugin.drain_rest()
    if status is None:
        ctx.report.fail(name, f"answered shutdown, got exit and EOF, but was still running {EXIT_GRACE:g} s "
                        "later; it must exit 0 (the kernel would SIGTERM it)", "§4, §7")
    elif status != 0:
        ctx.report.fail(name, f"exited {status} after shutdown/exit/EOF, not 0; stderr: "
                        f"{plugin.stderr_text()}", "§4")
    else:
        ctx.report.ok(name, "shutdown -> {}, then exit + EOF: exit 0")


def error_shapes(ctx: Context) -> None:
    name = "error-shape"
    if not ctx.errors_seen:
        ctx.report.skip(name, "no error answers were received to judge")
        return
    for method, error in ctx.errors_seen:
        why = error_problem(error)
        if why:
            ctx.report.fail(name, f"error answer to {method}: {why}; an error is "
                            "{code: int, type: str, message: str}", "§6")
            return
    ctx.report.ok(name, f"{len(ctx.errors_seen)} error answers, all {{code: int, type: str, message: str}}")


def stdout_hygiene(ctx: Context, plugin: RawPlugin) -> None:
    name = "stdout-hygiene"
    # Malformed responses to our requests are judged by error-shape and the check that sent them.
    bad = [seen for seen in plugin.seen if seen.problem and not _is_reply(seen.obj)]
    if plugin.broken:
        ctx.report.fail(name, f"{plugin.broken}; only MessagePack-RPC messages may go to stdout "
                        "(point fd 1 at fd 2 before any plugin code runs)", "§1, §3.1")
    elif bad:
        at = bad[0].offset
        raw = bytes(plugin.stdout_bytes[at:at + 40])
        ctx.report.fail(name, f"{len(bad)} object(s) on stdout are not protocol messages; at byte {at}: "
                        f"{raw!r} ({bad[0].problem}); a stray print or library output reached the "
                        "protocol channel", "§1, §3.1")
    else:
        ctx.report.ok(name, f"{len(plugin.seen)} messages, {len(plugin.stdout_bytes)} bytes on stdout, all valid")


def _is_reply(obj: Any) -> bool:
    """A response-shaped array, even with a wrong id: the check that sent the
    request reports it (a string id is not a stray print)."""
    return isinstance(obj, list) and len(obj) == 4 and obj[0] == 1
