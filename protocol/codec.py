"""Strict MessagePack-RPC framing for the plugin protocol (PROTOCOL.md §3).

The decoder is the kernel's first line of defence against a broken or hostile
plugin, so it refuses anything outside the spec instead of guessing: a bad
byte, a wrong shape, a non-string key or an extension type ends the
conversation with a :class:`ProtocolViolation` that quotes the bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import msgpack

from certkernel.protocol.errors import ProtocolError

MAX_MESSAGE_SIZE = 16 * 1024 * 1024
REQUEST = 0
RESPONSE = 1
NOTIFICATION = 2
MAX_ID = 2**32 - 1
_QUOTE_BYTES = 64


class ProtocolViolation(ProtocolError):
    """A message broke PROTOCOL.md §3.1; ``offending`` holds the bytes seen."""

    def __init__(self, reason: str, offending: bytes = b"") -> None:
        self.reason = reason
        self.offending = offending[:_QUOTE_BYTES]
        quoted = f" (bytes: {self.offending.hex()})" if offending else ""
        super().__init__(f"{reason}{quoted}")


@dataclass(slots=True)
class Request:
    id: int
    method: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Response:
    id: int
    error: dict[str, Any] | None
    result: Any
    # The first bytes as received (set by Decoder), quoted when the id is unknown.
    raw: bytes = field(default=b"", compare=False, repr=False)


@dataclass(slots=True)
class Notification:
    method: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Malformed:
    """A request of the wrong shape that still carries a usable id.

    Only produced by a lenient decoder (a plugin's), so it can answer with an
    ``InvalidRequest`` error instead of hanging up (PROTOCOL.md §3.1).
    """

    id: int
    reason: str


Message = Request | Response | Notification | Malformed


def to_wire(message: Request | Response | Notification) -> list[Any]:
    """The array a message travels as (PROTOCOL.md §3)."""
    if isinstance(message, Response):
        return [RESPONSE, message.id, message.error, message.result]
    if isinstance(message, Request):
        return [REQUEST, message.id, message.method, [message.params]]
    return [NOTIFICATION, message.method, [message.params]]


def encode(message: Request | Response | Notification) -> bytes:
    """Encode one message to its wire bytes."""
    data: bytes = msgpack.packb(to_wire(message), use_bin_type=True)
    return data


class Encoder:
    """Encodes messages with one reused packer: cheaper than :func:`encode` per call.

    Not thread-safe; the endpoint uses it under its write lock.
    """

    def __init__(self) -> None:
        self._packer = msgpack.Packer(use_bin_type=True, autoreset=True)

    def encode(self, message: Request | Response | Notification) -> bytes:
        data: bytes = self._packer.pack(to_wire(message))
        return data


def _keep_ext(code: int, data: bytes) -> Any:
    """Keep an extension value so the whole message is refused and quoted.

    Raising here would abort the unpacker mid-message with only the
    extension's payload to quote; the value check below refuses it instead,
    once the message's bytes are known.
    """
    return msgpack.ExtType(code, data)


def _value_problem(value: Any) -> str | None:
    kind = type(value)
    if kind is msgpack.Timestamp:
        return "extension type -1 (timestamp) is not allowed"
    if kind is msgpack.ExtType:
        return f"extension type {value.code} is not allowed"
    return None


def unpack_problem(exc: Exception) -> str:
    """Why the unpacker gave up, in words (msgpack's own messages are often empty)."""
    if isinstance(exc, UnicodeDecodeError):
        return f"a string is not valid UTF-8 ({exc.reason} at byte {exc.start})"
    if isinstance(exc, msgpack.FormatError):
        return "a byte that starts no MessagePack value (0xc1 is never used)"
    if isinstance(exc, msgpack.StackError):
        return "nesting too deep"
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _check_values(obj: Any) -> str | None:
    """Return why ``obj`` breaks the value rules, or None.

    Iterative, because the unpacker allows nesting deeper than Python's
    recursion limit. Exact ``type() is`` checks keep it cheap on the hot path.
    """
    stack = [obj]
    pop, push = stack.pop, stack.append
    while stack:
        item = pop()
        if type(item) is dict:
            for key, value in item.items():
                if type(key) is not str:
                    return f"map key {key!r} is not a string"
                kind = type(value)
                if kind is dict or kind is list:
                    push(value)
                elif kind is msgpack.Timestamp or kind is msgpack.ExtType:
                    return _value_problem(value)
        else:
            for value in item:
                kind = type(value)
                if kind is dict or kind is list:
                    push(value)
                elif kind is msgpack.Timestamp or kind is msgpack.ExtType:
                    return _value_problem(value)
    return None


def _params(raw: Any) -> dict[str, Any] | None:
    if not isinstance(raw, list) or len(raw) > 1:
        return None
    if not raw:
        return {}
    first = raw[0]
    return first if isinstance(first, dict) else None


def _is_id(value: Any) -> bool:
    return type(value) is int and 0 <= value <= MAX_ID


def to_message(obj: Any, lenient: bool = False) -> Message:
    """Check the shape of one decoded object and build its message.

    With ``lenient``, a malformed request whose id is readable becomes a
    :class:`Malformed` message instead of a violation.
    """
    if type(obj) is not list:  # the unpacker makes exact lists (use_list=True)
        raise ProtocolViolation(f"a message must be an array, got {type(obj).__name__}")
    why = _check_values(obj)
    if why:
        raise ProtocolViolation(why)
    kind = obj[0] if obj else None
    if kind == REQUEST and len(obj) == 4:
        _, msgid, method, raw = obj
        params = _params(raw)
        if _is_id(msgid) and isinstance(method, str) and params is not None:
            return Request(msgid, method, params)
        reason = "malformed request: needs [0, uint32 id, str method, [map]]"
        if lenient and _is_id(msgid):
            return Malformed(msgid, reason)
        raise ProtocolViolation(reason)
    if kind == RESPONSE and len(obj) == 4:
        _, msgid, error, result = obj
        if _is_id(msgid) and (error is None or isinstance(error, dict)):
            return Response(msgid, error, result)
        raise ProtocolViolation("malformed response: needs [1, uint32 id, nil|map, result]")
    if kind == NOTIFICATION and len(obj) == 3:
        _, method, raw = obj
        params = _params(raw)
        if isinstance(method, str) and params is not None:
            return Notification(method, params)
        raise ProtocolViolation("malformed notification: needs [2, str method, [map]]")
    raise ProtocolViolation(f"unknown message shape: kind {kind!r} with {len(obj)} elements")


class Decoder:
    """Turns a byte stream into messages, strictly.

    Feed it whatever ``read()`` returned; it yields every complete message.
    It tracks how many bytes are buffered so a message over the size cap is
    refused as soon as it is known to be too big, not after it is buffered.
    """

    def __init__(self, max_size: int = MAX_MESSAGE_SIZE, lenient: bool = False) -> None:
        self.max_size = max_size
        self.lenient = lenient
        self._unpacker = msgpack.Unpacker(
            raw=False,
            strict_map_key=False,
            use_list=True,
            max_buffer_size=2 * max_size + 1024 * 1024,  # == self._limit
            ext_hook=_keep_ext,
        )
        self._limit = 2 * max_size + 1024 * 1024
        self._fed = 0
        self._consumed = 0
        self._head = b""

    @property
    def pending(self) -> int:
        """Bytes received that do not yet form a whole message."""
        return self._fed - self._consumed

    def feed(self, data: bytes) -> list[Message]:
        """Add bytes; return the messages they complete."""
        size = len(data)
        if self._fed - self._consumed + size > self._limit:
            raise ProtocolViolation("message exceeds the 16 MiB size cap", self._quote(data))
        unpacker = self._unpacker
        try:
            unpacker.feed(data)
        except msgpack.BufferFull:
            raise ProtocolViolation("message exceeds the 16 MiB size cap", self._quote(data)) from None
        self._fed += size
        out: list[Message] = []
        try:
            # Iterating ends without an OutOfData exception per feed.
            for obj in unpacker:
                start = self._consumed
                self._consumed = unpacker.tell()
                if self._consumed - start > self.max_size:
                    raise ProtocolViolation(
                        "message exceeds the 16 MiB size cap", self._quote(data, start)
                    )
                try:
                    message = to_message(obj, self.lenient)
                except ProtocolViolation as exc:
                    # From the message's first byte on: a stray "Hello" reads better whole.
                    raise ProtocolViolation(exc.reason, self._quote(data, start)) from None
                if type(message) is Response:
                    message.raw = self._quote(data, start, True)
                out.append(message)
        except ProtocolViolation:
            raise
        except Exception as exc:  # noqa: BLE001 - every unpack failure is a violation
            raise ProtocolViolation(
                f"invalid MessagePack: {unpack_problem(exc)}", self._quote(data)
            ) from None
        self._keep_head(data)
        if self._fed - self._consumed > self.max_size:
            raise ProtocolViolation("message exceeds the 16 MiB size cap", self._head)
        return out

    def _quote(self, data: bytes, start: int | None = None, whole: bool = False) -> bytes:
        """Up to 64 received bytes from stream offset ``start`` (default: the
        message in progress) on: what a violation quotes (PROTOCOL.md §3.1).

        With ``whole``, the message ends at the unpacker's position, and
        nothing after it is quoted.
        """
        start = self._consumed if start is None else start
        limit = min(_QUOTE_BYTES, self._consumed - start) if whole else _QUOTE_BYTES
        chunk_start = self._fed - len(data)
        if start >= chunk_start:
            return data[start - chunk_start : start - chunk_start + limit]
        # The message began in an earlier chunk; its first bytes were kept.
        return (self._head + data)[:limit]

    def _keep_head(self, data: bytes) -> None:
        """Remember the first bytes of the message still in progress, for quoting."""
        chunk_start = self._fed - len(data)
        if self._consumed >= chunk_start:
            self._head = data[self._consumed - chunk_start : self._consumed - chunk_start + _QUOTE_BYTES]
        elif len(self._head) < _QUOTE_BYTES:
            self._head = (self._head + data)[:_QUOTE_BYTES]

    def close(self) -> None:
        """Declare end of stream; a partial message left over is a violation."""
        if self.pending:
            raise ProtocolViolation(
                f"stream ended inside a message ({self.pending} bytes pending)", self._head
            )
