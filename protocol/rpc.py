"""One side of a protocol connection over a pair of file descriptors.

Both the kernel (talking to a plugin's stdout/stdin) and the SDK (talking to
its own private copies of stdin/stdout) use :class:`Endpoint`. There is no
reader thread: whichever thread is waiting for an answer reads the pipe
itself and handles whatever arrives — responses for other threads, the
peer's nested requests (a prompt in the middle of ``perform``), and
notifications. That keeps a round trip to three system calls per side, which
is what makes tens of thousands of small calls per second possible, and it
makes nested calls plain recursion. When several threads wait at once, one
reads at a time and hands responses to the others (leader/followers).
"""

from __future__ import annotations

import os
import select
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from certkernel.protocol import errors
from certkernel.protocol import methods as wire
from certkernel.protocol.codec import (
    MAX_ID,
    Decoder,
    Encoder,
    Malformed,
    Message,
    Notification,
    ProtocolViolation,
    Request,
    Response,
)
from certkernel.protocol.messages import error_from_wire, error_to_wire

Handler = Callable[[str, dict[str, Any]], dict[str, Any]]
NotificationHandler = Callable[[str, dict[str, Any]], None]

CANCEL_GRACE = 5.0
_READ_SIZE = 64 * 1024
# Before blocking on the pipe, poll it without waiting for this long. In a
# burst of small calls the answer usually lands within that window, so
# neither side sleeps and neither write has to wake a sleeping reader (on an
# idle machine that wake-up, not Python, is most of a round trip). The cost
# is at most this much CPU per message when the peer is slow to answer.
SPIN = 0.0002
_SPIN_BACKOFF = 8


class ConnectionClosed(errors.PluginCrashed):
    """The peer closed its end of the connection."""


class Endpoint:
    """A MessagePack-RPC peer (PROTOCOL.md §3): calls out, answers calls in."""

    def __init__(
        self,
        rfd: int,
        wfd: int,
        handler: Handler,
        on_notification: NotificationHandler | None = None,
        *,
        peer: str = "",
        cancel_grace: float = CANCEL_GRACE,
        answer_malformed: bool = False,
        spin: float = SPIN,
    ) -> None:
        self._rfd = rfd
        self._wfd = wfd
        self._handler = handler
        self._on_notification = on_notification
        self.peer = peer
        self.cancel_grace = cancel_grace
        self.spin = spin
        self._spin_skip = 0
        self._decoder = Decoder(lenient=answer_malformed)
        self._encoder = Encoder()
        self._inbox: deque[Message] = deque()
        self._results: dict[int, Response] = {}
        self._outstanding: set[int] = set()
        self._next_id = 0
        # Short critical sections take the plain lock (no Python-level
        # Condition frames on the hot path); only waiting uses the condition,
        # and it is notified only when some thread waits on it.
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._waiters = 0
        self._reader: int | None = None
        self._depth = 0
        self._write_lock = threading.Lock()
        self._failure: errors.CallError | None = None
        self._poller = select.poll()
        self._poller.register(rfd, select.POLLIN | select.POLLHUP | select.POLLERR)
        self.cancelled: set[int] = set()
        self._handling: list[int] = []

    # -- sending ---------------------------------------------------------

    def _send(self, message: Request | Response | Notification) -> None:
        with self._write_lock:
            view = memoryview(self._encoder.encode(message))
            try:
                while view:
                    written = os.write(self._wfd, view)
                    view = view[written:]
            except (BrokenPipeError, OSError) as exc:
                raise self._fail(ConnectionClosed(f"connection closed while writing ({exc})")) from None

    def notify(self, method: str, params: dict[str, Any] | None = None) -> None:
        """Send a notification; no answer comes."""
        self._send(Notification(method, params or {}))

    def call(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        timeout: float | None = None,
        cancel_grace: float | None = None,
    ) -> dict[str, Any]:
        """Call ``method`` on the peer and wait for its result.

        Past ``timeout`` seconds (not counting time spent answering the
        peer's own requests, such as prompts) the peer gets ``$/cancel`` and
        ``cancel_grace`` more seconds (the endpoint's default unless given);
        then :class:`errors.PluginTimeout`.
        """
        with self._lock:
            self._next_id = self._next_id + 1 if self._next_id < MAX_ID else 1
            msgid = self._next_id
            self._outstanding.add(msgid)
        try:
            self._send(Request(msgid, method, params or {}))
            grace = self.cancel_grace if cancel_grace is None else cancel_grace
            response = self._await(msgid, method, timeout, grace)
        finally:
            with self._lock:
                self._outstanding.discard(msgid)
                self._results.pop(msgid, None)
        if response.error is not None:
            raise error_from_wire(response.error)
        result = response.result
        if result is None:
            return {}
        if not isinstance(result, dict):
            raise self._fail(
                ProtocolViolation(
                    f"result of {method} must be a map, got {type(result).__name__}", response.raw
                )
            )
        return result

    def _await(
        self, msgid: int, method: str, timeout: float | None, cancel_grace: float
    ) -> Response:
        deadline = None if timeout is None else time.monotonic() + timeout
        cancel_sent = False
        while True:
            with self._lock:
                response = self._results.pop(msgid, None)
                if response is not None:
                    return response
                if self._failure is not None:
                    raise self._failure
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    if cancel_sent:
                        raise errors.PluginTimeout(
                            f"{method} did not answer within its deadline, nor after $/cancel"
                        )
                    cancel_sent = True
                    deadline = time.monotonic() + cancel_grace
                    leader = False
                elif self._take_lead():
                    leader = True
                else:
                    self._wait(remaining)
                    continue
            if not leader:
                self.notify("$/cancel", wire.encode("$/cancel", wire.CancelParams(id=msgid)))
                continue
            try:
                paused = self._pump(remaining)
            finally:
                self._drop_lead()
            if deadline is not None:
                deadline += paused

    # -- receiving -------------------------------------------------------

    def _take_lead(self) -> bool:
        """Become the reading thread (call with ``_lock`` held).

        The thread already reading may lead again: that is a nested call
        made from a handler it is running.
        """
        me = threading.get_ident()
        if self._reader is None or self._reader == me:
            self._reader = me
            self._depth += 1
            return True
        return False

    def _wait(self, timeout: float | None) -> None:
        """Wait for a notification (call with the lock held)."""
        self._waiters += 1
        try:
            self._cond.wait(timeout)
        finally:
            self._waiters -= 1

    def _wake(self) -> None:
        """Wake the waiting threads, if any (call with the lock held)."""
        if self._waiters:
            self._cond.notify_all()

    def _drop_lead(self) -> None:
        with self._lock:
            self._depth -= 1
            if self._depth == 0:
                self._reader = None
            self._wake()

    def _fail(self, exc: errors.CallError) -> errors.CallError:
        with self._lock:
            if self._failure is None:
                self._failure = exc
            self._wake()
            return self._failure

    @property
    def failure(self) -> errors.CallError | None:
        """The error that ended this connection, if it has ended."""
        return self._failure

    def _spin_ready(self) -> bool:
        """Busy-poll for input for up to ``spin`` seconds; True once it is there.

        Adaptive: after a spin that found nothing (a slow peer, or one that
        cannot get a CPU), the next few reads block at once.
        """
        if self._spin_skip:
            self._spin_skip -= 1
            return False
        poll, clock = self._poller.poll, time.perf_counter
        end = clock() + self.spin
        while not poll(0):
            if clock() >= end:
                self._spin_skip = _SPIN_BACKOFF
                return False
        return True

    def _read(self, timeout: float | None) -> bool:
        """Read once (waiting at most ``timeout``); False when nothing came."""
        ready = self.spin > 0 and (timeout is None or timeout > 0) and self._spin_ready()
        if timeout is not None and not ready:
            if not self._poller.poll(max(0.0, timeout) * 1000):
                return False
        try:
            data = os.read(self._rfd, _READ_SIZE)
        except OSError as exc:
            raise self._fail(ConnectionClosed(f"connection broken while reading ({exc})")) from None
        if not data:
            try:
                self._decoder.close()
            except ProtocolViolation as exc:
                raise self._fail(exc) from None
            raise self._fail(ConnectionClosed("connection closed by the peer"))
        try:
            self._inbox.extend(self._decoder.feed(data))
        except ProtocolViolation as exc:
            raise self._fail(exc) from None
        return True

    def _pump(self, timeout: float | None) -> float:
        """Read what arrives within ``timeout`` and dispatch it.

        Returns the seconds spent in request handlers, which callers add to
        their deadlines (a deadline pauses while the user is prompted).
        """
        if not self._inbox and not self._read(timeout):
            return 0.0
        paused = 0.0
        while self._inbox:
            message = self._inbox.popleft()
            if isinstance(message, Response):
                with self._lock:
                    known = message.id in self._outstanding
                    if known:
                        self._results[message.id] = message
                        self._wake()
                if not known:
                    raise self._fail(
                        ProtocolViolation(
                            f"response to unknown request id {message.id}", message.raw
                        )
                    )
            elif isinstance(message, Request):
                started = time.monotonic()
                self._dispatch(message)
                paused += time.monotonic() - started
            elif isinstance(message, Malformed):
                error = {"code": -32600, "type": "InvalidRequest", "message": message.reason}
                self._send(Response(message.id, error, None))
            else:
                self._notification(message)
        return paused

    def _dispatch(self, request: Request) -> None:
        if request.method == "$/ping":
            self._send(Response(request.id, None, {}))
            return
        self._handling.append(request.id)
        try:
            result = self._handler(request.method, request.params)
            response = Response(request.id, None, result if result is not None else {})
        except Exception as exc:  # noqa: BLE001 - every failure is answered, typed
            response = Response(request.id, error_to_wire(exc), None)
        finally:
            self._handling.pop()
            self.cancelled.discard(request.id)
        self._send(response)

    def _notification(self, note: Notification) -> None:
        if note.method == "$/cancel":
            target = note.params.get("id")
            if isinstance(target, int) and target in self._handling:
                self.cancelled.add(target)
            return
        if self._on_notification is not None:
            self._on_notification(note.method, note.params)

    # -- serving ---------------------------------------------------------

    def serve_forever(self) -> None:
        """Answer the peer's requests until it closes the connection.

        The serving thread stays the reader for the whole session; other
        threads of the plugin that call the kernel get their responses
        handed over by it.
        """
        with self._lock:
            while not self._take_lead():
                self._wait(None)
        try:
            while self._failure is None:
                self._pump(None)
        except errors.Error as exc:
            # The connection ended (EOF, or a violation by the peer): the
            # caller reads ``failure`` and exits 0 or 3 (PROTOCOL.md §1, §3.1).
            if exc is not self._failure:
                raise
        finally:
            self._drop_lead()

    def poll_input(self) -> None:
        """Take in whatever has arrived without waiting (to notice $/cancel)."""
        with self._lock:
            if self._failure is not None or not self._take_lead():
                return
        try:
            self._pump(0.0)
        finally:
            self._drop_lead()

    @property
    def current_request_cancelled(self) -> bool:
        """True when the peer cancelled the request being handled right now."""
        return bool(self._handling) and self._handling[-1] in self.cancelled
