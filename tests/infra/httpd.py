"""Real HTTP servers on Pebble's http-01 port, for tests that validate over TCP.

Pebble fetches ``/.well-known/acme-challenge/<token>`` from 127.0.0.1 on its
http-01 port (challtestsrv resolves every name there), so a test that wants a
real http-01 validation runs one of these for the length of a ``with`` block.
"""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

STOP_TIMEOUT = 5.0


@contextmanager
def serving(server: http.server.ThreadingHTTPServer) -> Iterator[None]:
    """Run ``server`` in a daemon thread until the block ends, then close its socket.

    The short poll interval keeps shutdown quick; the join is bounded.
    """
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
        thread.join(STOP_TIMEOUT)


class _QuietFiles(http.server.SimpleHTTPRequestHandler):
    """Static files without a log line per request on stderr."""

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@contextmanager
def static_site(root: Path, port: int) -> Iterator[Path]:
    """Serve the directory ``root`` (created here) on 127.0.0.1:``port``; yields ``root``.

    What a webroot user has: whatever an authenticator writes under
    ``root/.well-known/acme-challenge`` is what the CA reads.
    """
    root.mkdir()
    handler = functools.partial(_QuietFiles, directory=str(root))
    with serving(http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)):
        yield root
