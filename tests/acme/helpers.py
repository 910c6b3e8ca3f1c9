"""Test-side authenticators and key/CSR helpers for the ACME engine tests.

The authenticators are real: dns-01 records go into pebble-challtestsrv's DNS
(which Pebble queries) and http-01 responses are served by a real HTTP server
on the port Pebble validates. They record every call so tests can check that
perform/cleanup ran exactly as promised.
"""

from __future__ import annotations

import http.server
from collections.abc import Iterator
from contextlib import contextmanager

from certkernel.protocol.messages import Challenge
from tests.infra.httpd import serving
from tests.infra.pebble import Pebble


class DnsAuthenticator:
    """dns-01 through challtestsrv; ``wrong`` names get a wrong TXT value."""

    def __init__(self, pebble: Pebble, wrong: frozenset[str] = frozenset(),
                 fail_perform: bool = False) -> None:
        self.pebble = pebble
        self.wrong = wrong
        self.fail_perform = fail_perform
        self.performed: list[list[Challenge]] = []
        self.cleaned: list[list[Challenge]] = []

    def get_chall_pref(self, domain: str) -> list[str]:
        return ["dns-01"]

    def perform(self, challenges: list[Challenge]) -> None:
        self.performed.append(list(challenges))
        if self.fail_perform:
            raise RuntimeError("perform failed on purpose")
        for chall in challenges:
            value = "wrong-value" if chall.identifier in self.wrong else chall.validation
            self.pebble.set_txt(chall.validation_domain_name, value)

    def cleanup(self, challenges: list[Challenge]) -> None:
        self.cleaned.append(list(challenges))
        for chall in challenges:
            self.pebble.clear_txt(chall.validation_domain_name)


class HttpAuthenticator:
    """http-01 served by a real HTTP server (see :func:`http01_server`)."""

    def __init__(self, responses: dict[str, str]) -> None:
        self.responses = responses
        self.performed: list[list[Challenge]] = []
        self.cleaned: list[list[Challenge]] = []

    def get_chall_pref(self, domain: str) -> list[str]:
        return ["http-01", "dns-01"]

    def perform(self, challenges: list[Challenge]) -> None:
        self.performed.append(list(challenges))
        for chall in challenges:
            self.responses[chall.uri_path] = chall.validation

    def cleanup(self, challenges: list[Challenge]) -> None:
        self.cleaned.append(list(challenges))
        for chall in challenges:
            self.responses.pop(chall.uri_path, None)


@contextmanager
def http01_server(port: int) -> Iterator[dict[str, str]]:
    """Serve path -> body from a dict on 127.0.0.1:port until the block ends."""
    responses: dict[str, str] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (stdlib name)
            body = responses.get(self.path)
            self.send_response(200 if body is not None else 404)
            self.end_headers()
            if body is not None:
                self.wfile.write(body.encode())

        def log_message(self, *args: object) -> None:
            pass

    with serving(http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)):
        yield responses
