"""Runs the conformance suite against one plugin and returns the report.

Order: the checks that need a fresh process, then one session the way the
kernel talks (initialize, prepare, calls, shutdown), then the scratch round
trips. A session that breaks turns the rest of its steps into SKIP with the
reason, so the report points at the first real fault.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from certkernel import errors
from certkernel.conformance import protocol_checks as pc
from certkernel.conformance import role_checks as rc
from certkernel.conformance.context import Context, handshake, handshake_problem
from certkernel.conformance.report import CheckStatus, Report
from certkernel.conformance.wire import CheckTimeout, KernelHandler, RawPlugin, WrongId

Step = tuple[str, str, Callable[[Context, RawPlugin], None]]


def _steps(ctx: Context) -> list[Step]:
    steps: list[Step] = [
        ("ping", "§5.1", pc.ping),
        ("unknown-fields", "§3", pc.unknown_fields),
        ("unknown-method", "§6", pc.unknown_method),
        ("invalid-request", "§3.1", pc.invalid_request),
        ("cancel", "§5.1", pc.cancel),
        ("more-info", "§5.1", pc.more_info),
    ]
    if ctx.manifest.is_authenticator:
        steps.append(("get-chall-pref", "§5.2", rc.get_chall_pref))
    if ctx.manifest.is_installer:
        steps.append(("get-all-names", "§5.3", rc.get_all_names))
        steps.append(("supported-enhancements", "§5.3", rc.supported_enhancements))
    steps.append(("shutdown", "§4", pc.shutdown))
    return steps


def _session(ctx: Context) -> None:
    with ctx.spawn() as plugin:
        stopped: str | None = None
        try:
            reply = handshake(ctx, plugin)
            problem = handshake_problem(ctx, reply)
        except errors.Error as exc:
            problem = f"{exc}; stderr: {plugin.stderr_text()}"
        if problem:
            ctx.report.fail("handshake", f"sent initialize offering [1]: {problem}", "§4")
            stopped = "the handshake failed"
        else:
            ctx.report.ok("handshake", f"protocol 1, {ctx.name} {reply.result.get('version')}, "
                          f"capabilities {reply.result.get('capabilities', [])}")
        for name, section, step in _steps(ctx):
            if stopped:
                ctx.report.skip(name, f"not run: {stopped}")
                continue
            try:
                step(ctx, plugin)
            except CheckTimeout as exc:
                ctx.report.fail(name, f"{exc}; stderr: {plugin.stderr_text()}", section)
                stopped = f"the plugin stopped answering during {name}"
            except WrongId as exc:
                ctx.report.fail(name, str(exc), "§3")
                stopped = f"responses carry wrong ids (see {name})"
            except (errors.Error, OSError) as exc:
                ctx.report.fail(name, f"{exc}; stderr: {plugin.stderr_text()}", section)
                if plugin.broken or plugin.popen.poll() is not None:
                    stopped = f"the session ended during {name}"
        pc.stdout_hygiene(ctx, plugin)


def run_suite(ctx: Context, handler: KernelHandler, installer_round_trip: Callable[[Context], None]
              | None = None) -> Report:
    """Every check for ``ctx.manifest``; the report says which failed and why."""
    os.makedirs(ctx.scratch, exist_ok=True)
    pc.check_no_cookie(ctx)
    pc.check_version_negotiation(ctx)
    _session(ctx)
    fresh: list[tuple[str, Callable[[Context], None]]] = [
        ("exit-on-eof", pc.check_eof_exit),
        ("violation-exit", pc.check_violation_exit),
        ("truncation-exit", pc.check_truncation_exit),
    ]
    if ctx.manifest.is_authenticator:
        fresh.append(("perform-cleanup", lambda c: rc.perform_cleanup(c, handler)))
    if ctx.manifest.is_installer and installer_round_trip is not None:
        fresh.append(("deploy-save-rollback", installer_round_trip))
    handshake_failed = ctx.report.status_of("handshake") is CheckStatus.FAIL
    for name, check in fresh:
        # Each starts a new process; when initialize already failed the report says so
        # once (handshake FAIL). A handshake failing only there is that check's FAIL.
        if handshake_failed:
            ctx.report.skip(name, "not run: the handshake failed (see handshake)")
        else:
            check(ctx)
    pc.error_shapes(ctx)
    return ctx.report
