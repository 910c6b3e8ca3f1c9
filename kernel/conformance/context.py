"""What every conformance check needs: the plugin, its inputs, scratch space.

Also the shared judgements: what a well-formed error map is (PROTOCOL.md §6)
and how to shake hands (§4), so every check words them the same way.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from certkernel.conformance.report import Report
from certkernel.conformance.wire import RawPlugin, Reply, SpawnOptions, show
from certkernel.errors import PLUGIN_ERROR_TYPES
from certkernel.plugin_host.manifest import Manifest
from certkernel.runtime.challenge_desk import ChallengeDesk
from certkernel.version import __version__

PROTOCOL_FAULTS = {
    "ParseError": -32700,
    "InvalidRequest": -32600,
    "MethodNotFound": -32601,
    "InvalidParams": -32602,
    "InternalError": -32603,
    "Cancelled": -32800,
}
# Errors prepare may legitimately raise on a machine that is not set up for the plugin.
CONFIG_ERRORS = frozenset(
    {"MisconfigurationError", "NoInstallationError", "NotSupportedError", "MissingCommandlineFlag"}
)
KNOWN_CHALLENGES = frozenset({"http-01", "dns-01", "tls-alpn-01"})


@dataclass
class Context:
    """One plugin-check run: the manifest, the values it is started with, scratch space."""

    manifest: Manifest
    options: dict[str, Any]
    scratch: str
    report: Report
    secrets: dict[str, str] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    user_options: frozenset[str] = frozenset()
    # --http-01-port / --http-01-address when the user gave them, else None / ""
    http01_port: int | None = None
    http01_address: str = ""
    timeout: float = 15.0
    errors_seen: list[tuple[str, Any]] = field(default_factory=list)
    # for a plugin that declares [needs] challenge_board: the kernel's side of
    # challenge/publish and challenge/withdraw, on a board in scratch space
    desk: ChallengeDesk | None = None

    @property
    def name(self) -> str:
        return self.manifest.name

    def state_dir(self) -> str:
        path = os.path.join(self.scratch, "state")
        os.makedirs(path, mode=0o700, exist_ok=True)
        return path

    def spawn(self, *, cookie: bool = True, versions: Sequence[int] | None = None,
              pass_fds: tuple[int, ...] = ()) -> RawPlugin:
        offered = tuple(versions) if versions is not None else (1,)
        return RawPlugin(self.manifest, SpawnOptions(
            cookie=cookie, versions=offered, pass_fds=pass_fds, cwd=self.state_dir()))

    def init_params(
        self,
        versions: Sequence[int] = (1,),
        options: Mapping[str, Any] | None = None,
        settings: Mapping[str, Any] | None = None,
        fds: Mapping[str, list[int]] | None = None,
    ) -> dict[str, Any]:
        return {
            "protocol_versions": list(versions),
            "kernel_version": __version__,
            "name": self.name,
            "options": dict(self.options if options is None else options),
            "secrets": dict(self.secrets),
            "settings": {**self.settings, **(settings or {})},
            "state_dir": self.state_dir(),
            "fds": dict(fds or {}),
        }

    def record(self, method: str, reply: Reply) -> None:
        """Keep every error answer so the error-shape check can judge them all."""
        if reply.error is not None:
            self.errors_seen.append((method, reply.error))


def error_problem(error: Any) -> str | None:
    """Why ``error`` is not a well-formed error map (PROTOCOL.md §6), or None."""
    if not isinstance(error, dict):
        return f"the error is a {type(error).__name__} ({show(error, 60)}), not a map {{code, type, message}}"
    problems = []
    code, kind, message = error.get("code"), error.get("type"), error.get("message")
    if not isinstance(code, int) or isinstance(code, bool):
        problems.append("no integer 'code'" if code is None else f"'code' is {show(code, 40)}, not an int")
    if not isinstance(kind, str):
        problems.append("no string 'type'" if kind is None else f"'type' is {show(kind, 40)}, not a str")
    if not isinstance(message, str):
        problems.append("no string 'message'" if message is None else "'message' is not a str")
    if not problems and kind in PROTOCOL_FAULTS and code != PROTOCOL_FAULTS[kind]:
        problems.append(f"type {kind} must have code {PROTOCOL_FAULTS[kind]}, not {code}")
    if not problems and kind in PLUGIN_ERROR_TYPES and kind not in PROTOCOL_FAULTS and code != -32000:
        problems.append(f"type {kind} must have code -32000, not {code}")
    return "; ".join(problems) or None


def describe_error(error: Any) -> str:
    if isinstance(error, dict):
        code = error.get("code", "no code")
        return f"{error.get('type', 'no type')} ({code}): {error.get('message', 'no message')}"
    return show(error, 80)


def handshake(ctx: Context, plugin: RawPlugin, **init: Any) -> Reply:
    """Send ``initialize`` and return the raw reply."""
    reply = plugin.call("initialize", ctx.init_params(**init), ctx.timeout)
    ctx.record("initialize", reply)
    return reply


def handshake_problem(ctx: Context, reply: Reply) -> str | None:
    """What is wrong with a reply to ``initialize`` offering [1], or None."""
    if reply.problem:
        return f"malformed response: {reply.problem}"
    if reply.error is not None:
        return f"answered with an error: {describe_error(reply.error)}"
    result = reply.result
    if not isinstance(result, dict):
        return f"result is {show(result, 60)}, not a map"
    if result.get("protocol_version") != 1:
        return f"offered [1] but protocol_version is {show(result.get('protocol_version'), 40)}"
    if result.get("name") != ctx.name:
        return f"name is {show(result.get('name'), 40)}, the manifest says {ctx.name!r}"
    if not isinstance(result.get("version"), str):
        return f"version is {show(result.get('version'), 40)}, not a str"
    caps = result.get("capabilities", [])
    if not isinstance(caps, list) or not all(isinstance(c, str) for c in caps):
        return f"capabilities is {show(caps, 60)}, not a list of str"
    return None
