"""Real HTTP servers on loopback, run in a thread: webroots and local API fakes.

Pebble fetches ``/.well-known/acme-challenge/<token>`` from 127.0.0.1 on its
http-01 port (challtestsrv resolves every name there), so a test that wants a
real http-01 validation runs one of these for the length of a ``with`` block;
fakes of provider APIs bind port 0 and keep a :class:`Running` until stopped.
"""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

STOP_TIMEOUT = 5.0


class Running:
    """``server`` answering in a daemon thread from construction until :meth:`stop`.

    For fakes with a start/stop life; the short poll interval keeps shutdown
    quick and the join is bounded.
    """

    def __init__(self, server: http.server.ThreadingHTTPServer) -> None:
        self.server = server
        self.port: int = server.server_address[1]
        self._thread = threading.Thread(target=server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(STOP_TIMEOUT)


@contextmanager
def serving(server: http.server.ThreadingHTTPServer) -> Iterator[None]:
    """Run ``server`` in a daemon thread until the block ends, then close its socket."""
    running = Running(server)
    try:
        yield
    finally:
        running.stop()


def request_body(handler: http.server.BaseHTTPRequestHandler) -> bytes:
    """The request's body as sent (empty without a Content-Length)."""
    length = int(handler.headers.get("Content-Length") or 0)
    return handler.rfile.read(length) if length else b""


def reply(handler: http.server.BaseHTTPRequestHandler, status: int, data: bytes,
          content_type: str, headers: dict[str, str] | None = None) -> None:
    """Send one complete response: status, Content-Type, extra headers, a sized body."""
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


class _QuietFiles(http.server.SimpleHTTPRequestHandler):
    """Static files without a log line per request on stderr."""

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@contextmanager
def static_site(root: Path, port: int) -> Iterator[Path]:
    """Serve the directory ``root`` (made if missing) on 127.0.0.1:``port``; yields ``root``.

    What a webroot user has: whatever an authenticator writes under
    ``root/.well-known/acme-challenge`` is what the CA reads.
    """
    root.mkdir(exist_ok=True)
    handler = functools.partial(_QuietFiles, directory=str(root))
    with serving(http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)):
        yield root


@dataclass(frozen=True)
class Served:
    """One file a virtual host answered: the name asked for, the file's name, its folder."""

    host: str
    name: str
    folder: Path


class _ByHost(http.server.BaseHTTPRequestHandler):
    """Files from the folders of the requested host (Host header), first match wins; else 404."""

    sites: dict[str, list[Path]] = {}
    served: list[Served] = []

    def do_GET(self) -> None:  # noqa: N802 (the http.server API)
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0].lower()
        rel = self.path.split("?", 1)[0].lstrip("/")
        if ".." in rel.split("/"):
            reply(self, 404, b"", "text/plain")
            return
        for folder in self.sites.get(host, []):
            file = folder / rel
            if file.is_file():
                data = file.read_bytes()
                self.served.append(Served(host, file.name, folder))
                reply(self, 200, data, "application/octet-stream")
                return
        reply(self, 404, b"", "text/plain")

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@contextmanager
def virtual_hosts(port: int, sites: dict[str, Path | list[Path]]) -> Iterator[list[Served]]:
    """Serve each name from its own folder(s) on 127.0.0.1:``port`` (Pebble's http-01 port).

    A name may have several folders (two lineages of one name with different
    web roots); the yielded list records which folder answered each request.
    """
    folders = {host: [value] if isinstance(value, Path) else list(value)
               for host, value in sites.items()}
    for each in folders.values():
        for folder in each:
            folder.mkdir(parents=True, exist_ok=True)
    served: list[Served] = []
    handler = type("Sites", (_ByHost,), {"sites": folders, "served": served})
    with serving(http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)):
        yield served
