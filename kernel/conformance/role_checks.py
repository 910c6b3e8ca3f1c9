"""Role checks: what an authenticator or installer answers, and round trips.

Round trips only touch scratch data this run creates: a scratch webroot, a
port bound here on 127.0.0.1, hook commands writing into the scratch folder,
or a copy of a server root that provably does not point back at the
original. When none of these applies the check is skipped with the reason,
never run against a live server, zone or configuration.
"""

from __future__ import annotations

import os
import secrets
import shlex
import socket
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

from certkernel import errors
from certkernel.conformance.context import (
    CONFIG_ERRORS,
    KNOWN_CHALLENGES,
    Context,
    describe_error,
    handshake_problem,
)
from certkernel.conformance.report import CheckStatus
from certkernel.conformance.wire import KernelHandler, RawPlugin, show
from certkernel.protocol.messages import Challenge
from certkernel.runtime.challenge_desk import ChallengeDesk

PERFORM_TIMEOUT = 60.0
Verify = Callable[[bool], str | None]


def _strings(reply_result: Any, key: str) -> list[str] | None:
    if not isinstance(reply_result, dict):
        return None
    value = reply_result.get(key)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return None
    return value


def _after_failed_prepare(ctx: Context, name: str, method: str, error: Any) -> bool:
    """After a failed prepare the kernel would not call role methods: report SKIP, not FAIL."""
    if ctx.report.status_of("prepare") is not CheckStatus.SKIP:
        return False
    hint = ""
    if isinstance(error, dict) and error.get("type") not in CONFIG_ERRORS and error.get("code") != -32000:
        hint = " (a typed error such as MisconfigurationError would be clearer)"
    ctx.report.skip(name, f"prepare failed, so {method} answered {describe_error(error)}{hint}")
    return True


def get_chall_pref(ctx: Context, plugin: RawPlugin) -> None:
    name = "get-chall-pref"
    reply = plugin.call("get_chall_pref", {"domain": "plugin-check.example.org"}, ctx.timeout)
    ctx.record("get_chall_pref", reply)
    if reply.error is not None:
        if _after_failed_prepare(ctx, name, "get_chall_pref", reply.error):
            return
        ctx.report.fail(name, f"get_chall_pref {{domain: plugin-check.example.org}} answered "
                        f"{describe_error(reply.error)}", "§5.2")
        return
    types = _strings(reply.result, "challenges")
    if not types:
        ctx.report.fail(name, f"get_chall_pref returned {show(reply.result, 60)}; expected "
                        "{challenges: [type, ...]} with at least one type", "§5.2")
        return
    unknown = [t for t in types if t not in KNOWN_CHALLENGES]
    undeclared = [t for t in types if t not in ctx.manifest.challenges]
    if unknown:
        ctx.report.fail(name, f"unknown challenge type(s) {unknown}; known: {sorted(KNOWN_CHALLENGES)}", "§5.2")
    elif undeclared:
        ctx.report.fail(name, f"returned {undeclared}, which plugin.toml does not list in challenges "
                        f"{list(ctx.manifest.challenges)}", "§8")
    else:
        ctx.report.ok(name, f"challenges {types}")


def get_all_names(ctx: Context, plugin: RawPlugin) -> None:
    name = "get-all-names"
    reply = plugin.call("get_all_names", {}, max(ctx.timeout, 60.0))
    ctx.record("get_all_names", reply)
    names = _strings(reply.result, "names")
    if reply.error is not None:
        if not _after_failed_prepare(ctx, name, "get_all_names", reply.error):
            ctx.report.fail(name, f"get_all_names answered {describe_error(reply.error)}", "§5.3")
    elif names is None:
        ctx.report.fail(name, f"get_all_names returned {show(reply.result, 60)}; expected {{names: [str]}}", "§5.3")
    else:
        ctx.report.ok(name, f"{len(names)} name(s){': ' + ', '.join(names[:5]) if names else ''}")


def supported_enhancements(ctx: Context, plugin: RawPlugin) -> None:
    name = "supported-enhancements"
    reply = plugin.call("supported_enhancements", {}, ctx.timeout)
    ctx.record("supported_enhancements", reply)
    values = _strings(reply.result, "enhancements")
    if reply.error is not None:
        if not _after_failed_prepare(ctx, name, "supported_enhancements", reply.error):
            ctx.report.fail(name, f"supported_enhancements answered {describe_error(reply.error)}", "§5.3")
    elif values is None:
        ctx.report.fail(name, f"supported_enhancements returned {show(reply.result, 60)}; "
                        "expected {enhancements: [str]}", "§5.3")
    else:
        ctx.report.ok(name, f"enhancements {values}")


# -- perform / cleanup round trip -------------------------------------------------


def _challenge() -> dict[str, Any]:
    token = secrets.token_urlsafe(32)
    key_auth = f"{token}.{secrets.token_urlsafe(32)}"
    return {
        "identifier": "plugin-check.example.org",
        "identifier_type": "dns",
        "wildcard": False,
        "type": "http-01",
        "token": token,
        "key_authorization": key_auth,
        "validation": key_auth,
        "validation_domain_name": "",
        "uri_path": f"/.well-known/acme-challenge/{token}",
    }


def _option_named(ctx: Context, *names: str) -> str | None:
    for name in names:
        if ctx.manifest.option(name) is not None:
            return name
    return None


def _publish_option(ctx: Context) -> str | None:
    """The option naming the folder an http-01 authenticator publishes into.

    Its per-domain option (PROTOCOL.md section 8: ``-w`` style, one folder per
    name) when it declares one, else an option called ``path``.
    """
    per_domain = ctx.manifest.per_domain_options
    return per_domain[0][0].name if per_domain else _option_named(ctx, "path")


def _file_verify(path: str, value: str) -> Verify:
    def verify(published: bool) -> str | None:
        if published:
            try:
                with open(path, encoding="utf-8", errors="replace") as fh:
                    body = fh.read()
            except OSError:
                return f"after perform there is no file {path}"
            return None if body.strip() == value else f"{path} holds {body[:60]!r}, not the key authorization"
        return f"after cleanup {path} still exists" if os.path.exists(path) else None
    return verify


def _http_verify(host: str, port: int, uri: str, value: str) -> Verify:
    url = f"http://{host}:{port}{uri}"

    def verify(published: bool) -> str | None:
        try:
            # After cleanup our own listening socket may still accept without anyone serving.
            wait = 5.0 if published else 1.0
            with urllib.request.urlopen(url, timeout=wait) as resp:  # noqa: S310 - loopback URL we built
                body = resp.read().decode("utf-8", "replace")
        except (urllib.error.URLError, OSError) as exc:
            return f"GET {url} failed after perform: {exc}" if published else None
        if published:
            return None if body.strip() == value else f"GET {url} returned {body[:60]!r}, not the key authorization"
        return f"after cleanup GET {url} still returns the key authorization" if body.strip() == value else None
    return verify


def _board_target(desk: ChallengeDesk, chall: dict[str, Any]) -> tuple[Verify, str]:
    """The kernel's board in scratch space: the challenge is handed to the plugin as in an
    order, so the desk accepts its publish; the check reads the board itself."""
    desk.hand([Challenge(**chall)])  # _challenge() has exactly Challenge's fields
    token, value = chall["token"], chall["validation"]

    def verify(published: bool) -> str | None:
        served = desk.board.lookup(token)
        if published:
            return None if served == value else (
                "the challenge board does not serve the key authorization (challenge/publish "
                "was not called for it)" if served is None else
                "the challenge board serves another value")
        return ("after cleanup the challenge board still serves the key authorization "
                "(challenge/withdraw was not called)" if served is not None else None)
    return verify, "the kernel's challenge board (challenge/publish, challenge/withdraw)"


def perform_cleanup(ctx: Context, handler: KernelHandler) -> None:
    """Publish one made-up http-01 challenge into scratch space, then remove it."""
    name = "perform-cleanup"
    if "http-01" not in ctx.manifest.challenges:
        ctx.report.skip(name, f"the plugin declares {list(ctx.manifest.challenges)}: a dns-01 perform "
                        "would publish a TXT record in a real zone; run an issuance against a test DNS server")
        return
    chall = _challenge()
    options = dict(ctx.options)
    settings: dict[str, Any] = {"non_interactive": True}
    fds: dict[str, list[int]] = {}
    pass_fds: tuple[int, ...] = ()
    sock: socket.socket | None = None
    www = os.path.join(ctx.scratch, "www")
    path_option = _publish_option(ctx)
    hook = _option_named(ctx, "auth-hook")
    if path_option:
        spec = ctx.manifest.option(path_option)
        given = options.get(path_option) if path_option in ctx.user_options else None
        if given:
            # The user named a webroot: publish there (what they asked to test).
            www = str(given[-1] if isinstance(given, list) else given)
            how = f"webroot {www} (--{ctx.name}-{path_option})"
        else:
            os.makedirs(www, exist_ok=True)
            options[path_option] = [www] if spec is not None and spec.type == "list" else www
            how = f"scratch webroot {www} (option {path_option})"
        verify = _file_verify(os.path.join(www, ".well-known", "acme-challenge", chall["token"]),
                              chall["validation"])
    elif ctx.manifest.needs.get("http01_sockets"):
        address = ctx.http01_address or "127.0.0.1"
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((address, ctx.http01_port or 0))
        except OSError as exc:
            sock.close()
            ctx.report.skip(name, f"cannot listen on {address}:{ctx.http01_port} for http-01 "
                            f"(--http-01-port/--http-01-address): {exc.strerror or exc}")
            return
        sock.listen(16)
        port = sock.getsockname()[1]
        fds["http01_sockets"] = [sock.fileno()]
        pass_fds = (sock.fileno(),)
        settings.update(http01_port=port, http01_address=address)
        reach = "127.0.0.1" if address in ("0.0.0.0", "") else address
        verify = _http_verify(f"[{reach}]" if ":" in reach else reach, port, chall["uri_path"],
                              chall["validation"])
        given = " (--http-01-port)" if ctx.http01_port else ""
        how = f"an http-01 socket on {address}:{port}{given}"
    elif ctx.desk is not None:
        verify, how = _board_target(ctx.desk, chall)
    elif hook and _option_named(ctx, "cleanup-hook") and "auth-hook" not in ctx.user_options:
        os.makedirs(www, exist_ok=True)
        target = shlex.quote(www) + '/"$CERTBOT_TOKEN"'
        options["auth-hook"] = f'printf %s "$CERTBOT_VALIDATION" > {target}'
        options["cleanup-hook"] = f"rm -f {target}"
        verify = _file_verify(os.path.join(www, chall["token"]), chall["validation"])
        how = f"auth/cleanup hooks writing into {www}"
    else:
        ctx.report.skip(name, "no scratch target: the plugin has no per-domain or path option, takes no "
                        "http-01 socket and has no auth/cleanup hooks, so perform would change a live server")
        return
    try:
        with ctx.spawn(pass_fds=pass_fds) as plugin:
            _round_trip(ctx, plugin, handler, chall, how, verify,
                        ctx.init_params(options=options, settings=settings, fds=fds))
    finally:
        if sock is not None:
            sock.close()


def _round_trip(ctx: Context, plugin: RawPlugin, handler: KernelHandler, chall: dict[str, Any],
                how: str, verify: Verify, init: dict[str, Any]) -> None:
    name = "perform-cleanup"
    try:
        reply = plugin.call("initialize", init, ctx.timeout, handler)
        ctx.record("initialize", reply)
        problem = handshake_problem(ctx, reply)
        if problem:
            # A plugin that cannot start with these options cannot publish: a failure (§4).
            ctx.report.fail(name, f"initialize with {how} {problem}", "§4")
            return
        reply = plugin.call("prepare", {}, PERFORM_TIMEOUT, handler)
        if reply.error is not None:
            ctx.report.skip(name, f"prepare with {how} answered {describe_error(reply.error)}")
            return
        reply = plugin.call("perform", {"challenges": [chall]}, PERFORM_TIMEOUT, handler)
        ctx.record("perform", reply)
        if reply.error is not None:
            ctx.report.fail(name, f"perform of an http-01 challenge (token {chall['token'][:8]}…) with {how} "
                            f"answered {describe_error(reply.error)}", "§5.2")
            return
        problem = verify(True)
        reply = plugin.call("cleanup", {"challenges": [chall]}, PERFORM_TIMEOUT, handler)
        ctx.record("cleanup", reply)
        if problem:
            ctx.report.fail(name, f"perform with {how} returned {{}} but {problem}", "§5.2")
        elif reply.error is not None:
            ctx.report.fail(name, f"cleanup answered {describe_error(reply.error)}", "§5.2")
        elif (gone := verify(False)) is not None:
            ctx.report.fail(name, f"cleanup returned {{}} but {gone}", "§5.2")
        else:
            ctx.report.ok(name, f"http-01 published and removed with {how}")
        plugin.call("shutdown", {}, ctx.timeout, handler)
    except errors.Error as exc:
        ctx.report.fail(name, f"{exc}; stderr: {plugin.stderr_text()}", "§5.2")
