"""A minimal HTTP server that answers http-01 requests and nothing else.

It serves only ``GET``/``HEAD /.well-known/acme-challenge/<token>`` for
tokens currently published, with the key authorization as the body; any
other path or method gets 404/405. One accept loop watches all listening
sockets plus a wake-up pipe, so ``stop()`` returns at once instead of
waiting for a poll interval (this sits on the issuance critical path).
"""

from __future__ import annotations

import os
import selectors
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler
from typing import Any

CHALLENGE_PREFIX = "/.well-known/acme-challenge/"
CONNECTION_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0


class TokenTable:
    """token -> key authorization, shared between the plugin and the server threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[str, str] = {}

    def add(self, token: str, key_authorization: str) -> None:
        with self._lock:
            self._tokens[token] = key_authorization

    def remove(self, token: str) -> None:
        with self._lock:
            self._tokens.pop(token, None)

    def get(self, token: str) -> str | None:
        with self._lock:
            return self._tokens.get(token)

    def __len__(self) -> int:
        with self._lock:
            return len(self._tokens)


class _Handler(BaseHTTPRequestHandler):
    """Answers one connection; ``server`` is the ChallengeServer."""

    server_version = "certkernel-standalone"
    sys_version = ""
    timeout = CONNECTION_TIMEOUT
    protocol_version = "HTTP/1.0"

    def _respond(self, send_body: bool) -> None:
        tokens: TokenTable = self.server.tokens  # type: ignore[attr-defined]
        path = self.path.split("?", 1)[0]
        body: bytes
        if path.startswith(CHALLENGE_PREFIX) and "/" not in path[len(CHALLENGE_PREFIX):]:
            value = tokens.get(path[len(CHALLENGE_PREFIX):])
        else:
            value = None
        if value is None:
            status, body = 404, b"Not found\n"
        else:
            status, body = 200, value.encode("ascii")
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if send_body:
            self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._respond(send_body=True)

    def do_HEAD(self) -> None:  # noqa: N802
        self._respond(send_body=False)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        sys.stderr.write(f"standalone: {self.client_address[0]} {format % args}\n")


class ChallengeServer:
    """Serves a TokenTable on listening sockets from a background thread."""

    def __init__(self, sockets: list[socket.socket], tokens: TokenTable) -> None:
        self.sockets = sockets
        self.tokens = tokens
        self._wake_r, self._wake_w = os.pipe()
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self.running:
            return
        self._stopping.clear()
        for sock in self.sockets:
            sock.setblocking(False)
        self._thread = threading.Thread(target=self._loop, name="standalone-http01", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop accepting; connections being answered finish on their own threads."""
        if self._thread is None:
            return
        self._stopping.set()
        os.write(self._wake_w, b"x")
        self._thread.join(STOP_TIMEOUT)
        self._thread = None

    def close(self) -> None:
        """Stop, then close the sockets and the wake-up pipe."""
        self.stop()
        for sock in self.sockets:
            sock.close()
        os.close(self._wake_r)
        os.close(self._wake_w)

    def _loop(self) -> None:
        os.set_blocking(self._wake_r, False)
        with selectors.DefaultSelector() as sel:
            sel.register(self._wake_r, selectors.EVENT_READ)
            for sock in self.sockets:
                sel.register(sock, selectors.EVENT_READ)
            while not self._stopping.is_set():
                for key, _ in sel.select():
                    if key.fileobj == self._wake_r:
                        try:
                            os.read(self._wake_r, 64)
                        except BlockingIOError:
                            pass
                        continue
                    self._accept(key.fileobj)  # type: ignore[arg-type]

    def _accept(self, sock: socket.socket) -> None:
        try:
            conn, addr = sock.accept()
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            sys.stderr.write(f"standalone: accept failed: {exc}\n")
            return
        conn.setblocking(True)
        conn.settimeout(CONNECTION_TIMEOUT)
        threading.Thread(
            target=self._serve_one, args=(conn, addr), name="standalone-conn", daemon=True
        ).start()

    def _serve_one(self, conn: socket.socket, addr: Any) -> None:
        try:
            _Handler(conn, addr, self)  # type: ignore[arg-type]  # duck-typed: only .tokens is used
        except OSError as exc:
            sys.stderr.write(f"standalone: connection from {addr[0]} failed: {exc}\n")
        finally:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            conn.close()
