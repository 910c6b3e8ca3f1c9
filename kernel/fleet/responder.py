"""The http-01 responder: answers ``GET /.well-known/acme-challenge/<token>`` from a board.

``certkernel responder`` runs this on every host (fleet mode), or on one
host for the authenticators that publish through the kernel's board
(``[needs] challenge_board``). It faces the internet,
usually on port 80, so it serves nothing but tokens and every resource a
client can make it spend is bounded:

- one request per connection, read whole (request line and headers) into
  at most :data:`MAX_REQUEST` bytes, with at most :data:`MAX_HEADERS`
  header lines, within :data:`REQUEST_DEADLINE` seconds in all (a client
  that sends one byte at a time is cut off, not waited for);
- at most :data:`MAX_CLIENTS` connections served at once; the next one is
  closed at once rather than queued behind them;
- the target must be exactly the challenge prefix followed by a token of
  ACME's base64url alphabet: no percent-decoding, no query, no ``..``, no
  other path. Anything else is 404 (400 for a request that is not HTTP/1.x),
  and the board is asked only with a valid token, which it opens beneath its
  own directory without following links.

``GET`` and ``HEAD`` are served; any other method is 405. Every answer
closes the connection.

Only the standard library is imported: the responder starts quickly and
never loads the ACME stack.
"""

from __future__ import annotations

import logging
import selectors
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from certkernel import errors
from certkernel.fleet.challenge_shape import valid_token
from certkernel.interfaces import ChallengeBoard

logger = logging.getLogger(__name__)

PREFIX = "/.well-known/acme-challenge/"
MAX_REQUEST = 8192
MAX_HEADERS = 32
REQUEST_DEADLINE = 10.0
MAX_CLIENTS = 64
SHUTDOWN_WAIT = 5.0
LINGER = 1.0
MAX_DRAIN = 64 * 1024
_POLL = 0.25

_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
            503: "Service Unavailable"}


@dataclass(frozen=True)
class Answer:
    """What one request gets: a status, a text body, and whether to send the body."""

    status: int
    body: str
    head_only: bool = False

    def encode(self) -> bytes:
        payload = self.body.encode("ascii")
        lines = [f"HTTP/1.1 {self.status} {_REASONS[self.status]}",
                 "Content-Type: text/plain",
                 f"Content-Length: {len(payload)}",
                 "Cache-Control: no-store",
                 "Connection: close"]
        if self.status == 405:
            lines.append("Allow: GET, HEAD")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")
        return head if self.head_only else head + payload


BAD_REQUEST = Answer(400, "bad request\n")
NOT_FOUND = Answer(404, "not found\n")


def token_in(target: str) -> str | None:
    """The token a request target names, or None when it names anything else."""
    if not target.startswith(PREFIX):
        return None
    token = target[len(PREFIX):]
    return token if valid_token(token) else None


def answer(board: ChallengeBoard, head: bytes) -> tuple[Answer, str | None]:
    """The answer to one request head (request line and headers, without the blank line),
    and the token it named when it was one the board had."""
    lines = head.split(b"\n")
    if len(lines) - 1 > MAX_HEADERS:
        return BAD_REQUEST, None
    parts = lines[0].rstrip(b"\r").split(b" ")
    if len(parts) != 3 or parts[2] not in (b"HTTP/1.0", b"HTTP/1.1"):
        return BAD_REQUEST, None
    if any(b":" not in line for line in lines[1:]):
        return BAD_REQUEST, None
    method, target = parts[0], parts[1].decode("latin-1")
    if method not in (b"GET", b"HEAD"):
        return Answer(405, "method not allowed\n"), None
    head_only = method == b"HEAD"
    token = token_in(target)
    found = board.lookup(token) if token is not None else None
    if token is None or found is None:
        return Answer(404, NOT_FOUND.body, head_only), None
    return Answer(200, found, head_only), token


def read_head(conn: socket.socket, deadline: float) -> bytes | None:
    """The request head, or None when the client sent too much, too slowly, or nothing."""
    buf = b""
    while True:
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            end = buf.find(b"\n\n")
        if end >= 0:
            return buf[:end].replace(b"\r\n", b"\n")
        if len(buf) > MAX_REQUEST:
            return b""  # too long: answered 400 below
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        conn.settimeout(remaining)
        chunk = conn.recv(MAX_REQUEST + 4 - len(buf) if len(buf) < MAX_REQUEST else 1)
        if not chunk:
            return None
        buf += chunk


def _linger(conn: socket.socket) -> None:
    """Half-close, then drain what the client still sends, briefly and boundedly.

    Closing a socket with unread input makes the kernel send a reset, which
    can destroy the answer before the client reads it (a 400 for a request
    too long to read whole would never arrive).
    """
    conn.shutdown(socket.SHUT_WR)
    conn.settimeout(LINGER)
    drained = 0
    while drained < MAX_DRAIN:
        chunk = conn.recv(MAX_REQUEST)
        if not chunk:
            return
        drained += len(chunk)


class Responder:
    """Serves a board on already-bound listening sockets until :meth:`stop` (or a signal).

    Configure, then start: the constructor only records; :meth:`serve`
    blocks in the calling thread; each connection gets a thread of its own,
    at most :data:`MAX_CLIENTS` at once.
    """

    def __init__(self, board: ChallengeBoard, sockets: Sequence[socket.socket], *,
                 deadline: float = REQUEST_DEADLINE, max_clients: int = MAX_CLIENTS) -> None:
        self.board = board
        self.sockets = list(sockets)
        self.deadline = deadline
        self._slots = threading.BoundedSemaphore(max_clients)
        self._stop = threading.Event()
        self._workers: set[threading.Thread] = set()
        self._lock = threading.Lock()

    def stop(self) -> None:
        """Ask :meth:`serve` to return (safe from a signal handler or another thread)."""
        self._stop.set()

    def serve(self) -> None:
        """Accept until stopped; then close the listeners and wait (bounded) for the workers."""
        with selectors.DefaultSelector() as sel:
            for sock in self.sockets:
                sock.setblocking(False)
                sel.register(sock, selectors.EVENT_READ)
            while not self._stop.is_set():
                for key, _ in sel.select(_POLL):
                    self._accept(key.fileobj)  # type: ignore[arg-type]
        for sock in self.sockets:
            sock.close()
        end = time.monotonic() + SHUTDOWN_WAIT
        with self._lock:
            workers = list(self._workers)
        for worker in workers:
            worker.join(max(0.0, end - time.monotonic()))

    def _accept(self, listener: socket.socket) -> None:
        try:
            conn, peer = listener.accept()
        except (BlockingIOError, InterruptedError, ConnectionAbortedError):
            return
        if not self._slots.acquire(blocking=False):
            logger.warning("responder: %d connections already open; closing one from %s",
                           MAX_CLIENTS, peer[0])
            conn.close()
            return
        worker = threading.Thread(target=self._handle, args=(conn, str(peer[0])), daemon=True)
        with self._lock:
            self._workers.add(worker)
        worker.start()

    def _handle(self, conn: socket.socket, peer: str) -> None:
        try:
            with conn:
                conn.setblocking(True)
                head = read_head(conn, time.monotonic() + self.deadline)
                if head is None:
                    return
                try:
                    reply, token = answer(self.board, head) if head else (BAD_REQUEST, None)
                except errors.StorageError as exc:  # the board is unreachable: say so, briefly
                    logger.warning("responder: cannot read the challenge board: %s", exc)
                    reply, token = Answer(503, "challenge board unavailable\n"), None
                conn.settimeout(self.deadline)
                conn.sendall(reply.encode())
                _linger(conn)
                if token is not None:
                    logger.info("responder: answered token %s for %s", token, peer)
                else:
                    logger.debug("responder: %d for %s", reply.status, peer)
        except OSError as exc:
            logger.debug("responder: connection from %s ended: %s", peer, exc)
        except Exception:
            logger.exception("responder: unexpected failure answering %s", peer)
        finally:
            self._slots.release()
            with self._lock:
                self._workers.discard(threading.current_thread())
