"""A running plugin: spawn, handshake, calls with deadlines, and a clean end.

Whatever the plugin does — crash, hang, flood stderr or ``$/log``, write
garbage or escape sequences — the kernel gets one
:class:`certkernel.errors.PluginError` that names the plugin and quotes its
last stderr lines, the log gets at most :data:`LOG_CAP` bytes of the
plugin's output (cleaned of control sequences, one line saying how much was
dropped), and no process the plugin started is left behind (its cgroup is
killed, see lifetime.py).
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from certkernel import errors
from certkernel.plugin_host import spawn
from certkernel.plugin_host.spawn import LaunchPlan
from certkernel.protocol import methods as wire
from certkernel.protocol.rpc import Endpoint
from certkernel.protocol.wire_codec import WireError
from certkernel.terminal_text import as_log_lines, clean, clean_value
from certkernel.version import __version__

# Deadlines come from the registry (PROTOCOL.md §5); a manifest's [timeouts] overrides them.
DEFAULT_TIMEOUTS = {
    name: entry.deadline for name, entry in wire.METHODS.items() if entry.deadline is not None
}
DEFAULT_TIMEOUT = wire.DEFAULT_DEADLINE
TERM_GRACE = 2.0
_STDERR_LINES = 20
_MAX_LINE = 4096
LOG_CAP = 4 * 1024 * 1024  # bytes of stderr, $/log, $/progress and notice text per plugin process

Handler = Callable[[str, dict[str, Any]], dict[str, Any]]


def _utf8_size(value: object) -> int:
    return len(str(value).encode("utf-8", "replace"))


class LogBudget:
    """How much of a plugin's output may still go out: one budget for all of it.

    Why a total and not a per-message cap: twenty 16 MiB ``$/log`` messages
    made a 314 MB log in five seconds. Past the cap, output is counted and
    dropped; :meth:`report` then logs one line saying how much.
    """

    def __init__(self, plugin: str, logger: logging.Logger, cap: int = LOG_CAP) -> None:
        self.plugin = plugin
        self.logger = logger
        self.cap = cap
        self.used = 0
        self.dropped = 0
        self.lock = threading.Lock()
        self.reported = False

    def _spend(self, size: int, *, whole: bool) -> int:
        """The one place output is charged: how many of ``size`` bytes may go out.

        Every kind of plugin output (stderr, ``$/log``, ``$/progress``,
        ``display/notification``) comes through here, so they share one cap.
        ``whole``: all or nothing (a terminal line is shown whole or not at
        all); otherwise what still fits (a log line is cut at the cap).
        """
        with self.lock:
            room = max(self.cap - self.used, 0)
            allowed = size if size <= room else (0 if whole else room)
            self.dropped += size - allowed
            self.used = min(self.used + size, self.cap)
            return allowed

    def log(self, level: int, text: str) -> None:
        """Log ``text`` (cleaned, every line prefixed) if the budget allows, else count it."""
        data = text.encode("utf-8", "replace")
        allowed = self._spend(len(data), whole=False)
        if allowed < len(data):
            text = data[:allowed].decode("utf-8", "ignore")
            if not text:
                return
        prefix = f"[{self.plugin}]"
        self.logger.log(level, "%s %s", prefix, as_log_lines(prefix, text))

    def charge(self, size: int) -> bool:
        """Whether ``size`` more bytes (a progress line, a notification) may be shown."""
        return self._spend(size, whole=True) == size

    def report(self) -> None:
        """The one line about dropped output (once, and only if something was dropped)."""
        with self.lock:
            if self.reported or not self.dropped:
                return
            self.reported = True
            dropped = self.dropped
        self.logger.warning(
            "plugin %s: dropped %d bytes of its log output past the cap of %d bytes per run",
            self.plugin, dropped, self.cap)


class StderrDrain(threading.Thread):
    """Reads a plugin's stderr as it comes, so the plugin never blocks on it.

    Lines go to the log under the plugin's name, within the run's
    :class:`LogBudget`; the last few are kept to quote in error messages.
    Very long lines are cut, not buffered whole.
    """

    def __init__(self, name: str, stream: Any, budget: LogBudget) -> None:
        super().__init__(name=f"stderr-{name}", daemon=True)
        self.plugin = name
        self.stream = stream
        self.budget = budget
        self.tail: deque[str] = deque(maxlen=_STDERR_LINES)
        self.total_bytes = 0

    def run(self) -> None:
        while True:
            line = self.stream.readline(_MAX_LINE)
            if not line:
                break
            self.total_bytes += len(line)
            text = clean(line.decode("utf-8", "replace"), newlines=False)
            self.tail.append(text)
            self.budget.log(logging.DEBUG, text)
        self.stream.close()

    def quote(self) -> str:
        if not self.tail:
            return ""
        lines = "\n".join(f"    {line}" for line in self.tail)
        return f"\n  last lines of its stderr:\n{lines}"


class PluginProcess:
    """One plugin process and the connection to it."""

    def __init__(
        self,
        plan: LaunchPlan,
        handler: Handler,
        logger: logging.Logger,
        on_progress: Callable[[str, dict[str, Any]], None] | None = None,
    ) -> None:
        self.plan = plan
        self.name = plan.name
        self.logger = logger
        self._on_progress = on_progress
        self.info: dict[str, Any] = {}
        self.closed = False
        self.budget = LogBudget(self.name, logger)
        self._handler = handler
        self._popen: subprocess.Popen[bytes] | None = None
        self._stdin: Any = None
        self._stdout: Any = None

    def start(self) -> PluginProcess:
        """Spawn the process and its stderr drain; once only.

        Kept out of the constructor so that a configured plugin is something
        a caller can hold, inspect and start when it chooses (and so that a
        failure to spawn is never half a constructed object).
        """
        if self._popen is not None or self.closed:
            raise errors.PluginError(f"plugin {self.name} was already started")
        plan = self.plan
        child_in, to_child = os.pipe()
        from_child, child_out = os.pipe()
        err_read, child_err = os.pipe()
        if plan.user is not None:
            # A plugin running as another user owns its ends of the pipes, so
            # it can reopen them through /proc/self/fd (the Node SDK protects
            # its channel that way) — and nothing else of the kernel's.
            for fd in (child_in, child_out, child_err):
                os.fchown(fd, plan.user, plan.group if plan.group is not None else -1)
        try:
            self._popen = spawn.popen(plan, child_in, child_out, child_err)
        except PermissionError as exc:
            for fd in (to_child, from_child, err_read):
                os.close(fd)
            raise errors.PluginError(
                f"plugin {self.name}: cannot start {plan.argv[0]!r}: {exc.strerror}"
                + (f" for uid {plan.user}" if plan.user is not None else "")
            ) from None
        except (OSError, subprocess.SubprocessError) as exc:
            for fd in (to_child, from_child, err_read):
                os.close(fd)
            reason = getattr(exc, "strerror", None) or exc
            raise errors.PluginError(
                f"plugin {self.name}: cannot start {plan.argv[0]!r}: {reason}"
            ) from None
        finally:
            for fd in (child_in, child_out, child_err):
                os.close(fd)
        self._stdin = os.fdopen(to_child, "wb", buffering=0)
        self._stdout = os.fdopen(from_child, "rb", buffering=0)
        self._drain = StderrDrain(self.name, os.fdopen(err_read, "rb"), self.budget)
        self._drain.start()
        self.endpoint = Endpoint(
            self._stdout.fileno(),
            self._stdin.fileno(),
            self._handle,
            self._notification,
            peer=self.name,
        )
        return self

    @property
    def started(self) -> bool:
        return self._popen is not None

    @property
    def popen(self) -> subprocess.Popen[bytes]:
        """The OS process (only after :meth:`start`)."""
        if self._popen is None:
            raise errors.PluginError(f"plugin {self.name} was not started")
        return self._popen

    @property
    def pid(self) -> int:
        return self.popen.pid

    # -- the conversation ------------------------------------------------

    def _handle(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """Serve the plugin's request; none but ``$/ping`` before its handshake (§4)."""
        if not self.info:
            raise errors.InvalidRequest(f"{method} before initialize was answered")
        if method == "display/notification":
            # Printed on the terminal: it shares the output budget; past it, dropped.
            if not self.budget.charge(_utf8_size(params.get("message", ""))):
                return {}
        return self._handler(method, params)

    def _notification(self, method: str, params: dict[str, Any]) -> None:
        try:
            decoded = wire.decode_params(method, params) if method in wire.METHODS else None
        except WireError as exc:
            # A notification has no answer: say it in the log, once per message.
            self.budget.log(logging.WARNING, f"ignored a malformed notification: {exc}")
            return
        if isinstance(decoded, wire.LogParams):
            level = {"debug": 10, "info": 20, "warning": 30, "error": 40}.get(decoded.level, 20)
            self.budget.log(level, decoded.message)
        elif isinstance(decoded, wire.ProgressParams) and self._on_progress is not None:
            cleaned = clean_value(decoded.to_wire())
            # Progress reaches the terminal and the log: it shares the log budget.
            if self.budget.charge(_utf8_size(
                    cleaned.get("message", "") if isinstance(cleaned, dict) else "")):
                self._on_progress(self.name, cleaned if isinstance(cleaned, dict) else {})

    def timeout_for(self, method: str) -> float:
        return float(
            self.plan.timeouts.get(method, DEFAULT_TIMEOUTS.get(method, DEFAULT_TIMEOUT))
        )

    def call(
        self, method: str, params: dict[str, Any] | None = None, timeout: float | None = None
    ) -> dict[str, Any]:
        """Call a method; every failure comes back as one CallError naming the plugin."""
        if self.closed:
            raise errors.PluginError(f"plugin {self.name} was already stopped")
        if self._popen is None:
            raise errors.PluginError(f"plugin {self.name} was not started")
        limit = self.timeout_for(method) if timeout is None else timeout
        try:
            return self.endpoint.call(method, params, limit)
        except errors.PluginTimeout:
            self.kill()
            raise errors.PluginTimeout(
                f"plugin {self.name} did not answer {method} within {limit:g} s "
                f"and was stopped{self._drain.quote()}"
            ) from None
        except errors.CallError as exc:
            if self.endpoint.failure is not None:
                raise self._fatal(method, exc) from None
            if self._out_of_files(exc):
                # Its state is unknown after that: stop it; cleanup gets a fresh process.
                self.kill()
                raise errors.PluginError(
                    f"plugin {self.name} ran out of {self._limit_text('files')} during "
                    f"{method} and was stopped ({exc}). Raise the limit in the [sandbox] "
                    "table of its manifest if it really needs more"
                ) from None
            text = clean(str(exc))  # a plugin's error text reaches the terminal
            if not text.startswith(f"{self.name}:"):
                text = f"{self.name}: {text}"
            raise type(exc)(text, data=exc.data, code=exc.code) from None

    def _out_of_files(self, exc: errors.CallError) -> bool:
        """Whether an internal error is the plugin's open-file limit (EMFILE) biting."""
        limits = self.plan.limits
        return (limits is not None and bool(limits.max_files)
                and isinstance(exc, errors.RemoteInternalError) and "[Errno 24]" in str(exc))

    def _limit_text(self, which: str) -> str:
        """``its memory limit (256 MiB, max_memory_mb)`` and the like, from the plan."""
        limits = self.plan.limits
        assert limits is not None  # noqa: S101 - only called for a plan with limits
        if which == "memory" and limits.max_memory:
            return f"its memory limit ({limits.max_memory // (1024 * 1024)} MiB, max_memory_mb)"
        if which == "files" and limits.max_files:
            return f"its open-file limit ({limits.max_files} files, max_files)"
        if which == "cpu" and limits.max_cpu_seconds:
            return f"its CPU time limit ({limits.max_cpu_seconds} s, max_cpu_seconds)"
        if which == "file size" and limits.max_file_size:
            return (f"its file size limit ({limits.max_file_size // (1024 * 1024)} MiB, "
                    "max_file_size_mb)")
        return f"its {which} limit"

    def _limits_hint(self) -> str:
        limits = self.plan.limits
        if limits is None:
            return ""
        parts = []
        if limits.max_memory:
            parts.append(f"{limits.max_memory // (1024 * 1024)} MiB of memory")
        if limits.max_files:
            parts.append(f"{limits.max_files} open files")
        return f" (it was limited to {' and '.join(parts)})" if parts else ""

    def _fatal(self, method: str, exc: errors.CallError) -> errors.TransportError:
        """Stop the plugin after a broken conversation and describe what happened."""
        crashed = isinstance(exc, errors.PluginCrashed)
        status = spawn.wait_exit(self.popen, TERM_GRACE) if crashed else None
        limit = spawn.limit_death(self.popen, status, self.plan.limits) if crashed else ""
        self.kill()
        self._drain.join(1.0)
        if limit:
            return errors.PluginCrashed(
                f"plugin {self.name} ran out of {self._limit_text(limit)} during {method} and "
                "was stopped. Raise the limit in the [sandbox] table of its manifest if it "
                f"really needs more{self._drain.quote()}"
            )
        if crashed:
            how = _describe_status(status if status is not None else self.popen.returncode)
            return errors.PluginCrashed(
                f"plugin {self.name} {how} during {method}{self._limits_hint()}"
                f"{self._drain.quote()}"
            )
        return errors.ProtocolError(
            f"plugin {self.name} broke the protocol during {method}: {clean(str(exc))}"
            f"{self._drain.quote()}"
        )

    def handshake(self, params: wire.InitializeParams) -> dict[str, Any]:
        """Send ``initialize`` and check the version the plugin chose.

        ``params.protocol_versions`` is replaced by the versions of the
        launch plan, which the plugin was also told in its environment.
        """
        offered = list(self.plan.protocol_versions)
        params = replace(params, protocol_versions=offered)
        try:
            result = self.call("initialize", wire.encode("initialize", params))
        except errors.PluginCrashed as exc:
            raise errors.PluginCrashed(
                str(exc).replace("during initialize", "before the handshake")
            ) from None
        except errors.CallError as exc:
            self.kill()
            raise type(exc)(str(exc)) from None
        try:
            chosen = wire.decode_result("initialize", result, wire.InitializeResult).protocol_version
        except WireError as exc:
            self.kill()
            raise errors.ProtocolError(f"plugin {self.name}: {exc}") from None
        if chosen not in offered:
            self.kill()
            raise errors.ProtocolError(
                f"plugin {self.name} chose protocol version {chosen!r}; "
                f"certkernel {__version__} speaks {offered}"
            )
        self.info = result
        return result

    # -- ending ----------------------------------------------------------

    def close(self) -> None:
        """End gracefully: shutdown, exit, EOF; then force if it lingers."""
        if self.closed:
            return
        if self._popen is None:
            self.closed = True
            return
        if self.endpoint.failure is None and self.popen.poll() is None:
            try:
                # A plugin that does not finish shutdown in time gets no extra
                # grace: it is about to be terminated anyway.
                self.endpoint.call("shutdown", wire.encode("shutdown", wire.Empty()),
                                   self.timeout_for("shutdown"), cancel_grace=0.0)
                self.endpoint.notify("exit", wire.encode("exit", wire.Empty()))
            except errors.CallError as exc:
                self.logger.debug("plugin %s: shutdown failed: %s", self.name, exc)
        self._close_pipes()
        if spawn.wait_exit(self.popen, TERM_GRACE) is None:
            self.logger.warning("plugin %s ignored shutdown; stopping it", self.name)
        self.kill()

    def _close_pipes(self) -> None:
        for stream in (self._stdin, self._stdout):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass

    def kill(self) -> None:
        """Stop the whole process group: SIGTERM, a grace period, SIGKILL, reap."""
        if self.closed:
            return
        self.closed = True
        if self._popen is None:
            return
        self._close_pipes()
        # Children the plugin left in its group go too, and with a cgroup
        # every process it started, wherever it moved.
        spawn.stop_group(self.popen, TERM_GRACE)
        self._drain.join(1.0)
        self.budget.report()

    def __enter__(self) -> PluginProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _describe_status(status: int | None) -> str:
    if status is None:
        return "stopped answering"
    if status < 0:
        try:
            name = signal.Signals(-status).name
        except ValueError:
            name = f"signal {-status}"
        return f"was killed by {name}"
    return f"exited with status {status}"
