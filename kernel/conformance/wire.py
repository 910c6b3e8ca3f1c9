"""A raw, observing connection to a plugin process for conformance checks.

The plugin host (``certkernel.plugin_host.process``) hangs up on the first
protocol violation, which is right for real runs but useless for telling a
plugin author what went wrong. This client spawns the plugin the same way
(environment from scratch, own process group, death with the kernel), sends
hand-made bytes, and records everything that comes back: each stdout object
with what is wrong with its shape, the raw stdout bytes, and stderr lines.
"""

from __future__ import annotations

import os
import select
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgpack

from certkernel import errors
from certkernel.plugin_host import spawn as host_spawn
from certkernel.plugin_host.manifest import Manifest
from certkernel.plugin_host.spawn import LaunchPlan, build_env
from certkernel.protocol.codec import MAX_ID, ProtocolViolation, to_message, unpack_problem
from certkernel.protocol.messages import COOKIE_NAME, error_to_wire

_READ = 64 * 1024
_STDERR_KEEP = 200
KernelHandler = Callable[[str, dict[str, Any]], dict[str, Any]]


class CheckTimeout(errors.PluginError):
    """The plugin did not send what was awaited in time."""


class WrongId(errors.PluginError):
    """A response came back with an id that is not the integer that was sent."""


class StreamBroken(errors.PluginError):
    """The plugin's stdout can no longer be decoded (invalid MessagePack)."""


@dataclass
class Seen:
    """One object decoded from the plugin's stdout, and why it is wrong (if it is)."""

    obj: Any
    problem: str | None = None
    offset: int = 0

    @property
    def kind(self) -> int | None:
        return self.obj[0] if isinstance(self.obj, list) and self.obj else None


@dataclass
class Reply:
    """A response to one of our requests, as received (``error`` not yet checked)."""

    id: int
    error: Any
    result: Any
    problem: str | None = None


@dataclass
class SpawnOptions:
    """How to start the plugin for one check."""

    cookie: bool = True
    versions: Sequence[int] = (1,)
    pass_fds: tuple[int, ...] = ()
    cwd: str | None = None
    extra_env: Mapping[str, str] = field(default_factory=dict)


class RawPlugin:
    """One plugin process under observation."""

    def __init__(self, manifest: Manifest, spawn: SpawnOptions | None = None) -> None:
        spawn = spawn or SpawnOptions()
        self.manifest = manifest
        env = build_env(manifest.name, spawn.versions, manifest.env, home=spawn.cwd)
        if not spawn.cookie:
            env.pop(COOKIE_NAME, None)
        env.update(spawn.extra_env)
        plan = LaunchPlan(name=manifest.name, argv=manifest.argv(), env=env, cwd=spawn.cwd,
                          pass_fds=spawn.pass_fds)
        self.argv = plan.argv
        try:
            self.popen = host_spawn.popen(plan, subprocess.PIPE, subprocess.PIPE, subprocess.PIPE)
        except OSError as exc:
            raise errors.PluginError(
                f"cannot start {plan.argv[0]!r} (manifest command): {exc.strerror or exc}"
            ) from None
        assert self.popen.stdin and self.popen.stdout and self.popen.stderr
        self._out = self.popen.stdout.fileno()
        self._in = self.popen.stdin.fileno()
        self.stdout_bytes = bytearray()
        self.seen: list[Seen] = []
        self.notifications: list[list[Any]] = []
        self.kernel_requests: list[str] = []
        self.broken: str | None = None
        self.stdin_closed = False
        self._replies: dict[int, Reply] = {}
        # Responses whose id is not an unsigned integer ("1", 1.0): no request matches.
        self.odd_replies: list[list[Any]] = []
        self._next_id = 0
        self._unpacker = msgpack.Unpacker(raw=False, strict_map_key=False, use_list=True,
                                          ext_hook=_ext)
        self.stderr_lines: list[str] = []
        self._stderr_thread = threading.Thread(target=self._drain, daemon=True)
        self._stderr_thread.start()

    # -- stderr --------------------------------------------------------------

    def _drain(self) -> None:
        assert self.popen.stderr is not None
        for line in iter(self.popen.stderr.readline, b""):
            if len(self.stderr_lines) < _STDERR_KEEP:
                self.stderr_lines.append(line.decode("utf-8", "replace").rstrip("\n"))
        self.popen.stderr.close()

    def stderr_text(self, last: int = 5) -> str:
        """The last lines of stderr, for quoting in a report."""
        self._stderr_thread.join(0.2)
        lines = [line for line in self.stderr_lines if line.strip()][-last:]
        return " | ".join(lines) if lines else "(stderr empty)"

    # -- sending -------------------------------------------------------------

    def send_bytes(self, data: bytes) -> None:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(self._in, view):]
        except OSError as exc:
            raise errors.PluginCrashed(f"writing to the plugin's stdin failed ({exc})") from None

    def send(self, obj: list[Any]) -> None:
        self.send_bytes(msgpack.packb(obj, use_bin_type=True))

    def new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def request(self, method: str, params: dict[str, Any] | None = None) -> int:
        msgid = self.new_id()
        self.send([0, msgid, method, [params or {}]])
        return msgid

    def notify(self, method: str, params: dict[str, Any] | None = None) -> None:
        self.send([2, method, [params or {}]])

    # -- receiving -----------------------------------------------------------

    def _pump(self, deadline: float, handler: KernelHandler | None) -> bool:
        """Read once (until ``deadline``); False at EOF or when nothing came."""
        if self.broken:
            raise StreamBroken(self.broken)
        wait = max(0.0, deadline - time.monotonic())
        ready, _, _ = select.select([self._out], [], [], wait)
        if not ready:
            return False
        chunk = os.read(self._out, _READ)
        if not chunk:
            return False
        self.stdout_bytes += chunk
        start = self._unpacker.tell()
        self._unpacker.feed(chunk)
        while True:
            try:
                obj = self._unpacker.unpack()
            except msgpack.OutOfData:
                break
            except Exception as exc:  # noqa: BLE001 - any unpack failure breaks the stream
                # Quote from the first byte that could not be read; what came
                # before it (an answer we wait for) still counts, and the
                # next read raises.
                at = self._unpacker.tell()
                self.broken = (f"stdout is not valid MessagePack ({unpack_problem(exc)}) at byte "
                               f"{at}: {bytes(self.stdout_bytes[at:at + 64]).hex()}")
                return True
            self._take(obj, handler, start)
            start = self._unpacker.tell()
        return True

    def _take(self, obj: Any, handler: KernelHandler | None, offset: int = 0) -> None:
        problem: str | None = None
        try:
            to_message(obj)
        except ProtocolViolation as exc:
            problem = f"{exc.reason}: {_show(obj)}"
        seen = Seen(obj, problem, offset)
        self.seen.append(seen)
        if not isinstance(obj, list) or not obj:
            return
        if obj[0] == 1 and len(obj) == 4 and is_wire_id(obj[1]):
            self._replies[obj[1]] = Reply(obj[1], obj[2], obj[3], problem)
        elif obj[0] == 1 and len(obj) == 4:
            self.odd_replies.append(obj)
        elif obj[0] == 2 and problem is None:
            self.notifications.append(obj)
        elif obj[0] == 0 and problem is None:
            self._answer(obj, handler)

    def _answer(self, obj: list[Any], handler: KernelHandler | None) -> None:
        _, msgid, method, params = obj
        self.kernel_requests.append(method)
        try:
            if handler is None:
                raise errors.MethodNotFound(f"plugin-check does not answer {method!r} here")
            result = handler(method, params[0] if params else {})
            self.send([1, msgid, None, result])
        except errors.CallError as exc:
            self.send([1, msgid, error_to_wire(exc), None])

    def wait_reply(self, msgid: int, timeout: float, handler: KernelHandler | None = None) -> Reply:
        """The response to our request ``msgid``; CheckTimeout if none comes in time."""
        deadline = time.monotonic() + timeout
        while msgid not in self._replies:
            if self.odd_replies:
                raise WrongId(_wrong_id(self.odd_replies.pop(0), msgid))
            if time.monotonic() >= deadline:
                raise CheckTimeout(f"no answer within {timeout:g} s")
            if not self._pump(deadline, handler) and self.popen.poll() is not None:
                self.drain_rest()
                if msgid in self._replies:
                    break
                raise errors.PluginCrashed(
                    f"the plugin exited with status {self.popen.returncode} without answering"
                )
        return self._replies.pop(msgid)

    def call(self, method: str, params: dict[str, Any] | None = None, timeout: float = 15.0,
             handler: KernelHandler | None = None) -> Reply:
        return self.wait_reply(self.request(method, params), timeout, handler)

    def drain_rest(self, timeout: float = 0.5) -> None:
        """Read whatever stdout still holds (after the process ended)."""
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline and self._pump(deadline, None):
                pass
        except (StreamBroken, OSError):
            pass

    # -- ending --------------------------------------------------------------

    def close_stdin(self) -> None:
        if not self.stdin_closed:
            self.stdin_closed = True
            try:
                assert self.popen.stdin is not None
                self.popen.stdin.close()
            except OSError:
                pass

    def wait_exit(self, timeout: float) -> int | None:
        """The exit status, or None if still running after ``timeout`` seconds."""
        return host_spawn.wait_exit(self.popen, timeout)

    def kill(self) -> None:
        """Stop the plugin's whole process group and reap it."""
        self.close_stdin()
        host_spawn.stop_group(self.popen, 2.0)
        if self.popen.stdout is not None:
            self.popen.stdout.close()
        self._stderr_thread.join(1.0)

    def __enter__(self) -> RawPlugin:
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()


def is_wire_id(value: Any) -> bool:
    """An id as §3 allows it: an integer (not a bool) from 0 to 2^32 - 1."""
    return type(value) is int and 0 <= value <= MAX_ID


def _wrong_id(obj: list[Any], sent: int) -> str:
    got = obj[1]
    text = (f"answered with a response whose id is {show(got, 40)} (a {type(got).__name__}) "
            f"instead of the integer {sent} it was sent")
    if isinstance(got, str) and got.strip().isdigit():
        text += ("; the id was turned into a string: send it back as the integer it arrived as "
                 "(PROTOCOL.md §3.2 on dynamic languages)")
    return text


def _ext(code: int, data: bytes) -> Any:
    return msgpack.ExtType(code, data)


def _show(obj: Any, limit: int = 120) -> str:
    text = repr(obj)
    return text if len(text) <= limit else text[:limit] + "..."


def show(obj: Any, limit: int = 120) -> str:
    """A short printable rendering of a wire value for reports."""
    return _show(obj, limit)
